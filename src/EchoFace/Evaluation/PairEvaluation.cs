namespace EchoFace.Evaluation;

/// <summary>N-fold verification accuracy: per fold, the threshold that is best on the other folds, applied to this one.</summary>
public sealed record FoldAccuracy(double Mean, double StandardDeviation, IReadOnlyList<double> PerFold, IReadOnlyList<double> Thresholds);

/// <summary>One protocol scored by one scorer (a model alone, or fused).</summary>
public sealed class PairEvaluationResult
{
    public required string Scorer { get; init; }
    public int Pairs { get; init; }
    /// <summary>
    /// Pairs with an image where no face was found: rejected at every threshold in <see cref="Accuracy"/> and <see cref="Metrics"/>.
    /// </summary>
    public int Missing { get; init; }
    public required FoldAccuracy Accuracy { get; init; }
    public required VerificationMetrics Metrics { get; init; }
    /// <summary>The same on the pairs where both faces were found (null where fewer than one pair of each kind remains).</summary>
    public FoldAccuracy? AccuracyFound { get; init; }
    /// <summary>TAR and FAR at the threshold the product ships for this scorer (null where none is given).</summary>
    public RocPoint? AtShipped { get; init; }
}

/// <summary>A pair-list protocol (CFP, LFW) over embedded images: accuracy by folds, EER and TAR@FAR, missing faces counted as rejections.</summary>
public static class PairEvaluation
{
    /// <param name="images">Embedded images by their path relative to the data folder; one not embedded (no face) makes its pairs missing.</param>
    /// <param name="score">Similarity of two embedded images (higher = more alike).</param>
    /// <param name="shipped">The product's verify threshold for this scorer, reported as TAR and FAR at it.</param>
    public static PairEvaluationResult Score(string scorer, IReadOnlyList<FacePair> pairs, IReadOnlyDictionary<string, EvaluatedImage> images,
        Func<EvaluatedImage, EvaluatedImage, double> score, double? shipped = null)
    {
        var found = new bool[pairs.Count];
        var scores = new double[pairs.Count];
        for (var i = 0; i < pairs.Count; i++)
        {
            var (a, b) = (images[pairs[i].A], images[pairs[i].B]);
            found[i] = a.Embedding is not null && b.Embedding is not null;
            if (found[i]) scores[i] = score(a, b);
        }
        // a missing face scores below every real score: rejected wherever the threshold lies
        var floor = found.Any(f => f) ? scores.Where((_, i) => found[i]).Min() - 1 : 0;
        for (var i = 0; i < pairs.Count; i++) if (!found[i]) scores[i] = floor;
        var same = pairs.Select(p => p.Same).ToArray();
        var folds = pairs.Select(p => p.Fold).ToArray();
        var genuine = scores.Where((_, i) => same[i]).ToList();
        var impostor = scores.Where((_, i) => !same[i]).ToList();
        var kept = Enumerable.Range(0, pairs.Count).Where(i => found[i]).ToArray();
        return new PairEvaluationResult
        {
            Scorer = scorer, Pairs = pairs.Count, Missing = found.Count(f => !f),
            Accuracy = Accuracy(scores, same, folds),
            Metrics = VerificationMetrics.Compute(genuine, impostor, FusionEvaluation.FarTargets),
            AccuracyFound = kept.Any(i => same[i]) && kept.Any(i => !same[i])
                ? Accuracy([.. kept.Select(i => scores[i])], [.. kept.Select(i => same[i])], [.. kept.Select(i => folds[i])]) : null,
            AtShipped = shipped is { } t ? new RocPoint(t, Accepted(true), Accepted(false)) : null,
        };
        // a pair without a face is never accepted, whatever the threshold
        double Accepted(bool side) => (double)kept.Count(i => same[i] == side && scores[i] >= shipped) / same.Count(s => s == side);
    }

    /// <summary>With one fold only, the threshold is chosen on that fold itself (an optimistic figure, as the caller should say).</summary>
    public static FoldAccuracy Accuracy(double[] scores, bool[] same, int[] folds)
    {
        var distinct = folds.Distinct().Order().ToList();
        var perFold = new List<double>();
        var thresholds = new List<double>();
        foreach (var fold in distinct)
        {
            var train = Enumerable.Range(0, scores.Length).Where(i => distinct.Count == 1 || folds[i] != fold).ToArray();
            var t = BestThreshold([.. train.Select(i => scores[i])], [.. train.Select(i => same[i])]);
            var test = Enumerable.Range(0, scores.Length).Where(i => folds[i] == fold).ToArray();
            perFold.Add(test.Length == 0 ? 0 : (double)test.Count(i => scores[i] >= t == same[i]) / test.Length);
            thresholds.Add(t);
        }
        var mean = perFold.Average();
        var sd = Math.Sqrt(perFold.Sum(a => (a - mean) * (a - mean)) / perFold.Count);
        return new FoldAccuracy(mean, sd, perFold, thresholds);
    }

    /// <summary>The threshold (accept at or above) with the most pairs right: midway between neighbouring scores, O(n log n).</summary>
    public static double BestThreshold(double[] scores, bool[] same)
    {
        var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ToArray();
        // threshold below every score: all accepted, the same-person pairs right
        var right = same.Count(s => s);
        var (best, bestRight) = (order.Length == 0 ? 0 : scores[order[0]] - 1e-6, right);
        for (var k = 0; k < order.Length; k++)
        {
            right += same[order[k]] ? -1 : 1; // this pair now falls below the threshold: rejected
            if (k + 1 < order.Length && scores[order[k + 1]] == scores[order[k]]) continue; // ties move together
            if (right <= bestRight) continue;
            bestRight = right;
            best = k + 1 < order.Length ? (scores[order[k]] + scores[order[k + 1]]) / 2 : scores[order[k]] + 1e-6;
        }
        return best;
    }
}
