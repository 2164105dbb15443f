using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Inference;

namespace EchoFace.Evaluation;

/// <summary>One embedder alone on the evaluated pairs: its metrics, the impostor distribution measured here, its time per face.</summary>
public sealed record ModelAlone(string Model, VerificationMetrics Metrics, ScoreNorm Measured, double EmbedMsP50);

/// <summary>The fused score at one set of weights: what the weights are fitted from.</summary>
public sealed record WeightPoint(IReadOnlyList<double> Weights, double Eer, double TarAtFar1e3, double TarAtFar1e4);

/// <summary>
/// The cascade at the fused thresholds: pairs the first model decides alone, TAR and FAR where it and the fused score decide,
/// and the cost per face relative to the first model alone.
/// </summary>
public sealed record CascadeResult(double Undecided, double CostRatio, IReadOnlyList<CascadePoint> Points);

public sealed record CascadePoint(string Use, double Threshold, double FusedTar, double FusedFar, double CascadeTar, double CascadeFar);

public sealed class FusionEvaluationResult
{
    public required IReadOnlyList<ModelAlone> Models { get; init; }
    public required VerificationMetrics Fused { get; init; }
    public required IReadOnlyList<double> Weights { get; init; }
    /// <summary>The fused metrics over a grid of weights (steps of 0.05 for two models, 0.1 for three), with the manifest's norms.</summary>
    public required IReadOnlyList<WeightPoint> Sweep { get; init; }
    public required CascadeResult Cascade { get; init; }
}

/// <summary>Each embedder alone and their fused score over every pair of images (eval faces --fuse).</summary>
public static class FusionEvaluation
{
    public static readonly double[] FarTargets = [1e-2, 1e-3, 1e-4];

    public static FusionEvaluationResult Score(IReadOnlyList<EvaluatedImage> images, IReadOnlyList<ScoreNorm> norms, FusionOptions options)
    {
        var models = options.Embedders;
        var weights = options.Weights;
        var ok = images.Where(i => i.Embedding is not null).ToList();
        if (ok.Any(i => i.Embeddings.Count != models.Count)) throw new ArgumentException($"every image needs {models.Count} embeddings");
        var alone = new List<ModelAlone>();
        // per pair, each model's cosine: computed once and reused by the sweep
        var scores = new List<(List<double> Genuine, List<double> Impostor)>();
        for (var m = 0; m < models.Count; m++)
        {
            var index = m;
            var pairs = FaceEvaluation.Pairs(ok, (a, b) => TensorPrimitives.Dot(a.Embeddings[index], b.Embeddings[index]));
            scores.Add(pairs);
            alone.Add(new ModelAlone(models[m], VerificationMetrics.Compute(pairs.Genuine, pairs.Impostor, FarTargets), ScoreNorm.Of(pairs.Impostor),
                Percentiles.Of([.. ok.Select(i => i.EmbedMs[index])], 50)));
        }
        var sweep = Grid(models.Count).Select(w =>
        {
            var m = Fuse(scores, norms, w);
            return new WeightPoint(w, m.Eer, m.AtFar[1].Tar, m.AtFar[2].Tar);
        }).ToList();
        return new FusionEvaluationResult
        {
            Models = alone, Fused = Fuse(scores, norms, weights), Weights = weights, Sweep = sweep,
            Cascade = Cascade(scores, new ScoreFusion(norms, weights), options, alone),
        };
    }

    private static CascadeResult Cascade(List<(List<double> Genuine, List<double> Impostor)> scores, ScoreFusion fusion, FusionOptions options,
        List<ModelAlone> alone)
    {
        var undecided = 0L;
        var points = new List<CascadePoint>();
        Span<double> pair = stackalloc double[scores.Count];
        foreach (var (use, threshold) in new[] { ("verify", options.VerifyThreshold), ("identify", options.IdentifyThreshold) })
        {
            var fused = new long[2];
            var cascade = new long[2];
            var totals = new long[2];
            for (var side = 0; side < 2; side++)
            {
                var n = (side == 0 ? scores[0].Genuine : scores[0].Impostor).Count;
                totals[side] = n;
                for (var i = 0; i < n; i++)
                {
                    for (var m = 0; m < scores.Count; m++) pair[m] = (side == 0 ? scores[m].Genuine : scores[m].Impostor)[i];
                    var f = fusion.Fuse(pair) >= threshold;
                    var decided = ScoreFusion.Decided(pair[0], options);
                    if (f) fused[side]++;
                    if (decided ?? f) cascade[side]++;
                    if (decided is null && use == "verify") undecided++;
                }
            }
            points.Add(new CascadePoint(use, threshold, (double)fused[0] / totals[0], (double)fused[1] / totals[1],
                (double)cascade[0] / totals[0], (double)cascade[1] / totals[1]));
        }
        var pairs = scores[0].Genuine.Count + scores[0].Impostor.Count;
        var share = (double)undecided / pairs;
        // per pair the first model always runs and the others where it is undecided
        var cost = 1 + share * alone.Skip(1).Sum(m => m.EmbedMsP50) / alone[0].EmbedMsP50;
        return new CascadeResult(share, cost, points);
    }

    /// <summary>Weights summing to 1 on a grid: 21 points for two models, 66 for three, none for more.</summary>
    public static IEnumerable<double[]> Grid(int models) => models switch
    {
        2 => Enumerable.Range(0, 21).Select(k => new[] { 1 - k / 20.0, k / 20.0 }),
        3 => from a in Enumerable.Range(0, 11) from b in Enumerable.Range(0, 11 - a) select new[] { a / 10.0, b / 10.0, (10 - a - b) / 10.0 },
        _ => [],
    };

    private static VerificationMetrics Fuse(List<(List<double> Genuine, List<double> Impostor)> scores, IReadOnlyList<ScoreNorm> norms,
        IReadOnlyList<double> weights)
    {
        var fusion = new ScoreFusion(norms, weights);
        List<double> Side(Func<(List<double> Genuine, List<double> Impostor), List<double>> side)
        {
            var n = side(scores[0]).Count;
            var fused = new List<double>(n);
            Span<double> pair = stackalloc double[scores.Count];
            for (var i = 0; i < n; i++)
            {
                for (var m = 0; m < scores.Count; m++) pair[m] = side(scores[m])[i];
                fused.Add(fusion.Fuse(pair));
            }
            return fused;
        }
        return VerificationMetrics.Compute(Side(s => s.Genuine), Side(s => s.Impostor), FarTargets);
    }
}
