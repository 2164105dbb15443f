using EchoFace.Daemon;
using EchoFace.Recognition;
using EchoFace.Storage;
using Microsoft.AspNetCore.Http;

namespace EchoFace.Api;

/// <summary>POST /v1/people: enrol (or extend) a person from `image`, `clip` and `audio` parts, as `enroll` and `voice enroll` do.</summary>
internal static class RegisterEndpoint
{
    public static async Task<IResult> RegisterAsync(RecognitionService api, HttpContext http, CancellationToken cancel)
    {
        var form = await ApiInput.FormAsync(http.Request, cancel)
            ?? throw new ApiProblem(415, "send multipart/form-data with id and image, clip and/or audio parts");
        var id = ApiInput.Field(form, "id") ?? throw new ApiProblem(400, "the id field is required");
        FaceRecognizer.ValidateId(id);
        int? faceIndex = ApiInput.Field(form, "face") is { } f
            ? int.TryParse(f, out var n) ? n : throw new ApiProblem(400, $"face must be a number, not '{f}'")
            : null;
        var images = await ApiInput.FilesAsync(http.Request, form, ["image", "images"], "image", api.Config.Media.MaxBytes, cancel);
        var audio = await ApiInput.FilesAsync(http.Request, form, ["audio"], "audio", api.Config.Voice.Limits.MaxBytes, cancel);
        // clips are as large as recordings may be
        var clips = await ApiInput.FilesAsync(http.Request, form, ["clip"], "video", api.Config.Voice.Limits.MaxBytes, cancel);
        if (images.Count + audio.Count + clips.Count == 0) throw new ApiProblem(400, "send at least one image, clip or audio part");
        var decoded = images.Select(i => (i.Name, Image: ApiInput.Image(i, api.Config.Media))).ToList();
        var voices = audio.Select(a => (a.Name, Result: api.AnalyzeVoice(ApiInput.Audio(a, api.Config.Voice.Limits), a.Name))).ToList();
        var key = (ApiKeyRecord)http.Items[ApiEndpoints.KeyItem]!;
        var request = new EnrolRequest(id, ApiInput.Field(form, "name"), ApiInput.Field(form, "group"))
        {
            FaceIndex = faceIndex, Voices = voices, Via = new { via = "http", key = key.Id },
        };
        var done = await ApiInput.WithClipsAsync(clips, saved => api.EnrolAsync(request, decoded, cancel, saved));
        var result = new
        {
            id, name = done.DisplayName, group = done.Group, faceTemplates = done.FaceTemplateIds.Count,
            voiceTemplates = done.VoiceTemplateIds.Count,
            qualities = done.Qualities, speechSeconds = done.SpeechSeconds.Select(s => Math.Round(s, 2)),
        };
        return Results.Json(result, statusCode: 201);
    }
}
