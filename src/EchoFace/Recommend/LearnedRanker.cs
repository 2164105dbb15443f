using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace EchoFace.Recommend;

/// <summary>
/// The features the ranker sees for one (customer, item) pair: item popularity, the customer's own frequency and recency, the three
/// co-occurrence votes, the ALS score, the customer's activity, then their profile columns. Names are stored in the artifact as its schema.
/// </summary>
public sealed class RankingFeatures(PurchaseHistory history, ImplicitAls als, CustomerProfiles profiles, IReadOnlyList<string> customerIds)
{
    public const int CandidatesPerSource = 40;

    private static readonly string[] Base =
    [
        "item_popularity_log", "item_recent_popularity_log", "item_popularity_rank", "own_count", "own_share", "own_recent_count",
        "own_days_since", "basket_cooccurrence", "sequence_cooccurrence", "customer_cooccurrence", "als_score",
        "customer_baskets_log", "customer_days_since_last_basket", "item_last_month_share", "item_last_quarter_share", "item_same_season_last_year_share",
        "has_profile",
    ];

    /// <summary>Stands for "never bought": FastTree drops any row holding a NaN, so no feature may be missing.</summary>
    private const float Never = 10_000f;

    public IReadOnlyList<string> Names { get; } = [.. Base, .. profiles.FeatureNames.Select(n => "profile:" + n)];
    public int Count => Names.Count;

    /// <summary>What is computed once per customer and then read per candidate item.</summary>
    public sealed class CustomerView
    {
        public required CustomerHistory History { get; init; }
        public required float[] Basket { get; init; }
        public required float[] Sequence { get; init; }
        public required float[] Together { get; init; }
        public required float[] Als { get; init; }
        public required float[] Own { get; init; }
        public required float[] OwnRecent { get; init; }
        public required float[] OwnDays { get; init; }
        public required float[] Profile { get; init; }
        public required int[] Candidates { get; init; }
    }

    public CustomerView? View(int customer)
    {
        if (history.For(customer) is not { } h) return null;
        int n = history.ItemCount;
        float[] basket = new float[n], sequence = new float[n], together = new float[n], alsScores = new float[n];
        history.Propagate(h, history.BasketSimilarity, basket);
        history.Propagate(h, history.SequenceSimilarity, sequence);
        history.Propagate(h, history.CustomerSimilarity, together);
        als.Score(customer, alsScores);
        float[] own = new float[n], ownRecent = new float[n], ownDays = new float[n];
        Array.Fill(ownDays, Never);
        for (var k = 0; k < h.Items.Length; k++)
        {
            own[h.Items[k]] = h.Counts[k];
            ownRecent[h.Items[k]] = h.Decayed[k];
            ownDays[h.Items[k]] = h.DaysSinceLast[k];
        }
        // candidates: the union of each source's best items, so the ranker orders a short list instead of the whole catalogue
        var candidates = new SortedSet<int>(h.Items);
        var combined = new float[n];
        for (var j = 0; j < n; j++) combined[j] = basket[j] + sequence[j] + together[j];
        foreach (var source in new[] { history.Popularity, history.RecentPopularity, combined, alsScores })
            candidates.UnionWith(TopK.Of(source, CandidatesPerSource, history.PopularityRank));
        return new CustomerView
        {
            History = h, Basket = basket, Sequence = sequence, Together = together, Als = alsScores, Own = own, OwnRecent = ownRecent,
            OwnDays = ownDays, Profile = profiles.For(customerIds[customer]), Candidates = [.. candidates],
        };
    }

    public void Fill(CustomerView v, int item, Span<float> f)
    {
        f[0] = MathF.Log(1 + history.Popularity[item]);
        f[1] = MathF.Log(1 + history.RecentPopularity[item]);
        f[2] = history.PopularityRank[item];
        f[3] = v.Own[item];
        f[4] = v.Own[item] / v.History.Purchases;
        f[5] = v.OwnRecent[item];
        f[6] = v.OwnDays[item];
        f[7] = v.Basket[item];
        f[8] = v.Sequence[item];
        f[9] = v.Together[item];
        f[10] = v.Als[item];
        f[11] = MathF.Log(1 + v.History.Baskets);
        f[12] = v.History.DaysSinceLastBasket;
        f[13] = Share(history.LastMonth, _lastMonthTotal, item);
        f[14] = Share(history.LastQuarter, _lastQuarterTotal, item);
        f[15] = Share(history.SameSeasonLastYear, _seasonTotal, item);
        f[16] = v.Profile.Any(float.IsFinite) ? 1 : 0;
        for (var p = 0; p < v.Profile.Length; p++) f[Base.Length + p] = float.IsFinite(v.Profile[p]) ? v.Profile[p] : 0;
    }

    private readonly float _lastMonthTotal = history.LastMonth.Sum(), _lastQuarterTotal = history.LastQuarter.Sum(), _seasonTotal = history.SameSeasonLastYear.Sum();

    private static float Share(float[] counts, float total, int item) => total > 0 ? counts[item] / total : 0;
}

/// <summary>
/// Learning to rank (ML.NET FastTree LambdaMART) over <see cref="RankingFeatures"/>. Trained on the last window of the training period as
/// labels with features from before it, so it learns from the same kind of gap it predicts across; candidates outside the short list
/// rank after it by popularity.
/// </summary>
public sealed class LearnedRanker : IRecommender
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly RankingFeatures _features;
    private readonly PurchaseHistory _history;
    private readonly PredictionEngine<FeatureRow, RankScore> _engine;
    private readonly Lock _gate = new();

    public sealed record Options(int Trees = 30, int Leaves = 4, int MinLeafExamples = 300, double LearningRate = 0.1);

    public sealed record TrainingStats(int Groups, int Rows, int Positives, DateTime LabelsFrom, DateTime LabelsTo);

    public sealed class FeatureRow
    {
        public float Label { get; set; }
        public uint Group { get; set; }
        public float[] Features { get; set; } = [];
    }

    public sealed class RankScore
    {
        public float Score { get; set; }
    }

    private LearnedRanker(ITransformer model, PurchaseHistory history, RankingFeatures features)
    {
        _history = history;
        _features = features;
        _engine = _ml.Model.CreatePredictionEngine<FeatureRow, RankScore>(model, inputSchemaDefinition: Schema(features.Count));
    }

    public string Name => ModelNames.Ranker;

    private static SchemaDefinition Schema(int featureCount)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return schema;
    }

    /// <summary>Learns from <paramref name="set"/>'s purchases before <paramref name="asOf"/>: features up to asOf − window, labels in the window.</summary>
    /// <summary>
    /// Whether this machine can train the ranker: on x86-64 only. Under qemu-user on ARM64, ML.NET fails with a null reference
    /// while it builds the training data view (FastTree's native helper is x64 only as well); a ranker trained on x86-64 scores
    /// on ARM64 with the same lists (Arm64BuildTests).
    /// </summary>
    public static bool TrainsHere => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is
        System.Runtime.InteropServices.Architecture.X64;

    public static string DoesNotTrainHere =>
        $"the learning-to-rank model does not train on {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture} (ML.NET's " +
        "FastTree is x86-64 only): pass --no-ranker, or train on an x86-64 machine and copy the artifact, which serves here";

    public static (ITransformer Model, TrainingStats Stats) Train(TransactionSet set, DateTime asOf, TimeSpan window, CustomerProfiles profiles,
        ImplicitAls.Options alsOptions, Options options)
    {
        var labelsFrom = asOf - window;
        var history = new PurchaseHistory(set, labelsFrom);
        var features = new RankingFeatures(history, ImplicitAls.Train(history, alsOptions), profiles, set.Customers);
        var bought = new Dictionary<int, HashSet<int>>();
        foreach (var p in set.Purchases)
            if (p.At >= labelsFrom && p.At < asOf)
                (bought.TryGetValue(p.Customer, out var s) ? s : bought[p.Customer] = []).Add(p.Item);

        var rows = new List<FeatureRow>();
        int groups = 0, positives = 0;
        foreach (var (customer, items) in bought.OrderBy(kv => kv.Key))
        {
            if (features.View(customer) is not { } view) continue;
            if (!view.Candidates.Any(items.Contains)) continue; // a group with no positive teaches LambdaMART nothing
            groups++;
            foreach (var item in view.Candidates)
            {
                var f = new float[features.Count];
                features.Fill(view, item, f);
                var label = items.Contains(item) ? 1f : 0f;
                positives += (int)label;
                rows.Add(new FeatureRow { Label = label, Group = (uint)customer + 1, Features = f });
            }
        }
        if (groups < 10) throw new BadInputException($"too little history to train the ranker: {groups} customers bought again in the last {window.TotalDays:F0} days before {asOf:yyyy-MM-dd}");

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows, Schema(features.Count));
        var keyed = ml.Transforms.Conversion.MapValueToKey("GroupKey", nameof(FeatureRow.Group)).Fit(data).Transform(data);
        var trainer = ml.Ranking.Trainers.FastTree(new FastTreeRankingTrainer.Options
        {
            LabelColumnName = nameof(FeatureRow.Label),
            FeatureColumnName = nameof(FeatureRow.Features),
            RowGroupColumnName = "GroupKey",
            NumberOfTrees = options.Trees,
            NumberOfLeaves = options.Leaves,
            MinimumExampleCountPerLeaf = options.MinLeafExamples,
            LearningRate = options.LearningRate,
            NdcgTruncationLevel = 10,
        });
        var model = trainer.Fit(keyed);
        return (model, new TrainingStats(groups, rows.Count, positives, labelsFrom, asOf));
    }

    /// <summary>Serves a trained model over the full history (features as of the history's end).</summary>
    public static LearnedRanker Bind(ITransformer model, PurchaseHistory history, RankingFeatures features) => new(model, history, features);

    public static void Save(ITransformer model, int featureCount, string path)
    {
        var ml = new MLContext(seed: 1);
        var schema = ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), Schema(featureCount)).Schema;
        ml.Model.Save(model, schema, path);
    }

    public static ITransformer Load(string path)
    {
        try { return new MLContext(seed: 1).Model.Load(path, out _); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or IOException or InvalidDataException)
        {
            throw new BadInputException($"ranker model {path} cannot be loaded: {e.Message}", e);
        }
    }

    public void Score(int customer, Span<float> scores)
    {
        // outside the short list, items keep their popularity order below every candidate
        var top = _history.Popularity.Max() + 1;
        for (var i = 0; i < scores.Length; i++) scores[i] = -1e6f + _history.Popularity[i] / top;
        if (_features.View(customer) is not { } view) { _history.RecentPopularity.CopyTo(scores); return; }
        var row = new FeatureRow { Features = new float[_features.Count] };
        var prediction = new RankScore();
        lock (_gate)
        {
            foreach (var item in view.Candidates)
            {
                _features.Fill(view, item, row.Features);
                _engine.Predict(row, ref prediction);
                scores[item] = prediction.Score;
            }
        }
    }
}
