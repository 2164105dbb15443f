using System.CommandLine;
using EchoFace.Evaluation;
using Spectre.Console;
using static EchoFace.Cli.Commands.EvalCommands;

namespace EchoFace.Cli.Commands;

/// <summary>eval liveness --video: each video a presence, decided as the door does, and the presence cues beside the model.</summary>
internal static class EvalLivenessVideos
{
    private static float? Only(LivenessSample s) => s.Score(LivenessSample.Only);

    public static int Run(CliContext ctx, Output o, string root, float t, string? report)
    {
        var videos = LivenessEvaluation.ListVideos(root);
        var pipeline = ctx.Pipeline;
        using var eyes = new Face.EyeStateScorer(ctx.Factory.Create("eye_blink"));
        var presences = o.Progress(!ctx.Json, "scoring presences", videos.Count,
            tick => LivenessEvaluation.RunVideos(pipeline, videos, new InlineProgress<LivenessPresence>(tick), eyes));
        var scored = presences.Where(x => x.PresenceScore is not null).ToList();
        // per frame: every frame of every video pooled, as a single-frame decision would see them
        var frames = scored.SelectMany(x => x.FrameScores.Select(f => LivenessSample.Of(x.Path, x.Live, x.Attack, f))).ToList();
        var perPresence = scored.Select(x => LivenessSample.Of(x.Path, x.Live, x.Attack, x.PresenceScore)).ToList();
        PadRates AtT(List<LivenessSample> s) => LivenessEvaluation.At(s, Only, t);
        var summary = new
        {
            folder = Path.GetFullPath(root), threshold = t, channels = pipeline.Liveness.Channels.ToString().ToLowerInvariant(),
            live = presences.Count(x => x.Live), spoof = presences.Count(x => !x.Live), frames = frames.Count,
            failures = presences.Where(x => x.Failure is not null).Select(x => new { path = x.Path, reason = x.Failure }).ToList(),
            perFrame = new { AtT(frames).Apcer, AtT(frames).Bpcer, AtT(frames).Acer },
            perPresence = new { AtT(perPresence).Apcer, AtT(perPresence).Bpcer, AtT(perPresence).Acer },
            cues = Cues(scored, t),
            presences = presences.Select(x => new
            {
                path = x.Path, live = x.Live, attack = x.Attack, score = x.PresenceScore, frames = x.FrameScores.Length,
                calledLive = x.PresenceScore >= t, cues = x.Cues,
            }),
        };
        if (report is not null && perPresence.Any(x => x.Live) && perPresence.Any(x => !x.Live) && frames.Any(x => x.Live) && frames.Any(x => !x.Live))
            WriteReport(report, summary, "EchoFace liveness per presence and per frame (DET)",
                [("per presence", LivenessEvaluation.Metrics(perPresence, Only)), ("per frame", LivenessEvaluation.Metrics(frames, Only))]);
        if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
        var table = new Table().AddColumns("measure", "per frame", "per presence");
        table.AddRow("live / spoof", $"{frames.Count(x => x.Live)} / {frames.Count(x => !x.Live)} frames", $"{summary.live} / {summary.spoof} videos");
        static string Rates(double a, double b, double c) => $"{a * 100:F2}% / {b * 100:F2}% / {c * 100:F2}%";
        table.AddRow($"APCER / BPCER / ACER at {t:F3}", Rates(summary.perFrame.Apcer, summary.perFrame.Bpcer, summary.perFrame.Acer),
            Rates(summary.perPresence.Apcer, summary.perPresence.Bpcer, summary.perPresence.Acer));
        o.Console.Write(table);
        var cues = new Table().Title("per presence, each cue alone and with the liveness score")
            .AddColumns("cue", "live median", "spoof median", "EER alone", "rule", "APCER", "BPCER");
        foreach (var c in summary.cues)
            cues.AddRow(c.Cue, $"{c.LiveMedian:F3}", $"{c.SpoofMedian:F3}", c.Eer is { } e ? $"{e * 100:F1}%" : "", c.Rule,
                $"{c.Apcer * 100:F1}%", $"{c.Bpcer * 100:F1}%");
        o.Console.Write(cues);
        foreach (var f in summary.failures) o.Line($"  [yellow]not scored[/] {Output.Esc(f.path)}: {Output.Esc(f.reason)}");
        return EchoFaceCli.Ok;
    }

    private sealed record CueRow(string Cue, double? LiveMedian, double? SpoofMedian, double? Eer, string Rule, double Apcer, double Bpcer);

    /// <summary>
    /// The presence cues measured alone (their EER as a score, higher meaning live) and as a rule: a blink (eye swing at least
    /// <see cref="BlinkSwing"/>) required beside fr_liveness, and landmark motion.
    /// </summary>
    private static List<CueRow> Cues(List<LivenessPresence> presences, float t)
    {
        var rows = new List<CueRow>();
        var withCues = presences.Where(p => p.Cues is not null).ToList();
        if (!withCues.Any(p => p.Live) || !withCues.Any(p => !p.Live)) return rows;
        (double Apcer, double Bpcer) Rates(Func<LivenessPresence, bool> callsLive) =>
            (withCues.Count(p => !p.Live && callsLive(p)) / (double)withCues.Count(p => !p.Live),
                withCues.Count(p => p.Live && !callsLive(p)) / (double)withCues.Count(p => p.Live));
        double? Median(bool live, Func<LivenessPresence, float?> cue) => AccessMedian(withCues.Where(p => p.Live == live).Select(cue).OfType<float>());
        double Eer(Func<LivenessPresence, float?> cue) =>
            LivenessEvaluation.Metrics(withCues.Select(p => LivenessSample.Of(p.Path, p.Live, p.Attack, cue(p))), Only).Eer;

        var model = Rates(p => p.PresenceScore >= t);
        rows.Add(new("liveness (median of the better half)", Median(true, p => p.PresenceScore), Median(false, p => p.PresenceScore), Eer(p => p.PresenceScore),
            $">= {t:F2}", model.Apcer, model.Bpcer));
        if (withCues.Any(p => p.Cues!.EyeSwing is not null))
        {
            var blink = Rates(p => p.Cues!.EyeSwing >= BlinkSwing);
            rows.Add(new("blink (eye-blink-cnn swing)", Median(true, p => p.Cues!.EyeSwing), Median(false, p => p.Cues!.EyeSwing), Eer(p => p.Cues!.EyeSwing),
                $"swing >= {BlinkSwing:F1}", blink.Apcer, blink.Bpcer));
            var both = Rates(p => p.PresenceScore >= t && p.Cues!.EyeSwing >= BlinkSwing);
            rows.Add(new("liveness and blink", null, null, null, "both", both.Apcer, both.Bpcer));
        }
        var still = Rates(p => p.Cues!.Motion >= MinMotion);
        rows.Add(new("head motion (landmarks, share of eye distance per frame)", Median(true, p => p.Cues!.Motion), Median(false, p => p.Cues!.Motion),
            Eer(p => p.Cues!.Motion), $">= {MinMotion:F3}", still.Apcer, still.Bpcer));
        // the two cues with no rule of their own yet: alone (EER) and beside the model at the threshold that keeps every live presence
        foreach (var (name, detail, cue) in new (string, string, Func<LivenessPresence, float?>)[]
                 {
                     ("non-planar motion", "share an affine map cannot explain", p => p.Cues!.NonPlanar),
                     ("texture detail", "Laplacian / intensity variance", p => p.Cues!.Detail),
                 })
        {
            if (!withCues.Any(p => cue(p) is not null)) continue;
            var floor = withCues.Where(p => p.Live).Select(cue).OfType<float>().DefaultIfEmpty(0).Min();
            var alone = Rates(p => cue(p) >= floor);
            rows.Add(new($"{name} ({detail})", Median(true, cue), Median(false, cue), Eer(cue), $">= {floor:F3} (lowest live)", alone.Apcer, alone.Bpcer));
            var both = Rates(p => p.PresenceScore >= t && cue(p) >= floor);
            rows.Add(new($"liveness and {name}", null, null, null, "both", both.Apcer, both.Bpcer));
        }
        return rows;
    }

    private const float BlinkSwing = 0.6f, MinMotion = 0.005f;

    private static double? AccessMedian(IEnumerable<float> values) => Access.AccessPolicy.Median(values);
}
