using System.Text.Json;
using EchoFace.Storage;
using EchoFace.Tests.Recommend;

namespace EchoFace.Tests.Cli;

/// <summary>`echoface run --policy retail`: a recognised, opted-in customer yields customer_seen with their products; nobody else leaves a trace.</summary>
[Trait("Category", "Slow")]
public class RetailRunTests
{
    private readonly CliRunner _cli = new();
    private readonly string _dir = TestEnvironment.TempDirectory();

    private (List<JsonElement> Events, string Stderr) Run(string camera)
    {
        var r = _cli.Run("run", "--camera", $"file:{camera}", "--once", "--policy", "retail", "--door", "simulated", "--health", "http://127.0.0.1:0", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        // the shelf's (simulated) door still reports its own state; everything else is what the shelf did
        return ([.. r.Json.GetProperty("events").EnumerateArray().Where(e => e.GetProperty("kind").GetString() != "status")], r.Stderr);
    }

    private void TrainModel()
    {
        var train = _cli.Run("recommend", "train", "--transactions", RecommenderTests.PlantedCsv(customers: 60), "--map", "customer=customer,item=item,time=date",
            "--no-ranker", "--out", Path.Combine(_cli.DataDirectory, "recommender"));
        Assert.True(train.ExitCode == 0, train.Stderr);
    }

    [Fact]
    public void An_opted_in_customer_gets_their_products_and_an_enrolled_person_without_consent_and_a_stranger_leave_nothing()
    {
        TrainModel();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        var katy = CliRunner.Photos("df_katy_perry");
        Assert.Equal(0, _cli.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        Assert.Equal(0, _cli.Run("enroll", "katy", katy[0], katy[1]).ExitCode);
        var optIn = _cli.Run("customers", "opt-in", "jolie", "c3", "--note", "loyalty desk");
        Assert.True(optIn.ExitCode == 0, optIn.Stderr);
        Assert.Equal(2, _cli.Run("customers", "opt-in", "nobody", "c4").ExitCode); // not enrolled
        Assert.Equal(2, _cli.Run("customers", "opt-in", "katy", "c3").ExitCode); // id taken

        var video = TestEnvironment.Video(Path.Combine(_dir, "shop.mp4"), 2, 1, jolie[2], katy[2], CliRunner.Photos("df_elon_musk")[0]);
        var (events, stderr) = Run(video);
        var seen = Assert.Single(events);
        Assert.Equal("customer_seen", seen.GetProperty("kind").GetString());
        var payload = seen.GetProperty("payload");
        Assert.Equal("c3", payload.GetProperty("customer").GetString());
        Assert.Equal("model", payload.GetProperty("source").GetString());
        Assert.False(payload.GetProperty("coldStart").GetBoolean());
        var items = payload.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("item").GetString()!).ToList();
        Assert.Equal(10, items.Count);
        Assert.StartsWith("fav", items[0]); // customer c3's own habits (segment 3), not the popular pool
        Assert.DoesNotContain("katy", stderr);
        Assert.DoesNotContain("jolie", payload.GetRawText()); // the event names the customer id, not the identity

        // once the consent is withdrawn, the same person is not reported any more
        Assert.Equal(0, _cli.Run("customers", "opt-out", "jolie").ExitCode);
        Assert.Empty(Run(video).Events);
        Assert.False(Directory.Exists(Path.Combine(_cli.DataDirectory, "snapshots")), "a shelf camera keeps no picture of anyone");
        Assert.Contains(_cli.Run("people", "show", "jolie", "--json").Json.GetProperty("audit").EnumerateArray(), a => a.GetProperty("action").GetString() == "opt-out");
    }

    [Fact]
    public void A_list_pushed_by_the_fleet_wins_over_the_local_model()
    {
        TrainModel();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, _cli.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        Assert.Equal(0, _cli.Run("customers", "opt-in", "jolie", "c3").ExitCode);
        using (var lists = new RecommendationStore(Path.Combine(_cli.DataDirectory, "echoface.db")))
            lists.Apply(42, replace: true, new Dictionary<string, IReadOnlyList<ListedItem>> { ["c3"] = [new("espresso beans", 0.9f), new("oat milk", null)] });
        var (events, _) = Run(TestEnvironment.Video(Path.Combine(_dir, "jolie.mp4"), 2, 0, jolie[2]));
        var payload = Assert.Single(events).GetProperty("payload");
        Assert.Equal("fleet", payload.GetProperty("source").GetString());
        Assert.Equal(42, payload.GetProperty("version").GetInt64());
        Assert.Equal(["espresso beans", "oat milk"], payload.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("item").GetString()));
    }
}
