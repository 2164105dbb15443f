using System.Numerics.Tensors;
using System.Text.RegularExpressions;
using EchoFace.Evaluation;
using EchoFace.Face;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;
using static EchoFace.Cli.Commands.EvalCommands;

namespace EchoFace.Cli.Commands;

/// <summary>eval faces FOLDER --pairs LIST...: pair-list protocols (CFP-FP, CFP-FF, LFW) side by side, each model alone and fused.</summary>
internal static partial class EvalFacePairs
{
    public static int Run(CliContext ctx, Output o, string root, IReadOnlyList<string> lists, float pad, IReadOnlyList<FaceEmbedder> others,
        string? report, bool alignReference)
    {
        if (!Directory.Exists(root)) throw new BadInputException($"evaluation folder not found: {root}");
        var protocols = lists.Select(l => (Name: Path.GetFileNameWithoutExtension(l), Pairs: PairProtocol.Read(l))).ToList();
        var paths = protocols.SelectMany(p => p.Pairs).SelectMany(p => new[] { p.A, p.B }).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal).ToList();
        // a path the list names that is not there is a wrong folder or list, not a face that was not found
        var absent = paths.Where(p => !File.Exists(Path.Combine(root, p))).ToList();
        if (absent.Count > 0)
            throw new BadInputException($"{absent.Count} of {paths.Count} images the pair lists name are not under {root}, e.g. {absent[0]}");
        var items = paths.Select(p => (Path.Combine(root, p), p.Split('/')[0])).ToList();
        using var reference = alignReference ? new ReferenceAlignment(ctx.Factory.Create(ReferenceAlignment.ModelId)) : null;
        var embedded = o.Progress(!ctx.Json, "embedding faces", items.Count,
            tick => FaceEvaluation.Run(ctx.Pipeline, items, new InlineProgress<EvaluatedImage>(tick), ctx.Limits, pad, others, reference));
        var byPath = embedded.Images.ToDictionary(i => Path.GetRelativePath(root, i.Path), StringComparer.Ordinal);
        var norms = others.Count == 0 ? null : EvalFacesCommand.FusedNorms(ctx);
        var scorers = Scorers(ctx, norms);
        var results = protocols.Select(p => (p.Name, p.Pairs,
            Scored: scorers.Select(s => PairEvaluation.Score(s.Name, p.Pairs, byPath, s.Score, s.Shipped)).ToList())).ToList();
        var misses = Kinds(embedded.Images);
        var alignment = reference is null ? null : misses.Select(k => KindAlignment.Of(k.Kind, k.Images)).ToList();
        var summary = new
        {
            folder = Path.GetFullPath(root),
            pipeline = new
            {
                ctx.Config.Face.Detector, ctx.Config.Face.Landmarks, ctx.Config.Face.RefineScale, ctx.Config.Face.FlipTest, pad, alignReference,
            },
            images = embedded.Images.Count,
            detectMsP50 = Percentiles.Of([.. embedded.Images.Where(i => i.Embedding is not null).Select(i => i.Timings.Detect)], 50),
            faceMsP50 = Percentiles.Of([.. embedded.Images.Where(i => i.Embedding is not null).Select(i => i.Timings.Total)], 50),
            noFace = misses.Select(k => new { kind = k.Kind, missed = k.Missed, of = k.Of }),
            alignment,
            protocols = results.Select(r => new
            {
                name = r.Name, pairs = r.Pairs.Count, folds = r.Pairs.Select(p => p.Fold).Distinct().Count(),
                sweep = norms is null ? null : Sweep(norms, r.Pairs, byPath),
                scorers = r.Scored.Select(s => new
                {
                    scorer = s.Scorer, s.Missing, accuracy = s.Accuracy, accuracyFound = s.AccuracyFound, eer = s.Metrics.Eer,
                    atShipped = s.AtShipped,
                    tarAtFar = s.Metrics.AtFar.Select(a => new { far = a.Far, tar = a.Tar, threshold = a.Threshold }),
                }),
            }).ToList(), // once: the report and the answer both serialise it, and each sweep scores the lists 66 times
            failures = embedded.Failures.Select(f => new { path = Path.GetRelativePath(root, f.Path), reason = f.Failure }),
        };
        WriteReport(report, summary, $"EchoFace pair protocols ({Path.GetFileName(Path.GetFullPath(root).TrimEnd('/'))})",
            [.. results.SelectMany(r => r.Scored.Select(s => ($"{r.Name}: {s.Scorer}", s.Metrics)))]);
        if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }

        var table = new Table().AddColumns("protocol", "scorer", "accuracy", "both found", "EER", "TAR@1e-2", "TAR@1e-3", "TAR/FAR shipped",
            "no face");
        foreach (var (name, pairs, scored) in results)
            foreach (var s in scored)
                table.AddRow(name, s.Scorer, Percent(s.Accuracy), s.AccuracyFound is { } f ? Percent(f) : "-", $"{s.Metrics.Eer * 100:F2}%",
                    $"{s.Metrics.AtFar[0].Tar * 100:F2}%", $"{s.Metrics.AtFar[1].Tar * 100:F2}%",
                    s.AtShipped is { } at ? $"{at.Tar * 100:F1}/{at.Far * 100:F2}%" : "-", $"{s.Missing}/{pairs.Count}");
        o.Console.Write(table);
        o.Line("accuracy: mean±sd over folds, each fold judged at the threshold best on the others; a pair with no face found is rejected");
        o.Line("no face found: " + string.Join(", ", misses.Select(k => $"{k.Kind} {k.Missed} of {k.Of} ({100.0 * k.Missed / k.Of:F1}%)")) +
            $"; detect p50 {summary.detectMsP50:F1} ms, whole face p50 {summary.faceMsP50:F1} ms");
        if (alignment is not null)
            o.Line("aligned by the reference's 5 points (evaluation only); the pipeline's points against them, per reference box height: " +
                string.Join(", ", alignment.Select(a => a.MedianError is null ? $"{a.Kind}: none found"
                    : $"{a.Kind} median {a.MedianError * 100:F1}% (p90 {a.P90Error * 100:F1}%, {a.ReferenceMissed} not found by it)")));
        if (results.Any(r => r.Pairs.Select(p => p.Fold).Distinct().Count() == 1))
            o.Line("[yellow]a list with one fold chooses its threshold on its own pairs: its accuracy is optimistic[/]");
        if (report is not null) o.Line($"report and DET plot in {Output.Esc(report)}");
        return EchoFaceCli.Ok;
    }

    /// <summary>
    /// The fused accuracy over the weight grid of <see cref="FusionEvaluation.Grid"/>, best first: what weights a protocol favours.
    /// </summary>
    private static List<object> Sweep(List<EchoFace.Inference.ScoreNorm> norms, IReadOnlyList<FacePair> pairs,
        Dictionary<string, EvaluatedImage> byPath) =>
        [.. FusionEvaluation.Grid(norms.Count).Select(w =>
        {
            var r = PairEvaluation.Score("fused", pairs, byPath, Fused(new ScoreFusion(norms, w)));
            return (Weights: w, r.Accuracy.Mean, r.Metrics.Eer);
        }).OrderByDescending(x => x.Mean).Select(x => (object)new { weights = x.Weights, accuracy = x.Mean, eer = x.Eer })];

    /// <summary>The pipeline's 5 points against the reference's, for one kind of image: median and p90 error, faces it did not find.</summary>
    private sealed record KindAlignment(string Kind, int Faces, int ReferenceMissed, double? MedianError, double? P90Error)
    {
        public static KindAlignment Of(string kind, IReadOnlyList<EvaluatedImage> images)
        {
            var faces = images.Count(i => i.Embedding is not null);
            double[] errors = [.. images.Where(i => i.AlignmentError is not null).Select(i => (double)i.AlignmentError!)];
            return errors.Length == 0 ? new(kind, faces, faces, null, null)
                : new(kind, faces, faces - errors.Length, Percentiles.Of(errors, 50), Percentiles.Of(errors, 90));
        }
    }

    private static string Percent(FoldAccuracy a) => $"{a.Mean * 100:F2}±{a.StandardDeviation * 100:F2}";

    /// <summary>
    /// The pipeline's embedder alone, or with --fuse each model of Face.Fusion alone and their fused score. The pipeline's embedder and
    /// the fused score are also judged at the thresholds the product ships (Match, Face.Fusion).
    /// </summary>
    private static List<(string Name, Func<EvaluatedImage, EvaluatedImage, double> Score, double? Shipped)> Scorers(CliContext ctx,
        List<EchoFace.Inference.ScoreNorm>? norms)
    {
        var face = ctx.Config.Face;
        double shipped = ctx.Config.Match.VerifyThreshold;
        if (norms is null) return [(face.Embedder, (a, b) => TensorPrimitives.Dot(a.Embedding, b.Embedding), shipped)];
        var scorers = face.Fusion.Embedders.Select((id, m) => (id, (Func<EvaluatedImage, EvaluatedImage, double>)((a, b) =>
            TensorPrimitives.Dot(a.Embeddings[m], b.Embeddings[m])), m == 0 ? shipped : (double?)null)).ToList();
        scorers.Add(("fused", Fused(new ScoreFusion(norms, face.Fusion.Weights)), face.Fusion.VerifyThreshold));
        return scorers;
    }

    private static Func<EvaluatedImage, EvaluatedImage, double> Fused(ScoreFusion fusion) => (a, b) =>
    {
        Span<double> cosines = stackalloc double[fusion.Models];
        for (var m = 0; m < fusion.Models; m++) cosines[m] = TensorPrimitives.Dot(a.Embeddings[m], b.Embeddings[m]);
        return fusion.Fuse(cosines);
    };

    /// <summary>
    /// Images without a face by kind, the file name without its number (CFP: frontal, profile); one kind "image" where names do not
    /// fall into a few kinds (LFW's are the person's name).
    /// </summary>
    private static List<(string Kind, int Missed, int Of, List<EvaluatedImage> Images)> Kinds(IReadOnlyList<EvaluatedImage> images)
    {
        var kinds = images.GroupBy(i => Kind().Replace(Path.GetFileNameWithoutExtension(i.Path), "") is { Length: > 0 } k ? k : "image").ToList();
        if (kinds.Count > 5) kinds = [.. images.GroupBy(_ => "image")];
        return [.. kinds.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.Count(i => i.Embedding is null), g.Count(), g.ToList()))];
    }

    [GeneratedRegex(@"[_\-\s]*\d+$")]
    private static partial Regex Kind();
}
