using EchoFace.Access;
using EchoFace.Daemon;
using EchoFace.Face;
using EchoFace.Voice;
using Microsoft.AspNetCore.Http;

namespace EchoFace.Api;

/// <summary>
/// POST /v1/recognize: every face of the image, as before, and the one-shot answer (OneShotRecognizer) from the image and/or a
/// recording, with the claimed identity (`id`) and the number of recommendations (`topK`) as form fields.
/// </summary>
internal static class RecognizeEndpoint
{
    public static async Task<IResult> RecognizeAsync(RecognitionService api, ApiStats stats, HttpContext http, CancellationToken cancel)
    {
        var form = await ApiInput.FormAsync(http.Request, cancel);
        var topK = 5;
        if (ApiInput.Field(form, "topK") is { } k && !int.TryParse(k, out topK)) throw new ApiProblem(400, $"topK must be a whole number, not '{k}'");
        var claimed = ApiInput.Field(form, "id");
        var images = await ApiInput.FilesAsync(http.Request, form, ["image"], "image", api.Config.Media.MaxBytes, cancel);
        var audio = form is null ? [] : await ApiInput.FilesAsync(http.Request, form, ["audio"], "audio", api.Config.Voice.Limits.MaxBytes, cancel);
        if (images.Count == 0 && audio.Count == 0)
            throw form is null && !string.IsNullOrEmpty(http.Request.ContentType)
                ? new ApiProblem(415, $"content type {http.Request.ContentType} is not an image: send image/jpeg, image/png, ... " +
                    "or multipart with image and/or audio")
                : new ApiProblem(400, "send an image (a raw image body or a multipart part named image) and/or a multipart part named audio");

        // decoded inside the pipeline's slot: requests waiting for one hold their compressed bytes only, not a decoded frame each
        var (image, found) = images.Count == 0 ? (null, null) : await api.WithPipelineAsync(p =>
        {
            var decoded = ApiInput.Image(images[0], api.Config.Media);
            return ((Media.RgbImage?)decoded, (IReadOnlyList<FaceResult>?)p.Analyze(decoded));
        }, cancel);
        var (heard, why) = audio.Count > 0 ? Listen(api, audio[0]) : (null, null);
        var matched = found is null ? [] : api.Gallery(() => api.Faces.MatchFaces(found));
        var answer = api.Gallery(() => api.OneShot.Recognize(new OneShotRecognizer.Request(found, heard, why, claimed, topK)));
        stats.Faces(matched.Count(m => m.IdentityId is not null), matched.Count(m => m.IdentityId is null));
        return Results.Json(new
        {
            width = image?.Width, height = image?.Height, threshold = api.Faces.Match.IdentifyThreshold, model = api.Faces.ModelVersion,
            faces = matched.Select(m => new
            {
                box = ApiEndpoints.Box(m.Face.Box), detectionScore = m.Face.DetectionScore, identity = m.IdentityId, name = m.DisplayName,
                known = m.IdentityId is not null, score = m.Score, liveness = m.Face.Liveness,
                live = m.Face.Liveness >= api.Config.Access.LivenessThreshold,
                quality = ApiEndpoints.Quality(m.Face.Quality), threshold = m.Match?.Threshold, method = m.Match?.Method, scores = m.Match?.PerModel,
                candidates = m.Candidates.Select(c => new { identity = c.IdentityId, score = c.Score }),
            }),
            answer,
        });
    }

    /// <summary>The recording's voice, or why it has none (too little speech, silence, no speaker models): the face may still decide.</summary>
    private static (VoiceResult?, string?) Listen(RecognitionService api, Upload upload)
    {
        var clip = ApiInput.Audio(upload, api.Config.Voice.Limits); // not audio at all is a bad request, not a failed modality
        try { return (api.AnalyzeVoice(clip, upload.Name), null); }
        catch (BadInputException e) { return (null, e.Message); }
    }
}
