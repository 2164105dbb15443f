using System.Diagnostics;

namespace EchoFace.Recommend;

public sealed record TrainOptions
{
    /// <summary>Share of purchases (the latest ones) held out for testing.</summary>
    public double TestFraction { get; init; } = 0.2;
    public ImplicitAls.Options Als { get; init; } = new();
    public LearnedRanker.Options Ranker { get; init; } = new();
    /// <summary>Train the learning-to-rank model too (the slowest; the others take well under a second).</summary>
    public bool WithRanker { get; init; } = true;
}

/// <summary>One model's mean scores over the test customers at one K.</summary>
public sealed record ModelScores(string Model, int K, double Precision, double Recall, double Map, double Ndcg, double HitRate, double Coverage, double Diversity);

/// <summary>A model's NDCG@10 minus popularity's, paired over the same customers, with a 95% confidence interval (normal approximation).</summary>
public sealed record VersusPopularity(string Model, double Delta, double Low, double High, double Relative);

public sealed record EvaluationResult(
    DateTime TrainFrom, DateTime Cutoff, DateTime TestTo, int TrainPurchases, int TestPurchases, int WarmCustomers, int ColdCustomers,
    IReadOnlyList<ModelScores> Warm, IReadOnlyList<ModelScores> Cold, IReadOnlyList<VersusPopularity> VersusPopularity, string Winner, string ColdStart,
    IReadOnlyDictionary<string, double> TrainSeconds, LearnedRanker.TrainingStats? Ranker)
{
    public ModelScores Score(string model, int k) => Warm.Single(s => s.Model == model && s.K == k);
}

/// <summary>
/// Splits by time (one cutoff for everyone: no model sees any purchase made after it, not even another customer's), trains every model
/// on the earlier part and scores each customer's later purchases. Customers with history are "warm"; the rest are cold starts.
/// </summary>
public static class RecommenderEvaluation
{
    public static readonly int[] Ks = [5, 10];

    /// <summary>The first day such that about <paramref name="testFraction"/> of purchases fall on or after it.</summary>
    public static DateTime Cutoff(TransactionSet set, double testFraction)
    {
        if (testFraction is <= 0 or >= 1) throw new BadInputException($"test fraction {testFraction} must lie between 0 and 1");
        var index = (int)Math.Clamp(Math.Round(set.Purchases.Length * (1 - testFraction)), 1, set.Purchases.Length - 1);
        var cutoff = set.Purchases[index].At.Date;
        if (cutoff <= set.First.Date) cutoff = set.First.Date.AddDays(1);
        if (cutoff > set.Last) throw new BadInputException("the transactions span a single day: a time split needs at least two");
        return cutoff;
    }

    /// <summary>The models trained on purchases before <paramref name="asOf"/>, by name.</summary>
    public static (Dictionary<string, IRecommender> Models, Dictionary<string, double> Seconds, ImplicitAls Als, LearnedRanker.TrainingStats? RankerStats, Microsoft.ML.ITransformer? RankerModel)
        TrainAll(TransactionSet set, DateTime asOf, TimeSpan labelWindow, CustomerProfiles profiles, TrainOptions options, PurchaseHistory history,
            Action<string>? progress = null)
    {
        if (options.WithRanker && !LearnedRanker.TrainsHere) throw new BadInputException(LearnedRanker.DoesNotTrainHere);
        var seconds = new Dictionary<string, double>();
        var watch = Stopwatch.StartNew();
        T Timed<T>(string name, Func<T> make)
        {
            progress?.Invoke(name);
            watch.Restart();
            var made = make();
            seconds[name] = watch.Elapsed.TotalSeconds;
            return made;
        }
        var als = Timed(ModelNames.Als, () => ImplicitAls.Train(history, options.Als));
        LearnedRanker.TrainingStats? stats = null;
        Microsoft.ML.ITransformer? rankerModel = null;
        if (options.WithRanker)
            (rankerModel, stats) = Timed(ModelNames.Ranker, () => LearnedRanker.Train(set, asOf, labelWindow, profiles, options.Als, options.Ranker));
        var models = Recommenders.Build(history, als, rankerModel, profiles, set.Customers);
        // the baselines only read the history's aggregates: nothing of their own to train
        foreach (var name in models.Keys.Where(n => !seconds.ContainsKey(n))) seconds[name] = 0;
        return (models, seconds, als, stats, rankerModel);
    }

    public static EvaluationResult Run(TransactionSet set, CustomerProfiles profiles, TrainOptions options, Action<string>? progress = null)
    {
        var cutoff = Cutoff(set, options.TestFraction);
        var window = set.Last.Date.AddDays(1) - cutoff;
        var history = new PurchaseHistory(set, cutoff);
        var (models, seconds, _, rankerStats, _) = TrainAll(set, cutoff, window, profiles, options, history, progress);

        var relevant = new Dictionary<int, HashSet<int>>();
        var testPurchases = 0;
        foreach (var p in set.Purchases.Where(p => p.At >= cutoff))
        {
            testPurchases++;
            (relevant.TryGetValue(p.Customer, out var s) ? s : relevant[p.Customer] = []).Add(p.Item);
        }
        var warm = relevant.Where(kv => history.For(kv.Key) is not null).OrderBy(kv => kv.Key).ToList();
        var cold = relevant.Where(kv => history.For(kv.Key) is null).OrderBy(kv => kv.Key).ToList();

        progress?.Invoke("scoring");
        var perCustomer = new Dictionary<string, double[]>();
        var warmScores = models.Values.SelectMany(m => Score(m, warm, history, perCustomer)).ToList();
        var coldScores = ModelNames.NonPersonal.SelectMany(n => Score(models[n], cold, history, null)).ToList();
        var versus = perCustomer.Select(kv => Versus(kv.Key, kv.Value, perCustomer[ModelNames.Popularity])).ToList();
        // a personal model must earn its cost: it is served only when it beats popularity beyond the noise (paired 95% interval above 0)
        var winner = warmScores.Where(s => s.K == 10)
            .Where(s => ModelNames.NonPersonal.Contains(s.Model) || versus.Single(v => v.Model == s.Model).Low > 0)
            .MaxBy(s => s.Ndcg)!.Model;
        // cold start: the best non-personal list on the customers it is for (on the warm ones when the test has no cold customer)
        var coldPool = cold.Count > 0 ? coldScores : warmScores.Where(s => ModelNames.NonPersonal.Contains(s.Model)).ToList();
        var coldStart = coldPool.Where(s => s.K == 10).MaxBy(s => s.Ndcg)!.Model;
        return new EvaluationResult(set.First, cutoff, set.Last, set.Purchases.Length - testPurchases, testPurchases, warm.Count, cold.Count,
            warmScores, coldScores, versus, winner, coldStart, seconds, rankerStats);
    }

    private static VersusPopularity Versus(string model, double[] ndcg, double[] popularity)
    {
        var diff = ndcg.Zip(popularity, (a, b) => a - b).ToArray();
        var mean = diff.Average();
        var se = diff.Length > 1 ? Math.Sqrt(diff.Sum(d => (d - mean) * (d - mean)) / (diff.Length - 1) / diff.Length) : 0;
        var basis = popularity.Average();
        return new VersusPopularity(model, mean, mean - 1.96 * se, mean + 1.96 * se, basis > 0 ? mean / basis : 0);
    }

    private static IEnumerable<ModelScores> Score(IRecommender model, List<KeyValuePair<int, HashSet<int>>> customers, PurchaseHistory history,
        Dictionary<string, double[]>? ndcgAt10)
    {
        if (customers.Count == 0) yield break;
        var k = Ks.Max();
        var scores = new float[history.ItemCount];
        var lists = new List<IReadOnlyList<int>>(customers.Count);
        foreach (var (customer, _) in customers)
        {
            model.Score(customer, scores);
            lists.Add(TopK.Of(scores, k, history.PopularityRank));
        }
        ndcgAt10?.Add(model.Name, [.. customers.Select((c, i) => RankingMetrics.Ndcg(lists[i], c.Value, 10))]);
        foreach (var at in Ks)
        {
            double p = 0, r = 0, map = 0, ndcg = 0, hit = 0, diversity = 0;
            for (var c = 0; c < customers.Count; c++)
            {
                var rel = customers[c].Value;
                p += RankingMetrics.Precision(lists[c], rel, at);
                r += RankingMetrics.Recall(lists[c], rel, at);
                map += RankingMetrics.AveragePrecision(lists[c], rel, at);
                ndcg += RankingMetrics.Ndcg(lists[c], rel, at);
                hit += RankingMetrics.HitRate(lists[c], rel, at);
                diversity += RankingMetrics.Diversity(lists[c], at, history.CustomerSimilarity, history.ItemCount);
            }
            double n = customers.Count;
            yield return new ModelScores(model.Name, at, p / n, r / n, map / n, ndcg / n, hit / n,
                RankingMetrics.Coverage(lists, at, history.ItemCount), diversity / n);
        }
    }
}
