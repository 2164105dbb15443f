namespace EchoFace.Evaluation;

/// <summary>A point of the ROC: at this threshold, the share of genuine pairs accepted and of impostor pairs accepted.</summary>
public readonly record struct RocPoint(double Threshold, double Tar, double Far);

public sealed record OperatingPoint(double Far, double Tar, double Threshold);

/// <summary>Verification metrics from genuine and impostor similarity scores (higher = more alike).</summary>
public sealed class VerificationMetrics
{
    public int Genuine { get; init; }
    public int Impostor { get; init; }
    public double Eer { get; init; }
    public double EerThreshold { get; init; }
    public double MinDcf { get; init; }
    public required IReadOnlyList<OperatingPoint> AtFar { get; init; }
    public required IReadOnlyList<RocPoint> Roc { get; init; }
    /// <summary>The impostor scores' mean and standard deviation: a model's scoreNorm (score fusion) is measured from it.</summary>
    public Inference.ScoreNorm? ImpostorNorm { get; init; }

    /// <param name="farTargets">FARs at which TAR and the threshold are reported (e.g. 1e-2, 1e-3).</param>
    /// <param name="pTarget">Prior of a target trial for minDCF (NIST SRE convention, C_miss = C_fa = 1).</param>
    public static VerificationMetrics Compute(IReadOnlyList<double> genuine, IReadOnlyList<double> impostor, double[]? farTargets = null, double pTarget = 0.01)
    {
        if (genuine.Count == 0 || impostor.Count == 0)
            throw new ArgumentException($"need genuine and impostor scores (got {genuine.Count} genuine, {impostor.Count} impostor)");
        farTargets ??= [1e-2, 1e-3];
        // sweep thresholds from high to low over every distinct score
        var all = genuine.Select(s => (s, g: true)).Concat(impostor.Select(s => (s, g: false))).OrderByDescending(x => x.s).ToArray();
        var roc = new List<RocPoint> { new(double.PositiveInfinity, 0, 0) };
        int tp = 0, fp = 0;
        for (var i = 0; i < all.Length; i++)
        {
            if (all[i].g) tp++; else fp++;
            if (i + 1 < all.Length && all[i + 1].s == all[i].s) continue; // ties accepted together
            roc.Add(new RocPoint(all[i].s, (double)tp / genuine.Count, (double)fp / impostor.Count));
        }
        // EER: where FRR = 1 - TAR crosses FAR, interpolated between the two ROC points around it
        double eer = 1, eerThreshold = roc[^1].Threshold;
        for (var i = 1; i < roc.Count; i++)
        {
            double frr0 = 1 - roc[i - 1].Tar, far0 = roc[i - 1].Far, frr1 = 1 - roc[i].Tar, far1 = roc[i].Far;
            if (far1 < frr1) continue;
            var d0 = frr0 - far0; var d1 = frr1 - far1; // d0 > 0 >= d1
            var t = d0 - d1 == 0 ? 0 : d0 / (d0 - d1);
            eer = far0 + t * (far1 - far0);
            eerThreshold = double.IsInfinity(roc[i - 1].Threshold) ? roc[i].Threshold : roc[i - 1].Threshold + t * (roc[i].Threshold - roc[i - 1].Threshold);
            break;
        }
        var minDcf = roc.Min(p => pTarget * (1 - p.Tar) + (1 - pTarget) * p.Far) / Math.Min(pTarget, 1 - pTarget);
        var atFar = farTargets.Select(target =>
        {
            var best = roc.Where(p => p.Far <= target).MaxBy(p => p.Tar);
            return new OperatingPoint(target, best.Tar, best.Threshold);
        }).ToList();
        return new VerificationMetrics
        {
            Genuine = genuine.Count, Impostor = impostor.Count, Eer = eer, EerThreshold = eerThreshold, MinDcf = minDcf, AtFar = atFar, Roc = roc,
            ImpostorNorm = impostor.Count >= 2 ? Inference.ScoreNorm.Of(impostor) : null,
        };
    }
}
