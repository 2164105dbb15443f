namespace EchoFace.Recommend;

/// <summary>Scores every item for one customer (index into the transaction set; -1 = unknown); higher is better.</summary>
public interface IRecommender
{
    string Name { get; }
    void Score(int customer, Span<float> scores);
}

/// <summary>The model names, as the CLI, the artifact and the evaluation table spell them.</summary>
public static class ModelNames
{
    public const string Popularity = "popularity", RecentPopularity = "recent-popularity", OwnFrequent = "own-frequent",
        ItemToItem = "item-to-item", Als = "als", Ranker = "ranker";

    public static readonly string[] All = [Popularity, RecentPopularity, OwnFrequent, ItemToItem, Als, Ranker];
    public static readonly string[] NonPersonal = [Popularity, RecentPopularity];
}

/// <summary>Global popularity: how many times each item was bought.</summary>
public sealed class PopularityRecommender(PurchaseHistory history) : IRecommender
{
    public string Name => ModelNames.Popularity;
    public void Score(int customer, Span<float> scores) => history.Popularity.CopyTo(scores);
}

/// <summary>Popularity with each purchase weighted down by its age (half-life <see cref="PurchaseHistory.HalfLifeDays"/> days).</summary>
public sealed class RecentPopularityRecommender(PurchaseHistory history) : IRecommender
{
    public string Name => ModelNames.RecentPopularity;
    public void Score(int customer, Span<float> scores) => history.RecentPopularity.CopyTo(scores);
}

/// <summary>The customer's own most frequent items, then the most popular ones to fill the list.</summary>
public sealed class OwnFrequentRecommender(PurchaseHistory history) : IRecommender
{
    public string Name => ModelNames.OwnFrequent;

    public void Score(int customer, Span<float> scores)
    {
        var top = history.Popularity.Max();
        for (var i = 0; i < scores.Length; i++) scores[i] = history.Popularity[i] / (top + 1);
        if (history.For(customer) is not { } h) return;
        for (var k = 0; k < h.Items.Length; k++) scores[h.Items[k]] += h.Counts[k];
    }
}

/// <summary>
/// Item-to-item: each item the customer bought (recency-weighted) votes for the items bought with it in the same basket, in the next
/// basket, and by the same customers; an item is most similar to itself, so repeat purchases count too.
/// </summary>
public sealed class ItemToItemRecommender(PurchaseHistory history) : IRecommender
{
    public string Name => ModelNames.ItemToItem;

    public void Score(int customer, Span<float> scores)
    {
        if (history.For(customer) is not { } h) { history.RecentPopularity.CopyTo(scores); return; }
        int n = history.ItemCount;
        Span<float> part = stackalloc float[n];
        scores.Clear();
        foreach (var similarity in new[] { history.BasketSimilarity, history.SequenceSimilarity, history.CustomerSimilarity })
        {
            history.Propagate(h, similarity, part);
            for (var j = 0; j < n; j++) scores[j] += part[j];
        }
        for (var k = 0; k < h.Items.Length; k++) scores[h.Items[k]] += h.Decayed[k];
        // popularity only breaks ties between items nothing voted for
        var top = history.RecentPopularity.Max();
        for (var j = 0; j < n; j++) scores[j] += 1e-3f * history.RecentPopularity[j] / (top + 1);
    }
}

/// <summary>Implicit ALS factors; a customer without history gets recent popularity.</summary>
public sealed class AlsRecommender(PurchaseHistory history, ImplicitAls als) : IRecommender
{
    public string Name => ModelNames.Als;

    public void Score(int customer, Span<float> scores)
    {
        if (history.For(customer) is null) { history.RecentPopularity.CopyTo(scores); return; }
        als.Score(customer, scores);
    }
}

public static class Recommenders
{
    /// <summary>Every model over one history, by name: the baselines, item-to-item, ALS, and the ranker when one was trained.</summary>
    public static Dictionary<string, IRecommender> Build(PurchaseHistory history, ImplicitAls als, Microsoft.ML.ITransformer? ranker,
        CustomerProfiles profiles, IReadOnlyList<string> customerIds)
    {
        var models = new Dictionary<string, IRecommender>
        {
            [ModelNames.Popularity] = new PopularityRecommender(history),
            [ModelNames.RecentPopularity] = new RecentPopularityRecommender(history),
            [ModelNames.OwnFrequent] = new OwnFrequentRecommender(history),
            [ModelNames.ItemToItem] = new ItemToItemRecommender(history),
            [ModelNames.Als] = new AlsRecommender(history, als),
        };
        if (ranker is not null)
            models[ModelNames.Ranker] = LearnedRanker.Bind(ranker, history, new RankingFeatures(history, als, profiles, customerIds));
        return models;
    }
}

public static class TopK
{
    /// <summary>The k best items by score, ties to the more popular item, then the lower index (so lists are stable).</summary>
    public static int[] Of(ReadOnlySpan<float> scores, int k, float[] popularityRank)
    {
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        var s = scores.ToArray();
        Array.Sort(order, (a, b) =>
        {
            var c = s[b].CompareTo(s[a]);
            if (c != 0) return c;
            c = popularityRank[a].CompareTo(popularityRank[b]);
            return c != 0 ? c : a.CompareTo(b);
        });
        return order[..Math.Min(k, order.Length)];
    }
}
