using EchoFace.Api;
using EchoFace.Daemon;
using EchoFace.Recognition;
using Microsoft.AspNetCore.Http;

namespace EchoFace.WebConsole;

/// <summary>Enrolment from the console's forms: the API's upload checks (type, first bytes, size), then every check `enroll` makes.</summary>
internal static class ConsoleEnrolment
{
    /// <summary>Enrols (or extends) from the photos and recordings of a multipart form; what was stored, in words.</summary>
    public static async Task<string> EnrolAsync(RecognitionService engine, HttpRequest request, EnrolRequest enrol, CancellationToken cancel)
    {
        var form = await ApiInput.FormAsync(request, cancel);
        var photos = await ApiInput.FilesAsync(request, form, ["photos"], "image", engine.Config.Media.MaxBytes, cancel);
        var recordings = await ApiInput.FilesAsync(request, form, ["recordings"], "audio", engine.Config.Voice.Limits.MaxBytes, cancel);
        // clips are as large as recordings may be (Voice.Limits.MaxBytes)
        var clips = await ApiInput.FilesAsync(request, form, ["clips"], "video", engine.Config.Voice.Limits.MaxBytes, cancel);
        photos.RemoveAll(p => p.Bytes.Length == 0); // a file input left empty still sends a part
        recordings.RemoveAll(p => p.Bytes.Length == 0);
        clips.RemoveAll(p => p.Bytes.Length == 0);
        if (photos.Count == 0 && recordings.Count == 0 && clips.Count == 0)
            throw new BadInputException("choose at least one photo, clip or recording");
        var images = photos.Select(p => (p.Name, ApiInput.Image(p, engine.Config.Media))).ToList();
        var voices = recordings.Select(a => (a.Name, engine.AnalyzeVoice(ApiInput.Audio(a, engine.Config.Voice.Limits), a.Name))).ToList();
        return Said(await ApiInput.WithClipsAsync(clips, saved => engine.EnrolAsync(enrol with { Voices = voices }, images, cancel, saved)));
    }

    /// <summary>Enrols (or extends) from a decision snapshot's face, as the camera saw it.</summary>
    public static async Task<string> FromSnapshotAsync(RecognitionService engine, byte[] face, string snapshot, EnrolRequest enrol,
        CancellationToken cancel)
    {
        var image = Media.ImageDecoder.Decode(face, $"snapshot {snapshot}", engine.Config.Media);
        return Said(await engine.EnrolAsync(enrol, [($"snapshot {snapshot}", image)], cancel));
    }

    private static string Said(EnrolOutcome done) =>
        $"{done.DisplayName} ({done.IdentityId}) enrolled: {done.FaceTemplateIds.Count} face and {done.VoiceTemplateIds.Count} voice templates added";
}
