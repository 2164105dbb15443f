using System.Net;
using System.Text;
using System.Text.Json;
using EchoFace.Sync;
using EchoFace.Tests.Cli;
using EchoFace.Tests.Recommend;

namespace EchoFace.Tests.Sync;

/// <summary>recommendations/set over a real broker: pushed from a JSON set and from a trained artifact, stale and malformed sets; then the shelf display.</summary>
[Trait("Category", "Slow")]
public class RecommendationSyncTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();

    [Fact]
    public async Task Lists_pushed_by_the_fleet_are_applied_once_stale_and_bad_sets_change_nothing_and_the_shelf_display_shows_them()
    {
        using var broker = new Mosquitto();
        var cli = new CliRunner();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, cli.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        Assert.Equal(0, cli.Run("customers", "opt-in", "jolie", "c3").ExitCode);
        var retail = new Dictionary<string, string> { ["ECHOFACE__Access__Policy"] = "retail" };
        string[] fleet = ["--broker", broker.Url(), "--site", "lab", "--json"];

        using (var shelf = new DaemonProcess(broker, cli.DataDirectory, "shelf-1", retail))
        {
            shelf.WaitConnected();
            var set = Path.Combine(_dir, "lists.json");
            File.WriteAllText(set, """{"version": 7, "lists": {"c3": ["espresso beans", {"item": "oat milk", "score": 0.5}], "c9": ["tea"]}}""");
            var pushed = cli.Run(["fleet", "recommend", "push", set, "--device", "shelf-1", .. fleet]);
            Assert.True(pushed.ExitCode == 0, pushed.Stdout + pushed.Stderr + shelf.Log);
            var result = Assert.Single(pushed.Json.GetProperty("results").EnumerateArray());
            Assert.Equal("applied", result.GetProperty("status").GetString());
            Assert.Equal("2", result.GetProperty("customers").GetString());

            var again = cli.Run(["fleet", "recommend", "push", set, "--device", "shelf-1", .. fleet]);
            Assert.Equal(1, again.ExitCode);
            Assert.Equal("stale", Assert.Single(again.Json.GetProperty("results").EnumerateArray()).GetProperty("status").GetString());

            File.WriteAllText(set, """{"version": 8, "lists": {"c3": [42]}}""");
            var local = cli.Run(["fleet", "recommend", "push", set, "--device", "shelf-1", .. fleet]);
            Assert.Equal(2, local.ExitCode); // checked before anything is sent
            Assert.Contains("an item must be a string", local.Stderr);

            // what a device does with bad sets that reach it: rejected with the reason, the lists in force stay
            await using (var client = await FleetClient.ConnectAsync(new FleetOptions { Broker = broker.Url(), Site = "lab" }, CancellationToken.None))
            {
                await client.SubscribeAsync("echoface/lab/shelf-1/recommendations/result", CancellationToken.None);
                foreach (var bad in new[] { "{\"requestId\": \"a\", \"version\": 9", "{\"requestId\": \"b\", \"version\": 9, \"lists\": {}, \"colour\": 1}", "{\"requestId\": \"c\", \"version\": -1, \"lists\": {}}" })
                    await client.PublishAsync("echoface/lab/shelf-1/recommendations/set", Encoding.UTF8.GetBytes(bad), false, CancellationToken.None);
                var answers = await client.CollectAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15), CancellationToken.None);
                Assert.Equal(3, answers.Count(m => m.Payload.GetProperty("status").GetString() == "rejected"));
                Assert.Contains(answers, m => m.Payload.GetProperty("requestId").GetString() == "b" && m.Payload.GetProperty("error").GetString()!.Contains("unknown key 'colour'"));
                Assert.All(answers, m => Assert.Equal(7, m.Payload.GetProperty("applied").GetInt64()));
            }

            // an artifact becomes every customer's top k, versioned by the artifact (newer than 7)
            var model = Path.Combine(_dir, "model");
            Assert.Equal(0, cli.Run("recommend", "train", "--transactions", RecommenderTests.PlantedCsv(customers: 40), "--map", "customer=customer,item=item,time=date",
                "--no-ranker", "--out", model).ExitCode);
            var fromModel = cli.Run(["fleet", "recommend", "push", model, "--device", "shelf-1", "--k", "3", .. fleet]);
            Assert.True(fromModel.ExitCode == 0, fromModel.Stdout + fromModel.Stderr);
            Assert.Equal(40, fromModel.Json.GetProperty("customers").GetInt32());
            Assert.True(shelf.Stop(), shelf.Log);
        }

        // a door terminal turned into a shelf camera by the fleet, live: policy and camera in one push; it then sees the opted-in
        // customer and shows the fleet's list on its display endpoint
        var port = FreePort.Next();
        var video = TestEnvironment.Video(Path.Combine(_dir, "jolie.mp4"), 30, 0, jolie[2]);
        var corridor = TestEnvironment.Ffmpeg(Path.Combine(_dir, "corridor.mp4"), "-f", "lavfi", "-i", "color=c=gray:s=640x480:r=10:d=30", "-pix_fmt", "yuv420p");
        using (var shelf = new DaemonProcess(broker, cli.DataDirectory, "shelf-1", new Dictionary<string, string> { ["ECHOFACE__Camera__Source"] = $"file:{corridor}" },
                   camera: null, health: $"http://127.0.0.1:{port}"))
        {
            shelf.WaitConnected();
            shelf.WaitListening();
            // the display reads with a key of its own (read role), like every /v1 client
            var key = cli.Run("api-key", "create", "--role", "read", "--name", "shelf display", "--json").Json.GetProperty("key").GetString();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1/shelf/latest")).StatusCode);
            var doc = Path.Combine(_dir, "shelf.json");
            File.WriteAllText(doc, JsonSerializer.Serialize(new { Access = new { Policy = "retail" }, Camera = new { Source = $"file:{video}" } }));
            var pushed = cli.Run(["fleet", "push-config", doc, "--device", "shelf-1", .. fleet]);
            Assert.True(pushed.ExitCode == 0, pushed.Stdout + shelf.Log);
            Assert.Equal("[]", Assert.Single(pushed.Json.GetProperty("reports").EnumerateArray()).GetProperty("pendingRestart").GetString());
            shelf.WaitFor("Customer c3 seen", "the customer was not seen within 60 s");
            var response = await http.GetAsync("/v1/shelf/latest");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var latest = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("c3", latest.GetProperty("customer").GetString());
            Assert.Equal("fleet", latest.GetProperty("source").GetString());
            Assert.Equal(3, latest.GetProperty("items").GetArrayLength());
            Assert.StartsWith("fav", latest.GetProperty("items")[0].GetProperty("item").GetString());
            Assert.True(shelf.Stop(), shelf.Log);
        }
    }
}
