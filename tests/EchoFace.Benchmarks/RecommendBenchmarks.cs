using BenchmarkDotNet.Attributes;
using EchoFace.Recommend;

namespace EchoFace.Benchmarks;

/// <summary>
/// Recommender on the groceries data (38,765 purchases, 3,898 customers, 167 categories): training each model, and serving one returning
/// customer's top 10 with each (budget: <= 5 ms per customer).
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 10)]
[MemoryDiagnoser]
[MedianColumn]
public class RecommendBenchmarks
{
    private TransactionSet _set = null!;
    private ReadReport _read = null!;
    private RecommenderModel _model = null!;
    private string[] _customers = null!;
    private readonly float[] _scratch = new float[200];
    private int _next;

    [Params(ModelNames.RecentPopularity, ModelNames.ItemToItem, ModelNames.Als, ModelNames.Ranker)]
    public string Model = "";

    [GlobalSetup]
    public void Setup()
    {
        (_set, _read) = TransactionReader.Read(Data.Path("retail", "groceries.csv"), ColumnMap.Groceries);
        var options = new TrainOptions();
        _model = RecommenderModel.Train(_set, _read, ColumnMap.Groceries, CustomerProfiles.None, null, options,
            RecommenderEvaluation.Run(_set, CustomerProfiles.None, options));
        _customers = [.. _set.Customers.Take(500)];
    }

    [Benchmark(Description = "serve one customer's top 10")]
    public Recommendation Serve() => _model.Recommend(_customers[_next++ % _customers.Length], 10, Model, _scratch);
}

/// <summary>Training time on the groceries data: the whole `recommend train` (evaluation split, then refit on everything).</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class RecommendTrainingBenchmarks
{
    private TransactionSet _set = null!;
    private ReadReport _read = null!;

    [GlobalSetup]
    public void Setup() => (_set, _read) = TransactionReader.Read(Data.Path("retail", "groceries.csv"), ColumnMap.Groceries);

    [Benchmark(Description = "read groceries.csv")]
    public TransactionSet Read() => TransactionReader.Read(Data.Path("retail", "groceries.csv"), ColumnMap.Groceries).Set;

    [Benchmark(Description = "train (evaluate on the split + refit)")]
    public RecommenderModel Train()
    {
        var options = new TrainOptions();
        return RecommenderModel.Train(_set, _read, ColumnMap.Groceries, CustomerProfiles.None, null, options, RecommenderEvaluation.Run(_set, CustomerProfiles.None, options));
    }
}
