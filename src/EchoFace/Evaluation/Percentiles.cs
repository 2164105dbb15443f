namespace EchoFace.Evaluation;

public static class Percentiles
{
    /// <summary>Nearest-rank percentile (p in 0..100) of the values; NaN for none.</summary>
    public static double Of(IEnumerable<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
