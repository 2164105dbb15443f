namespace EchoFace.Recommend;

/// <summary>Top-K ranking metrics for one list against the set of items the customer actually bought (binary relevance).</summary>
public static class RankingMetrics
{
    /// <summary>Relevant items among the first k, over k.</summary>
    public static double Precision(IReadOnlyList<int> list, IReadOnlySet<int> relevant, int k) =>
        k == 0 ? 0 : (double)Hits(list, relevant, k) / k;

    /// <summary>Relevant items among the first k, over all relevant items.</summary>
    public static double Recall(IReadOnlyList<int> list, IReadOnlySet<int> relevant, int k) =>
        relevant.Count == 0 ? 0 : (double)Hits(list, relevant, k) / relevant.Count;

    /// <summary>1 when any of the first k is relevant.</summary>
    public static double HitRate(IReadOnlyList<int> list, IReadOnlySet<int> relevant, int k) => Hits(list, relevant, k) > 0 ? 1 : 0;

    /// <summary>Average precision at k: the mean of precision@i at each relevant position i ≤ k, over min(k, |relevant|).</summary>
    public static double AveragePrecision(IReadOnlyList<int> list, IReadOnlySet<int> relevant, int k)
    {
        if (relevant.Count == 0) return 0;
        double sum = 0;
        var hits = 0;
        for (var i = 0; i < Math.Min(k, list.Count); i++)
        {
            if (!relevant.Contains(list[i])) continue;
            hits++;
            sum += (double)hits / (i + 1);
        }
        return sum / Math.Min(k, relevant.Count);
    }

    /// <summary>DCG of the first k (gain 1, discount 1/log2(position + 1)) over the DCG of an ideal list.</summary>
    public static double Ndcg(IReadOnlyList<int> list, IReadOnlySet<int> relevant, int k)
    {
        if (relevant.Count == 0) return 0;
        double dcg = 0, ideal = 0;
        for (var i = 0; i < Math.Min(k, list.Count); i++)
            if (relevant.Contains(list[i])) dcg += 1 / Math.Log2(i + 2);
        for (var i = 0; i < Math.Min(k, relevant.Count); i++) ideal += 1 / Math.Log2(i + 2);
        return dcg / ideal;
    }

    /// <summary>Share of the catalogue that appears in at least one list's first k.</summary>
    public static double Coverage(IEnumerable<IReadOnlyList<int>> lists, int k, int catalogueSize)
    {
        var seen = new HashSet<int>();
        foreach (var list in lists) seen.UnionWith(list.Take(k));
        return catalogueSize == 0 ? 0 : (double)seen.Count / catalogueSize;
    }

    /// <summary>Intra-list diversity: 1 − the mean pairwise similarity of the first k items (row-major item x item similarity).</summary>
    public static double Diversity(IReadOnlyList<int> list, int k, float[] similarity, int itemCount)
    {
        var top = list.Take(k).ToArray();
        if (top.Length < 2) return 0;
        double sum = 0;
        var pairs = 0;
        for (var a = 0; a < top.Length; a++)
            for (var b = a + 1; b < top.Length; b++, pairs++) sum += similarity[top[a] * itemCount + top[b]];
        return 1 - sum / pairs;
    }

    private static int Hits(IReadOnlyList<int> list, IReadOnlySet<int> relevant, int k)
    {
        var hits = 0;
        for (var i = 0; i < Math.Min(k, list.Count); i++) if (relevant.Contains(list[i])) hits++;
        return hits;
    }
}
