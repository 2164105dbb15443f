using System.CommandLine;
using EchoFace.Evaluation;
using EchoFace.Face;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;
using static EchoFace.Cli.Commands.EvalCommands;

namespace EchoFace.Cli.Commands;

/// <summary>eval liveness: each liveness opinion (models, screen cues) and their fusion, per attack type; --fit fits the fusion weights.</summary>
internal static class EvalLivenessCommand
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var folders = new Argument<string[]>("folder")
        {
            Description = "folders with live/ and spoof/ sub-folders of images (a manifest.csv with relpath, attack_type, split is used when " +
                          "present)",
            Arity = ArgumentArity.OneOrMore,
        };
        var split = new Option<string?>("--split") { Description = "only the manifest rows of this split (e.g. tune on train, report on test)" };
        var threshold = new Option<float?>("--threshold")
        {
            Description = "live threshold to report APCER/BPCER/ACER at (default Access.LivenessThreshold)",
        };
        var report = new Option<string?>("--report") { Description = "folder for report.json and the DET plot (det.png, det.svg)" };
        var video = new Option<bool>("--video")
        {
            Description = "live/ and spoof/ hold videos: one presence each, decided as the door does (median liveness of the better-quality " +
                          "half of the faces)",
        };
        var opinions = new Option<string[]>("--opinion")
        {
            Description = "an opinion to score (repeatable; default: Face.LivenessFusion.Opinions, or Face.Liveness alone): a liveness " +
                          "model's id with optional changes to its crop (MODEL[:rgb|:bgr][:scale=S][:fit=clamp|shift|pad][:square]" +
                          "[:tight=FIT]) or screen:moire|peaks|chroma|saturation|clipped",
        };
        var fit = new Option<bool>("--fit")
        {
            Description = "fit Face.LivenessFusion's weights to the opinions on these folders (logistic regression), with a 2-fold check " +
                          "on halves of each folder",
        };
        var cmd = new Command("liveness",
            "Presentation-attack detection: APCER, BPCER, ACER, EER, BPCER at APCER 1% and 5%, per opinion, fused and per attack type")
        {
            folders, split, threshold, report, video, opinions, fit,
        };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var roots = p.GetValue(folders)!;
            var t = p.GetValue(threshold) ?? ctx.Config.Access.LivenessThreshold;
            if (p.GetValue(video))
            {
                if (roots.Length != 1) throw new BadInputException("--video takes one folder");
                return EvalLivenessVideos.Run(ctx, o, roots[0], t, p.GetValue(report));
            }
            var items = roots.SelectMany(r => LivenessEvaluation.ListSamples(r, p.GetValue(split))).ToList();
            var pipeline = ctx.Pipeline;
            var specs = (p.GetValue(opinions) is { Length: > 0 } given ? given : pipeline.LivenessOpinions.Select(x => x.Name)).Distinct().ToList();
            var owned = new List<ILivenessOpinion>();
            try
            {
                var made = specs.Select(spec => pipeline.LivenessOpinions.FirstOrDefault(x => x.Name == spec) ?? Owned(owned, Create(ctx, spec)))
                    .ToList();
                var samples = o.Progress(!ctx.Json, "scoring faces", items.Count,
                    tick => LivenessEvaluation.Run(pipeline, items, made, new InlineProgress<LivenessSample>(tick), ctx.Limits));
                return Report(ctx, o, new ReportRequest(roots, p.GetValue(split), t, p.GetValue(report), specs, p.GetValue(fit)), samples);
            }
            finally
            {
                foreach (var x in owned) x.Dispose();
            }
        });
    }

    private static ILivenessOpinion Create(CliContext ctx, string spec)
    {
        try { return LivenessOpinions.Create(spec, ctx.Factory.Create); }
        catch (ArgumentException e) { throw new BadInputException(e.Message); }
    }

    private static ILivenessOpinion Owned(List<ILivenessOpinion> owned, ILivenessOpinion opinion)
    {
        owned.Add(opinion);
        return opinion;
    }

    private sealed record ReportRequest(string[] Roots, string? Split, float Threshold, string? Report, List<string> Opinions, bool Fit);

    /// <summary>One way of scoring a sample: an opinion alone, the configured fusion, the fitted one.</summary>
    private sealed record Scorer(string Name, Func<LivenessSample, float?> Score, bool Probability);

    private static int Report(CliContext ctx, Output o, ReportRequest r, List<LivenessSample> samples)
    {
        var t = r.Threshold;
        var scorers = r.Opinions.Select(n => new Scorer(n, s => s.Score(n), !n.StartsWith(ScreenCue.Prefix, StringComparison.Ordinal))).ToList();
        var configured = ctx.Pipeline.LivenessFusion;
        if (configured is not null && configured.Opinions.All(x => r.Opinions.Contains(x.Name)))
            scorers.Add(new Scorer("fused (Face.LivenessFusion)", s => Fused(configured, s), true));
        object? fitted = null, fitConfig = null;
        if (r.Fit)
        {
            var all = LivenessFusionFit.Fit(samples, r.Opinions, t);
            var folds = TwoFolds(samples);
            var crossed = new Dictionary<LivenessSample, float>();
            foreach (var fold in new[] { 0, 1 })
            {
                var w = LivenessFusionFit.Fit([.. samples.Where(s => folds[s] != fold)], r.Opinions, t);
                foreach (var s in samples.Where(s => folds[s] == fold && s.Failure is null)) crossed[s] = w.Combine(s);
            }
            scorers.Add(new Scorer("fitted", s => s.Failure is null ? all.Combine(s) : null, true));
            scorers.Add(new Scorer("fitted, 2-fold (each half scored by weights fitted on the other)",
                s => crossed.TryGetValue(s, out var v) ? v : null, true));
            fitConfig = new { Face = new { LivenessFusion = new { all.Opinions, all.Weights, all.Bias } } };
            fitted = new { opinions = all.Opinions, weights = all.Weights, bias = all.Bias, config = fitConfig };
        }
        var attacks = samples.Where(s => !s.Live).Select(s => s.Attack).Distinct().Order().ToList();
        var results = scorers.Select(sc => Measure(samples, sc, t, attacks)).ToList();
        var ok = samples.Where(s => s.Failure is null).ToList();
        var summary = new
        {
            folders = r.Roots.Select(Path.GetFullPath), split = r.Split, threshold = t,
            live = samples.Count(s => s.Live), spoof = samples.Count(s => !s.Live),
            failures = samples.Where(s => s.Failure is not null).Select(s => new { path = s.Path, reason = s.Failure }).ToList(),
            results = results.Select(x => x.Json), fit = fitted,
            scoreMs = r.Opinions.ToDictionary(n => n, n => Percentiles.Of(ok.Where(s => s.Ms.ContainsKey(n)).Select(s => s.Ms[n]), 50)),
            samples = ok.Select(s => new
            {
                path = s.Path, live = s.Live, attack = s.Attack, scores = scorers.ToDictionary(x => x.Name, x => x.Score(s)),
            }),
        };
        WriteReport(r.Report, summary, "EchoFace liveness (DET: APCER against BPCER)", [.. results.Select(x => (x.Name, x.Metrics))]);
        if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
        o.Line($"{summary.live} live and {summary.spoof} spoof images; APCER = spoofs accepted, BPCER = live faces refused");
        var table = new Table().AddColumns(["opinion", "EER", "BPCER @ APCER 1%", "BPCER @ APCER 5%", $"APCER / BPCER at {t:F2}",
            .. attacks.Select(a => $"APCER {a}"), "ms p50"]);
        foreach (var x in results)
            table.AddRow([Output.Esc(x.Name + (x.LowerIsLive ? " (lower = live)" : "")), Pct(x.Metrics.Eer), Pct(1 - x.Metrics.AtFar[0].Tar),
                Pct(1 - x.Metrics.AtFar[1].Tar), x.At is { } at ? $"{Pct(at.Apcer)} / {Pct(at.Bpcer)}" : "",
                .. attacks.Select(a => x.PerAttack?[a] is { } v ? Pct(v) : ""), summary.scoreMs.TryGetValue(x.Name, out var ms) ? $"{ms:F2}" : ""]);
        o.Console.Write(table);
        if (fitConfig is not null)
            o.Line($"fitted, as configuration: {Output.Esc(System.Text.Json.JsonSerializer.Serialize(fitConfig))}");
        foreach (var f in summary.failures) o.Line($"  [yellow]not scored[/] {Output.Esc(f.path)}: {Output.Esc(f.reason)}");
        if (r.Report is { } d) o.Line($"report and DET plot in {Output.Esc(d)}");
        return EchoFaceCli.Ok;

        static string Pct(double v) => $"{v * 100:F2}%";
    }

    private sealed record Measured(string Name, VerificationMetrics Metrics, bool LowerIsLive, PadRates? At, Dictionary<string, double>? PerAttack,
        object Json);

    private static Measured Measure(List<LivenessSample> samples, Scorer sc, float t, List<string> attacks)
    {
        var m = LivenessEvaluation.Metrics(samples, sc.Score);
        var lower = false;
        if (!sc.Probability && m.Eer > 0.5)
        {
            // a cue pointing the other way: measured negated, reported as such
            m = LivenessEvaluation.Metrics(samples, s => -sc.Score(s));
            lower = true;
        }
        var at = sc.Probability ? LivenessEvaluation.At(samples, sc.Score, t) : null;
        var perAttack = sc.Probability
            ? attacks.ToDictionary(a => a, a => LivenessEvaluation.At(samples.Where(s => s.Live || s.Attack == a), sc.Score, t).Apcer)
            : null;
        var json = new
        {
            opinion = sc.Name, eer = m.Eer, eerThreshold = m.EerThreshold, lowerIsLive = lower,
            bpcerAtApcer1 = 1 - m.AtFar[0].Tar, thresholdAtApcer1 = m.AtFar[0].Threshold,
            bpcerAtApcer5 = 1 - m.AtFar[1].Tar, thresholdAtApcer5 = m.AtFar[1].Threshold,
            atThreshold = at is null ? null : new { threshold = t, apcer = at.Apcer, bpcer = at.Bpcer, acer = at.Acer }, perAttack,
        };
        return new Measured(sc.Name, m, lower, at, perAttack, json);
    }

    private static float? Fused(LivenessFusion fusion, LivenessSample s)
    {
        if (s.Failure is not null) return null;
        Span<float> scores = stackalloc float[fusion.Opinions.Count];
        for (var i = 0; i < scores.Length; i++) scores[i] = s.Scores[fusion.Opinions[i].Name];
        return fusion.Combine(scores);
    }

    /// <summary>Each folder's live and each attack's images cut in two halves by name (a video's frames stay in long runs, not mixed).</summary>
    private static Dictionary<LivenessSample, int> TwoFolds(List<LivenessSample> samples)
    {
        var folds = new Dictionary<LivenessSample, int>();
        foreach (var group in samples.GroupBy(s => (Path.GetDirectoryName(Path.GetDirectoryName(s.Path)), s.Live, s.Attack)))
        {
            var ordered = group.OrderBy(s => Path.GetDirectoryName(s.Path), StringComparer.Ordinal)
                .ThenBy(s => int.TryParse(Path.GetFileNameWithoutExtension(s.Path), out var n) ? n : int.MaxValue)
                .ThenBy(s => s.Path, StringComparer.Ordinal).ToList();
            for (var i = 0; i < ordered.Count; i++) folds[ordered[i]] = i < ordered.Count / 2 ? 0 : 1;
        }
        return folds;
    }
}
