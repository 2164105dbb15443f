using System.Globalization;
using System.Text;
using EchoFace.Recommend;

namespace EchoFace.Tests.Recommend;

[Trait("Category", "Integration")]
public class RecommenderTests
{
    /// <summary>
    /// Transactions with a structure planted: five segments of customers, each with four favourite items they buy again and again, plus one
    /// item per basket from a pool of ten popular items everybody buys. Popularity can only show the pool; anything personal must win.
    /// </summary>
    internal static string PlantedCsv(int customers = 300, int days = 300, int seed = 3)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("customer,item,date,segment_score\n");
        var start = new DateTime(2024, 1, 1);
        for (var c = 0; c < customers; c++)
        {
            var segment = c % 5;
            for (var day = random.Next(7); day < days; day += 4 + random.Next(8))
            {
                var date = start.AddDays(day).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                for (var n = 0; n < 2; n++) csv.Append($"c{c},fav{segment * 4 + random.Next(4)},{date},0\n");
                var pool = random.NextDouble() < 0.4 ? 20 : 20 + random.Next(10);
                csv.Append($"c{c},pool{pool},{date},0\n");
            }
        }
        var path = Path.Combine(TestEnvironment.TempDirectory(), "planted.csv");
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    private static readonly ColumnMap PlantedMap = ColumnMap.Parse("customer=customer,item=item,time=date");

    [Trait("Category", "Slow")]
    [Fact]
    public void Every_personal_model_beats_popularity_where_customers_have_habits()
    {
        var (set, _) = TransactionReader.Read(PlantedCsv(), PlantedMap);
        var result = RecommenderEvaluation.Run(set, CustomerProfiles.None, new TrainOptions());
        foreach (var model in new[] { ModelNames.OwnFrequent, ModelNames.ItemToItem, ModelNames.Als, ModelNames.Ranker })
        {
            var versus = result.VersusPopularity.Single(v => v.Model == model);
            Assert.True(versus.Low > 0.2, $"{model}: NDCG@10 {result.Score(model, 10).Ndcg:F3} vs popularity {result.Score(ModelNames.Popularity, 10).Ndcg:F3}");
        }
        Assert.NotEqual(ModelNames.Popularity, result.Winner);
        Assert.Equal(300, result.WarmCustomers);
        Assert.True(result.Score(ModelNames.Popularity, 10).Coverage < result.Score(ModelNames.ItemToItem, 10).Coverage);
    }

    [Fact]
    public void The_split_is_by_time_and_no_model_sees_a_later_purchase()
    {
        var (set, _) = TransactionReader.Read(PlantedCsv(), PlantedMap);
        var cutoff = RecommenderEvaluation.Cutoff(set, 0.2);
        var history = new PurchaseHistory(set, cutoff);
        var before = set.Purchases.Count(p => p.At < cutoff);
        Assert.Equal(before, (int)history.Popularity.Sum());
        Assert.InRange(set.Purchases.Length - before, set.Purchases.Length * 0.15, set.Purchases.Length * 0.25);
        Assert.All(history.Customers.OfType<CustomerHistory>(), h => Assert.True(h.DaysSinceLastBasket >= 0));
    }

    /// <summary>
    /// The groceries data hold next to no per-customer signal (past buyers of an item are no likelier to buy it again): the ranker's
    /// NDCG@10 is above popularity's (+0.6%, docs/recommendations.md) but within noise, so what is served stays non-personal.
    /// </summary>
    [Trait("Category", "Slow")]
    [Fact]
    public void On_the_groceries_split_the_ranker_edges_past_popularity_within_noise_and_a_non_personal_list_is_served()
    {
        var (set, _) = TransactionReader.Read(TestEnvironment.Data("retail", "groceries.csv"), ColumnMap.Groceries);
        var result = RecommenderEvaluation.Run(set, CustomerProfiles.None, new TrainOptions());
        var ranker = result.VersusPopularity.Single(v => v.Model == ModelNames.Ranker);
        var message = $"ranker NDCG@10 {result.Score(ModelNames.Ranker, 10).Ndcg:F4} vs popularity {result.Score(ModelNames.Popularity, 10).Ndcg:F4}, " +
                      $"difference {ranker.Low:F4} .. {ranker.High:F4}";
        Assert.True(ranker.Delta > 0, message);
        // the serving rule: a personal model only when it is better beyond noise, which on this data none is
        Assert.Equal(ranker.Low > 0, result.Winner == ModelNames.Ranker);
        Assert.Contains(result.Winner, ModelNames.NonPersonal.Append(ModelNames.Ranker));
        Assert.True(result.VersusPopularity.Single(v => v.Model == ModelNames.Als).High < 0); // ALS alone is clearly worse here
        Assert.True(result.ColdCustomers > 0);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void A_saved_artifact_loads_and_gives_the_same_lists_with_every_model()
    {
        var (set, read) = TransactionReader.Read(PlantedCsv(customers: 120), PlantedMap);
        var options = new TrainOptions();
        var model = RecommenderModel.Train(set, read, PlantedMap, CustomerProfiles.None, null, options, RecommenderEvaluation.Run(set, CustomerProfiles.None, options));
        var folder = Path.Combine(TestEnvironment.TempDirectory(), "model");
        model.Save(folder);
        var loaded = RecommenderModel.Load(folder);
        Assert.Equal(model.Manifest.Version, loaded.Manifest.Version);
        Assert.Equal(model.Manifest.Items, loaded.Manifest.Items);
        Assert.Equal(model.Manifest.FeatureSchema, loaded.Manifest.FeatureSchema);
        Assert.Equal(model.Manifest.Evaluation.Winner, loaded.Manifest.Evaluation.Winner);
        foreach (var name in ModelNames.All)
            foreach (var customer in set.Customers)
                Assert.Equal(model.Recommend(customer, 10, name).Items, loaded.Recommend(customer, 10, name).Items);
    }

    [Fact]
    public void A_customer_without_history_gets_the_cold_start_list_flagged()
    {
        var (set, read) = TransactionReader.Read(PlantedCsv(customers: 60), PlantedMap);
        var options = new TrainOptions { WithRanker = false };
        var model = RecommenderModel.Train(set, read, PlantedMap, CustomerProfiles.None, null, options, RecommenderEvaluation.Run(set, CustomerProfiles.None, options));
        var cold = model.Recommend("never-seen", 5);
        Assert.True(cold.ColdStart);
        Assert.Contains(cold.Model, ModelNames.NonPersonal);
        Assert.Equal("pool20", cold.Items[0].Item);
        var warm = model.Recommend("c0", 5);
        Assert.False(warm.ColdStart);
        Assert.StartsWith("fav", warm.Items[0].Item);
        Assert.Throws<BadInputException>(() => model.Recommend("c0", 5, ModelNames.Ranker)); // not trained
    }

    [Fact]
    public void A_damaged_or_incomplete_artifact_is_refused_and_saving_again_replaces_it_whole()
    {
        var (set, read) = TransactionReader.Read(PlantedCsv(customers: 60), PlantedMap);
        var options = new TrainOptions { WithRanker = false };
        var model = RecommenderModel.Train(set, read, PlantedMap, CustomerProfiles.None, null, options, RecommenderEvaluation.Run(set, CustomerProfiles.None, options));
        var folder = Path.Combine(TestEnvironment.TempDirectory(), "model");
        model.Save(folder);
        File.AppendAllText(Path.Combine(folder, "als.bin"), "x");
        Assert.Contains("does not match the hash", Assert.Throws<BadInputException>(() => RecommenderModel.Load(folder)).Message);
        model.Save(folder);
        Assert.Equal(model.Manifest.Version, RecommenderModel.Load(folder).Manifest.Version);
        Assert.DoesNotContain(Directory.GetDirectories(Path.GetDirectoryName(folder)!), d => d != folder);
        File.Delete(Path.Combine(folder, "purchases.bin"));
        Assert.Contains("lacks purchases.bin", Assert.Throws<BadInputException>(() => RecommenderModel.Load(folder)).Message);
        Assert.Contains("not a recommender artifact", Assert.Throws<BadInputException>(() => RecommenderModel.Load(TestEnvironment.TempDirectory())).Message);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Profile_columns_become_ranker_features_and_survive_a_round_trip()
    {
        var csv = PlantedCsv(customers: 100);
        var (set, read) = TransactionReader.Read(csv, PlantedMap);
        var profilePath = Path.Combine(TestEnvironment.TempDirectory(), "profiles.csv");
        File.WriteAllLines(profilePath, ["customer,platform,engagement", .. set.Customers.Select((c, i) => $"{c},{(i % 2 == 0 ? "instagram" : "tiktok")},{i % 5}")]);
        var (profiles, profileRead) = CustomerProfiles.Read(profilePath, "customer");
        var options = new TrainOptions();
        var model = RecommenderModel.Train(set, read, PlantedMap, profiles, profileRead, options, RecommenderEvaluation.Run(set, profiles, options));
        Assert.Contains("profile:engagement", model.Manifest.FeatureSchema);
        Assert.Contains("profile:platform=tiktok", model.Manifest.FeatureSchema);
        var folder = Path.Combine(TestEnvironment.TempDirectory(), "model");
        model.Save(folder);
        var loaded = RecommenderModel.Load(folder);
        Assert.Equal(model.Recommend("c7", 10, ModelNames.Ranker).Items, loaded.Recommend("c7", 10, ModelNames.Ranker).Items);
    }
}
