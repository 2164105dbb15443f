using EchoFace.Tests.Recommend;

namespace EchoFace.Tests.Cli;

[Trait("Category", "Integration")]
public class RecommendCommandTests
{
    [Trait("Category", "Slow")]
    [Fact]
    public void Train_then_for_serves_a_customer_and_flags_a_stranger_as_cold_start()
    {
        var cli = new CliRunner();
        var csv = RecommenderTests.PlantedCsv(customers: 80);
        var out_ = Path.Combine(cli.DataDirectory, "model");
        var train = cli.Run("recommend", "train", "--transactions", csv, "--map", "customer=customer,item=item,time=date", "--out", out_, "--json");
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Equal(0, train.Json.GetProperty("read").GetProperty("malformed").GetInt64());
        Assert.True(File.Exists(Path.Combine(out_, "recommender.json")));

        var known = cli.Run("recommend", "for", "c3", "--model", out_, "--k", "4", "--json");
        Assert.True(known.ExitCode == 0, known.Stderr);
        Assert.False(known.Json.GetProperty("coldStart").GetBoolean());
        Assert.Equal(4, known.Json.GetProperty("items").GetArrayLength());
        Assert.StartsWith("fav", known.Json.GetProperty("items")[0].GetProperty("item").GetString());

        var stranger = cli.Run("recommend", "for", "someone-new", "--model", out_);
        Assert.Equal(0, stranger.ExitCode);
        Assert.Contains("cold start", stranger.Stdout);
    }

    [Fact]
    public void Eval_prints_every_model_side_by_side_and_writes_the_plot()
    {
        var cli = new CliRunner();
        var report = Path.Combine(cli.DataDirectory, "report");
        var eval = cli.Run("recommend", "eval", "--transactions", RecommenderTests.PlantedCsv(customers: 80), "--map", "customer=customer,item=item,time=date",
            "--report", report);
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        foreach (var model in EchoFace.Recommend.ModelNames.All) Assert.Contains(model, eval.Stdout);
        Assert.Contains("NDCG@10 against popularity", eval.Stdout);
        Assert.True(new FileInfo(Path.Combine(report, "models.png")).Length > 10_000);
        Assert.True(File.Exists(Path.Combine(report, "models.svg")));
    }

    [Fact]
    public void Bad_input_exits_2_with_the_reason_and_writes_nothing()
    {
        var cli = new CliRunner();
        var out_ = Path.Combine(cli.DataDirectory, "model");
        var csv = Path.Combine(cli.DataDirectory, "bad.csv");
        File.WriteAllText(csv, "who,what,when\n1,milk,2024-01-01\n");
        var wrongMap = cli.Run("recommend", "train", "--transactions", csv, "--out", out_);
        Assert.Equal(2, wrongMap.ExitCode);
        Assert.Contains("no column 'Member_number'", wrongMap.Stderr);
        var missing = cli.Run("recommend", "eval", "--transactions", "/nonexistent.csv");
        Assert.Equal(2, missing.ExitCode);
        var noModel = cli.Run("recommend", "for", "1", "--model", out_);
        Assert.Equal(2, noModel.ExitCode);
        Assert.Contains("recommend train", noModel.Stderr);
        Assert.False(Directory.Exists(out_));
    }
}
