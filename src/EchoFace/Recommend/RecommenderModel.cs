using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EchoFace.Recommend;

/// <summary>One customer's list: which model made it, whether it is the non-personal cold-start list, and the artifact version.</summary>
public sealed record Recommendation(string Customer, string Model, bool ColdStart, long Version, IReadOnlyList<RecommendedItem> Items);

public sealed record RecommendedItem(string Item, float Score);

/// <summary>What `recommender.json` records about a trained artifact.</summary>
public sealed record RecommenderManifest
{
    public const int CurrentFormat = 1;
    public int Format { get; init; } = CurrentFormat;
    /// <summary>UTC training time as yyyyMMddHHmmss: grows with every training, so a device can tell newer from older.</summary>
    public long Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public required string Transactions { get; init; }
    public required string TransactionsSha256 { get; init; }
    public required string ColumnMap { get; init; }
    public required string TimeFormat { get; init; }
    public required ReadReport Read { get; init; }
    public ReadReport? Profiles { get; init; }
    public DateTime AsOf { get; init; }
    public double LabelWindowDays { get; init; }
    public required IReadOnlyList<string> Items { get; init; }
    public int Customers { get; init; }
    public required string DefaultModel { get; init; }
    public required string ColdStartModel { get; init; }
    public required IReadOnlyList<string> FeatureSchema { get; init; }
    public required ImplicitAls.Options Als { get; init; }
    public required LearnedRanker.Options Ranker { get; init; }
    public float HalfLifeDays { get; init; } = PurchaseHistory.HalfLifeDays;
    public required EvaluationResult Evaluation { get; init; }
    public required IReadOnlyDictionary<string, string> Files { get; init; }
}

/// <summary>
/// A trained recommender as a folder: `recommender.json` (manifest: version, item index, feature schema, metrics, file hashes),
/// `purchases.bin` (the training purchases the history is rebuilt from), `als.bin`, `profiles.json` and `ranker.zip`. Written to a
/// temporary folder and moved into place, so a crash never leaves half an artifact where the old one was.
/// </summary>
public sealed class RecommenderModel
{
    public const string ManifestFile = "recommender.json";
    private const string PurchasesFile = "purchases.bin", AlsFile = "als.bin", ProfilesFile = "profiles.json", RankerFile = "ranker.zip";

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly Dictionary<string, IRecommender> _models;
    private readonly Microsoft.ML.ITransformer? _rankerModel;

    /// <param name="models">the models already built over this history (training has them); built here when loading</param>
    private RecommenderModel(RecommenderManifest manifest, TransactionSet set, PurchaseHistory history, ImplicitAls als,
        CustomerProfiles profiles, Microsoft.ML.ITransformer? rankerModel, Dictionary<string, IRecommender>? models = null)
    {
        Manifest = manifest;
        Set = set;
        History = history;
        Als = als;
        Profiles = profiles;
        _rankerModel = rankerModel;
        _models = models ?? Recommenders.Build(history, als, rankerModel, profiles, set.Customers);
    }

    public RecommenderManifest Manifest { get; }
    public TransactionSet Set { get; }
    public PurchaseHistory History { get; }
    public ImplicitAls Als { get; }
    public CustomerProfiles Profiles { get; }
    public IReadOnlyCollection<string> Models => _models.Keys;

    /// <summary>Evaluates every model on a time split, then refits them on all the purchases for serving.</summary>
    public static RecommenderModel Train(TransactionSet set, ReadReport read, ColumnMap map, CustomerProfiles profiles, ReadReport? profileReport,
        TrainOptions options, EvaluationResult evaluation, Action<string>? progress = null)
    {
        var asOf = set.Last.Date.AddDays(1);
        var window = evaluation.TestTo.Date.AddDays(1) - evaluation.Cutoff;
        var history = new PurchaseHistory(set, asOf);
        var (models, _, als, _, rankerModel) = RecommenderEvaluation.TrainAll(set, asOf, window, profiles, options, history, progress);
        var now = DateTimeOffset.UtcNow;
        var manifest = new RecommenderManifest
        {
            Version = long.Parse(now.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            CreatedAt = now,
            Transactions = read.Path,
            TransactionsSha256 = Sha256(read.Path),
            ColumnMap = map.ToString(),
            TimeFormat = read.TimeFormat,
            Read = read,
            Profiles = profileReport,
            AsOf = asOf,
            LabelWindowDays = window.TotalDays,
            Items = set.Items,
            Customers = set.Customers.Count,
            DefaultModel = evaluation.Winner,
            ColdStartModel = evaluation.ColdStart,
            FeatureSchema = new RankingFeatures(history, als, profiles, set.Customers).Names,
            Als = options.Als,
            Ranker = options.Ranker,
            Evaluation = evaluation,
            Files = new Dictionary<string, string>(),
        };
        return new RecommenderModel(manifest, set, history, als, profiles, rankerModel, models);
    }

    public IRecommender Model(string name) =>
        _models.TryGetValue(name, out var m) ? m : throw new BadInputException($"this artifact has no model '{name}' (it has: {string.Join(", ", _models.Keys)})");

    /// <summary>The customer's top k by the default model (or <paramref name="model"/>); a customer with no history gets the cold-start list, flagged.</summary>
    public Recommendation Recommend(string customer, int k = 10, string? model = null, float[]? scratch = null)
    {
        if (k < 1) throw new BadInputException($"k must be at least 1 (got {k})");
        var index = Set.CustomerIndex(customer);
        var cold = History.For(index) is null;
        var recommender = Model(cold ? Manifest.ColdStartModel : model ?? Manifest.DefaultModel);
        // a caller's scratch buffer (the daemon reuses one) may be longer than the catalogue: only its head is used
        var scores = scratch is not null && scratch.Length >= History.ItemCount ? scratch.AsSpan(0, History.ItemCount) : new float[History.ItemCount];
        recommender.Score(index, scores);
        var top = TopK.Of(scores, k, History.PopularityRank);
        var items = new RecommendedItem[top.Length];
        for (var i = 0; i < top.Length; i++) items[i] = new RecommendedItem(Set.Items[top[i]], scores[top[i]]);
        return new Recommendation(customer, recommender.Name, cold, Manifest.Version, items);
    }

    public void Save(string folder)
    {
        var target = Path.GetFullPath(folder);
        var parent = Path.GetDirectoryName(target.TrimEnd('/'))!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(target.TrimEnd('/'))}.{Environment.ProcessId}.tmp");
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        try
        {
            WritePurchases(Path.Combine(staging, PurchasesFile));
            WriteAls(Path.Combine(staging, AlsFile));
            File.WriteAllText(Path.Combine(staging, ProfilesFile), JsonSerializer.Serialize(
                new ProfilesDocument(Profiles.FeatureNames, Profiles.ByCustomer), Json));
            if (_rankerModel is not null) LearnedRanker.Save(_rankerModel, Manifest.FeatureSchema.Count, Path.Combine(staging, RankerFile));
            var files = Directory.GetFiles(staging).ToDictionary(f => Path.GetFileName(f), Sha256, StringComparer.Ordinal);
            File.WriteAllText(Path.Combine(staging, ManifestFile), JsonSerializer.Serialize(Manifest with { Files = files }, Json));
            var old = target + ".old";
            if (Directory.Exists(old)) Directory.Delete(old, true);
            if (Directory.Exists(target)) Directory.Move(target, old);
            Directory.Move(staging, target);
            if (Directory.Exists(old)) Directory.Delete(old, true);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
        }
    }

    public static RecommenderModel Load(string folder)
    {
        var manifestPath = Path.Combine(folder, ManifestFile);
        if (!File.Exists(manifestPath)) throw new BadInputException($"{folder} is not a recommender artifact (no {ManifestFile}; make one with `echoface recommend train`)");
        RecommenderManifest manifest;
        try { manifest = JsonSerializer.Deserialize<RecommenderManifest>(File.ReadAllText(manifestPath), Json)!; }
        catch (JsonException e) { throw new BadInputException($"{manifestPath} is not a valid manifest: {e.Message}", e); }
        if (manifest.Format != RecommenderManifest.CurrentFormat)
            throw new BadInputException($"{folder} has artifact format {manifest.Format}; this EchoFace reads {RecommenderManifest.CurrentFormat}: retrain it");
        foreach (var (file, sha) in manifest.Files)
        {
            var path = Path.Combine(folder, file);
            if (!File.Exists(path)) throw new BadInputException($"{folder} lacks {file}: the artifact is incomplete, retrain it");
            if (Sha256(path) != sha) throw new BadInputException($"{path} does not match the hash in {ManifestFile}: the artifact is damaged, retrain it");
        }
        var set = ReadPurchases(Path.Combine(folder, PurchasesFile), manifest.Items);
        var history = new PurchaseHistory(set, manifest.AsOf);
        var als = ReadAls(Path.Combine(folder, AlsFile));
        var doc = JsonSerializer.Deserialize<ProfilesDocument>(File.ReadAllText(Path.Combine(folder, ProfilesFile)), Json)!;
        var profiles = new CustomerProfiles(doc.Names, doc.ByCustomer);
        var ranker = manifest.Files.ContainsKey(RankerFile) ? LearnedRanker.Load(Path.Combine(folder, RankerFile)) : null;
        return new RecommenderModel(manifest, set, history, als, profiles, ranker);
    }

    private sealed record ProfilesDocument(IReadOnlyList<string> Names, IReadOnlyDictionary<string, float[]> ByCustomer);

    private void WritePurchases(string path)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write("EFRP1");
        w.Write(Set.Customers.Count);
        foreach (var c in Set.Customers) w.Write(c);
        w.Write(Set.Purchases.Length);
        foreach (var p in Set.Purchases)
        {
            w.Write(p.Customer);
            w.Write(p.Item);
            w.Write(p.At.Ticks);
            w.Write(p.Amount);
            w.Write(p.Rating);
        }
    }

    private static TransactionSet ReadPurchases(string path, IReadOnlyList<string> items)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        if (r.ReadString() != "EFRP1") throw new BadInputException($"{path} is not an EchoFace purchases file");
        var customers = new string[r.ReadInt32()];
        for (var i = 0; i < customers.Length; i++) customers[i] = r.ReadString();
        var purchases = new Purchase[r.ReadInt32()];
        for (var i = 0; i < purchases.Length; i++)
            purchases[i] = new Purchase(r.ReadInt32(), r.ReadInt32(), new DateTime(r.ReadInt64(), DateTimeKind.Utc), r.ReadSingle(), r.ReadSingle());
        return new TransactionSet(customers, items, purchases);
    }

    private void WriteAls(string path)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(Als.Factors);
        foreach (var array in new[] { Als.CustomerFactors, Als.ItemFactors })
        {
            w.Write(array.Length);
            foreach (var v in array) w.Write(v);
        }
    }

    private static ImplicitAls ReadAls(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        var factors = r.ReadInt32();
        float[] Read()
        {
            var a = new float[r.ReadInt32()];
            for (var i = 0; i < a.Length; i++) a[i] = r.ReadSingle();
            return a;
        }
        var customers = Read();
        return new ImplicitAls(factors, customers, Read());
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
