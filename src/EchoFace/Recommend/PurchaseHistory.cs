namespace EchoFace.Recommend;

/// <summary>One customer's past as the recommenders see it: which items, how often, how recently.</summary>
public sealed class CustomerHistory
{
    public required int[] Items { get; init; }
    public required float[] Counts { get; init; }
    /// <summary>Counts with each purchase weighted by its age (half-life <see cref="PurchaseHistory.HalfLifeDays"/>).</summary>
    public required float[] Decayed { get; init; }
    public required float[] DaysSinceLast { get; init; }
    public required int Baskets { get; init; }
    public required float Purchases { get; init; }
    public required float DaysSinceLastBasket { get; init; }
}

/// <summary>
/// Aggregates of the purchases before <see cref="AsOf"/>: item popularity (plain and recency-weighted), each customer's history, and three
/// item-to-item similarities: same basket, next basket of the same customer (sequence), and same customer at any time. A basket is one
/// customer's purchases on one day.
/// </summary>
public sealed class PurchaseHistory
{
    public const float HalfLifeDays = 60f;

    public PurchaseHistory(TransactionSet set, DateTime asOf)
    {
        AsOf = asOf;
        ItemCount = set.Items.Count;
        CustomerCount = set.Customers.Count;
        Popularity = new float[ItemCount];
        RecentPopularity = new float[ItemCount];
        LastMonth = new float[ItemCount];
        LastQuarter = new float[ItemCount];
        SameSeasonLastYear = new float[ItemCount];
        var perCustomer = new Dictionary<int, Dictionary<int, (float Count, float Decayed, DateTime Last)>>();
        var baskets = new Dictionary<int, SortedDictionary<DateTime, HashSet<int>>>();
        foreach (var p in set.Purchases)
        {
            if (p.At >= asOf) continue;
            var weight = Decay(p.At);
            Popularity[p.Item] += 1;
            RecentPopularity[p.Item] += weight;
            var age = (asOf - p.At).TotalDays;
            if (age <= 30) LastMonth[p.Item] += 1;
            if (age <= 91) LastQuarter[p.Item] += 1;
            if (age is > 305 and <= 365) SameSeasonLastYear[p.Item] += 1;
            if (!perCustomer.TryGetValue(p.Customer, out var items)) perCustomer[p.Customer] = items = [];
            var old = items.GetValueOrDefault(p.Item);
            items[p.Item] = (old.Count + 1, old.Decayed + weight, p.At > old.Last ? p.At : old.Last);
            if (!baskets.TryGetValue(p.Customer, out var days)) baskets[p.Customer] = days = [];
            if (!days.TryGetValue(p.At.Date, out var basket)) days[p.At.Date] = basket = [];
            basket.Add(p.Item);
        }

        Customers = new CustomerHistory?[CustomerCount];
        foreach (var (c, items) in perCustomer)
        {
            var ordered = items.OrderBy(kv => kv.Key).ToArray();
            Customers[c] = new CustomerHistory
            {
                Items = [.. ordered.Select(kv => kv.Key)],
                Counts = [.. ordered.Select(kv => kv.Value.Count)],
                Decayed = [.. ordered.Select(kv => kv.Value.Decayed)],
                DaysSinceLast = [.. ordered.Select(kv => (float)(asOf - kv.Value.Last).TotalDays)],
                Baskets = baskets[c].Count,
                Purchases = ordered.Sum(kv => kv.Value.Count),
                DaysSinceLastBasket = (float)(asOf - baskets[c].Keys.Max()).TotalDays,
            };
        }

        int n = ItemCount;
        var basketCo = new float[n * n];
        var sequenceCo = new float[n * n];
        var customerCo = new float[n * n];
        var inBaskets = new float[n];
        var inCustomers = new float[n];
        foreach (var days in baskets.Values)
        {
            HashSet<int>? previous = null;
            var all = new HashSet<int>();
            foreach (var basket in days.Values)
            {
                foreach (var i in basket)
                {
                    inBaskets[i]++;
                    foreach (var j in basket) if (i != j) basketCo[i * n + j]++;
                    if (previous is not null) foreach (var j in previous) if (i != j) sequenceCo[j * n + i]++;
                }
                all.UnionWith(basket);
                previous = basket;
            }
            foreach (var i in all)
            {
                inCustomers[i]++;
                foreach (var j in all) if (i != j) customerCo[i * n + j]++;
            }
        }
        BasketSimilarity = Cosine(basketCo, inBaskets, n);
        SequenceSimilarity = Cosine(sequenceCo, inBaskets, n);
        CustomerSimilarity = Cosine(customerCo, inCustomers, n);
        int[] order = [.. Enumerable.Range(0, n).OrderByDescending(i => Popularity[i]).ThenBy(i => i)];
        PopularityRank = new float[n];
        for (var r = 0; r < n; r++) PopularityRank[order[r]] = r;
    }

    public DateTime AsOf { get; }
    public int ItemCount { get; }
    public int CustomerCount { get; }
    public float[] Popularity { get; }
    public float[] RecentPopularity { get; }
    /// <summary>Purchases per item in the last 30 and 91 days, and in the two months that follow the same date a year earlier (seasonality).</summary>
    public float[] LastMonth { get; }
    public float[] LastQuarter { get; }
    public float[] SameSeasonLastYear { get; }
    public float[] PopularityRank { get; }
    /// <summary>Indexed by customer; null for a customer with no purchase before <see cref="AsOf"/>.</summary>
    public CustomerHistory?[] Customers { get; }
    /// <summary>Row-major item x item cosine similarities, zero on the diagonal.</summary>
    public float[] BasketSimilarity { get; }
    public float[] SequenceSimilarity { get; }
    public float[] CustomerSimilarity { get; }

    public CustomerHistory? For(int customer) => customer >= 0 && customer < Customers.Length ? Customers[customer] : null;

    private float Decay(DateTime at) => MathF.Exp(-MathF.Log(2) * (float)(AsOf - at).TotalDays / HalfLifeDays);

    private static float[] Cosine(float[] co, float[] counts, int n)
    {
        var sim = new float[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
                if (co[i * n + j] > 0) sim[i * n + j] = co[i * n + j] / MathF.Sqrt(counts[i] * counts[j]);
        return sim;
    }

    /// <summary>Σ over the customer's items i of their recency-weighted count times similarity(i, j), for every j.</summary>
    public void Propagate(CustomerHistory history, float[] similarity, Span<float> into)
    {
        into.Clear();
        int n = ItemCount;
        for (var k = 0; k < history.Items.Length; k++)
        {
            var row = similarity.AsSpan(history.Items[k] * n, n);
            var w = history.Decayed[k];
            for (var j = 0; j < n; j++) into[j] += w * row[j];
        }
    }
}
