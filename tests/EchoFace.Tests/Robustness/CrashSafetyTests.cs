using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EchoFace.Configuration;
using EchoFace.Sync;
using EchoFace.Tests.Cli;
using EchoFace.Tests.Sync;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace EchoFace.Tests.Robustness;

/// <summary>
/// The daemon killed with SIGKILL at random points while people are enrolled over HTTP, configurations arrive from the fleet and
/// the outbox drains remote-unlock events to a real broker, 50 times. After every kill the database passes integrity_check;
/// at the end every acknowledged enrolment is stored, every acknowledged unlock's event reached the broker, and the
/// configuration in force is one whole document, never parts of two.
/// </summary>
[Trait("Category", "Slow")]
public class CrashSafetyTests(ITestOutputHelper output)
{
    private const int Kills = 50;

    /// <summary>Two settings in two sections that every document sets from its version: a half-applied document would break the pairing.</summary>
    private static byte[] Document(int version) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        version, Access = new { ReentrySeconds = 100 + version }, Door = new { HeldOpenSeconds = 30 + version },
    });

    [Fact]
    public async Task Fifty_kills_during_enrolment_config_apply_and_outbox_drain_lose_nothing_acknowledged()
    {
        using var broker = new Mosquitto();
        var cli = new CliRunner();
        var enrol = cli.Run("api-key", "create", "--role", "enrol", "--json").Json.GetProperty("key").GetString()!;
        // one person per identity folder (enrolling a face under a second id would be refused as someone else's)
        var people = Directory.GetDirectories(TestEnvironment.Data("faces", "photos")).Order(StringComparer.Ordinal)
            .Select(d => Directory.GetFiles(d).Order(StringComparer.Ordinal).ToArray()).ToArray();
        var options = new FleetOptions { Enabled = true, Broker = broker.Url(), Site = "lab", DeviceId = "manager" };
        await using var manager = await FleetClient.ConnectAsync(options, CancellationToken.None);
        await manager.SubscribeAsync("echoface/lab/crash/#", CancellationToken.None);

        var enrolled = new HashSet<string>();
        var refused = 0;
        var unlocked = new HashSet<string>();
        var applied = new List<long>();
        var delivered = new HashSet<string>();
        var rng = new Random(2026);
        var db = Path.Combine(cli.DataDirectory, "echoface.db");

        void Collect(IEnumerable<FleetMessage> messages)
        {
            foreach (var m in messages)
            {
                if (m.Topic.EndsWith("/cmd/unlock/result", StringComparison.Ordinal) && m.Payload.GetProperty("status").GetString() == "done")
                    unlocked.Add(m.Payload.GetProperty("requestId").GetString()!);
                else if (m.Topic.EndsWith("/config/reported", StringComparison.Ordinal) && m.Payload.GetProperty("status").GetString() == "applied")
                    applied.Add(m.Payload.GetProperty("version").GetInt64());
                else if (m.Topic.EndsWith("/events/access", StringComparison.Ordinal)
                         && m.Payload.GetProperty("data").TryGetProperty("requestId", out var id) && id.GetString() is { } rid)
                    delivered.Add(rid);
            }
        }

        for (var run = 0; run < Kills; run++)
        {
            var (daemon, at) = Api.HttpApiTests.Start(cli, new Dictionary<string, string>
            {
                ["ECHOFACE__Fleet__Enabled"] = "true", ["ECHOFACE__Fleet__Broker"] = broker.Url(), ["ECHOFACE__Fleet__Site"] = "lab",
                ["ECHOFACE__Fleet__DeviceId"] = "crash",
            });
            using (daemon)
            {
                daemon.WaitConnected();
                using var http = new HttpClient { BaseAddress = at, Timeout = TimeSpan.FromSeconds(10) };
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", enrol);
                var killAfter = TimeSpan.FromMilliseconds(rng.Next(20, 1500));
                var id = $"person-{run % people.Length}";
                var photo = people[run % people.Length][run / people.Length % people[run % people.Length].Length];
                var work = new List<Task>
                {
                    Task.Run(async () =>
                    {
                        using var form = new MultipartFormDataContent { { new StringContent(id), "id" }, { new ByteArrayContent(File.ReadAllBytes(photo)), "image", "a.jpg" } };
                        try
                        {
                            using var r = await http.PostAsync("/v1/people", form);
                            if (r.StatusCode == HttpStatusCode.Created) lock (enrolled) enrolled.Add(id); // acknowledged
                            else Interlocked.Increment(ref refused); // a photo the checks refuse (two faces, low quality): fine, not acknowledged
                        }
                        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { } // killed before answering
                    }),
                    manager.PublishRetainedAsync(FleetTopics.Desired("lab", "crash"), Document(run + 1), CancellationToken.None),
                    manager.PublishAsync(FleetTopics.DeviceTopic("lab", "crash", "cmd/unlock"),
                        Encoding.UTF8.GetBytes($$"""{"requestId": "unlock-{{run}}", "reason": "crash test", "override": true}"""), retain: false, CancellationToken.None),
                };
                await Task.Delay(killAfter);
                daemon.Process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
                daemon.Process.WaitForExit();
                await Task.WhenAll(work);
            }
            Collect(await manager.CollectAsync(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(2), CancellationToken.None));
            Assert.Equal("ok", IntegrityCheck(db));
        }

        // one clean run: it drains what the kills left in the outbox
        var (last, _) = Api.HttpApiTests.Start(cli, new Dictionary<string, string>
        {
            ["ECHOFACE__Fleet__Enabled"] = "true", ["ECHOFACE__Fleet__Broker"] = broker.Url(), ["ECHOFACE__Fleet__Site"] = "lab",
            ["ECHOFACE__Fleet__DeviceId"] = "crash",
        });
        using (last)
        {
            last.WaitConnected();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!unlocked.IsSubsetOf(delivered) && DateTime.UtcNow < deadline)
                Collect(await manager.CollectAsync(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(2), CancellationToken.None));
            Assert.True(last.Stop(), last.Log);
        }
        Assert.Equal("ok", IntegrityCheck(db));

        output.WriteLine($"{Kills} kills: {enrolled.Count} people's enrolments acknowledged ({refused} refused by the checks), {unlocked.Count} unlocks acknowledged ({delivered.Count} delivered), " +
                         $"configuration versions reported applied: {applied.Distinct().Count()}");
        // the kills landed all over: some requests were answered, some not
        Assert.True(enrolled.Count is > 0 and < Kills || unlocked.Count is > 0 and < Kills, $"{enrolled.Count} enrolments and {unlocked.Count} unlocks acknowledged of {Kills}");
        var stored = cli.Run("people", "list", "--json").Json.EnumerateArray().Select(p => p.GetProperty("id").GetString()).ToHashSet();
        Assert.All(enrolled, id => Assert.Contains(id, stored));
        Assert.Empty(unlocked.Except(delivered));
        Assert.NotEmpty(unlocked);

        // the configuration in force is one document, whole, at least as new as any the device said it applied
        using var shadow = new ConfigShadow(db, null);
        var version = shadow.Version("device") ?? 0;
        Assert.True(version >= (applied.Count == 0 ? 0 : applied.Max()), $"in force {version}, applied reported up to {applied.DefaultIfEmpty().Max()}");
        if (version > 0)
        {
            Assert.Equal(100.0 + version, shadow.Current.Access.ReentrySeconds);
            Assert.Equal(30.0 + version, shadow.Current.Door.HeldOpenSeconds);
        }
    }

    private static string IntegrityCheck(string db)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA integrity_check";
        return (string)cmd.ExecuteScalar()!;
    }
}
