using System.CommandLine;
using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Voice;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>recognize: the one-shot flow of the source documents: who is this (face, voice or both), and their recommendations.</summary>
internal static class RecognizeCommand
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var image = new Option<string?>("--image") { Description = "photo of the person (its main face, the largest in focus, is used)" };
        var audio = new Option<string?>("--audio") { Description = "recording of the person speaking" };
        var id = new Option<string?>("--id") { Description = "claimed identity: 1:1 against them instead of a search" };
        var topK = new Option<int>("--top-k") { Description = "recommendations for a recognised, opted-in customer", DefaultValueFactory = _ => 5 };
        var cmd = new Command("recognize", "Who is this, from a photo, a recording or both (each score shown, one modality may fail), " +
            "and the top-K products of a recognised, opted-in customer") { image, audio, id, topK };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var (imagePath, audioPath) = (p.GetValue(image), p.GetValue(audio));
            if (imagePath is null && audioPath is null) throw new BadInputException("give --image, --audio or both");
            IReadOnlyList<FaceResult>? faces = imagePath is null ? null : ctx.Pipeline.Analyze(ctx.Decode(imagePath));
            var (heard, why) = audioPath is null ? (null, null) : Listen(ctx, audioPath);
            var answer = ctx.OneShot.Recognize(new OneShotRecognizer.Request(faces, heard, why, p.GetValue(id), p.GetValue(topK)));
            if (ctx.Json) { o.Json(answer); return EchoFaceCli.Ok; }
            Print(o, answer);
            return EchoFaceCli.Ok;
        });
    }

    /// <summary>The recording's voice, or why there is none (too little speech, no speaker models): the face may still decide.</summary>
    private static (VoiceResult?, string?) Listen(CliContext ctx, string path)
    {
        var clip = ctx.DecodeAudio(path); // a file that is not audio is an error, not a modality that failed
        if (ctx.LoadedVoice.Pipeline is not { } pipeline) return (null, "the speaker models are not loaded");
        try { return (pipeline.Analyze(clip, path), null); }
        catch (BadInputException e) { return (null, e.Message); }
    }

    private static void Print(Output o, OneShotAnswer a)
    {
        var verdict = a.Accepted ? $"[green]{Output.Esc(a.IdentityId ?? "?")}[/] ({Output.Esc(a.DisplayName ?? "")})"
            : a.IdentityId is { } claimed ? $"[red]not {Output.Esc(claimed)}[/]" : "[red]unknown[/]";
        o.Line($"{verdict}, decided by {Output.Esc(a.DecidedBy)}" +
            (a.FusedScore is { } f ? FormattableString.Invariant($": fused {f:F2} (threshold {a.FusedThreshold:F2})") : ""));
        var table = new Table().AddColumns("modality", "identity", "score", "threshold", "accepted", "note");
        foreach (var m in new[] { a.Face, a.Voice }.Where(m => m is not null))
        {
            var answered = m!.Failure is null;
            table.AddRow(m.Modality, Output.Esc(m.IdentityId ?? "-"), answered ? $"{m.Score:F3}" : "-", answered ? $"{m.Threshold:F3}" : "-",
                answered ? (m.Accepted ? "yes" : "no") : "-", Output.Esc(m.Failure ?? m.Method ?? ""));
        }
        o.Console.Write(table);
        if (a.Recommendations.Count == 0) o.Line($"recommendations: none ({Output.Esc(a.RecommendationSource)})");
        else o.Line($"recommendations for customer {Output.Esc(a.Customer!)} ({Output.Esc(a.RecommendationSource)}): " +
            string.Join(", ", a.Recommendations.Select(i => Output.Esc(i.Item))));
    }
}
