using System.Text.Json;
using EchoFace.Tests.Cli;
using static EchoFace.Tests.Fleet.CollectorTests;

namespace EchoFace.Tests.Fleet;

/// <summary>
/// The fleet registry and rollouts end to end: `fleet serve` on a real PostgreSQL and mosquitto, real daemons as the devices, the
/// operator's `fleet people` and `fleet rollout` commands. An offline device catches up when it returns; an erasure is shown per device.
/// </summary>
[Trait("Category", "Slow")]
public sealed class RegistryTests : IDisposable
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private readonly PostgresCluster _pg = new();
    private readonly Mosquitto _broker;
    private readonly CollectorProcess _collector;
    private readonly CliRunner _cli = new();
    private readonly List<IDisposable> _devices = [];

    public RegistryTests()
    {
        _broker = new Mosquitto(directory: Path.Combine(_dir, "broker"));
        _collector = new CollectorProcess(_broker.Url(), _pg.ConnectionString, "c1");
    }

    public void Dispose()
    {
        foreach (var d in _devices) d.Dispose();
        _collector.Dispose();
        _broker.Dispose();
        _pg.Dispose();
    }

    private DaemonProcess Device(string name, string group)
    {
        var d = new DaemonProcess(_broker, Path.Combine(_dir, name), name, new Dictionary<string, string> { ["ECHOFACE__Fleet__Group"] = group });
        _devices.Add(d);
        d.WaitConnected();
        return d;
    }

    /// <summary>The CLI on a device's own data (read while its daemon runs, as an installer on the board would).</summary>
    private CliRunner OnDevice(string name) => new() { DataDirectory = Path.Combine(_dir, name) };

    private CliResult Fleet(params string[] args) => _cli.Run(["fleet", .. args, "--database", _pg.ConnectionString]);

    /// <summary>Each device's row of `fleet status --json`, by name.</summary>
    private Dictionary<string, JsonElement> Status() =>
        Fleet("status", "--json").Json.GetProperty("devices").EnumerateArray().ToDictionary(d => d.GetProperty("device").GetString()!);

    private void Registered(params string[] devices) =>
        Eventually.True(() => { var s = Status(); return devices.All(d => s.TryGetValue(d, out var row) && row.GetProperty("state").GetString() == "online"); },
            $"{string.Join(", ", devices)} online in the registry", context: () => _collector.Log);

    private static Dictionary<string, JsonElement> ByDevice(JsonElement devices) =>
        devices.EnumerateArray().ToDictionary(d => d.GetProperty("device").GetString()!);

    [Fact]
    public void A_person_enrolled_for_a_group_reaches_each_device_of_it_an_offline_one_when_it_returns_and_the_erasure_is_shown_per_device()
    {
        var a = Device("door-a", "hq");
        var b = Device("door-b", "hq");
        Device("door-c", "lobby");
        Registered("door-a", "door-b", "door-c");
        Assert.True(b.Stop(), b.Log);
        Eventually.True(() => Status()["door-b"].GetProperty("state").GetString() == "offline", "door-b offline in the registry");

        var jolie = CliRunner.Photos("df_angelina_jolie");
        var enrolled = Fleet("people", "enroll", "jolie", jolie[0], jolie[1], "--name", "Angelina Jolie", "--group", "hq", "--json");
        Assert.True(enrolled.ExitCode == 0, enrolled.Stdout + enrolled.Stderr + _collector.Log + a.Log);
        var sent = ByDevice(enrolled.Json.GetProperty("devices"));
        Assert.Equal(["door-a", "door-b"], sent.Keys.Order());
        Assert.Equal("applied", sent["door-a"].GetProperty("status").GetString());
        Assert.Equal(2, sent["door-a"].GetProperty("templates").GetInt32());
        Assert.Equal("pending", sent["door-b"].GetProperty("status").GetString());
        var onA = OnDevice("door-a").Run("people", "show", "jolie", "--json");
        Assert.Equal("Angelina Jolie", onA.Json.GetProperty("identity").GetProperty("displayName").GetString());

        // door-b comes back: the server sends what it missed
        b = Device("door-b", "hq");
        Eventually.True(() => ByDevice(Fleet("people", "show", "jolie", "--json").Json.GetProperty("devices"))["door-b"]
            .GetProperty("status").GetString() == "applied", "door-b caught up", context: () => _collector.Log + b.Log);
        var listed = Assert.Single(Fleet("people", "--json").Json.EnumerateArray());
        Assert.Equal(2, listed.GetProperty("applied").GetInt32());

        var erased = Fleet("people", "erase", "jolie", "--json");
        Assert.True(erased.ExitCode == 0, erased.Stdout + erased.Stderr + _collector.Log);
        Assert.All(erased.Json.GetProperty("devices").EnumerateArray(), d => Assert.Equal("removed", d.GetProperty("status").GetString()));
        var shown = Fleet("people", "show", "jolie", "--json").Json.GetProperty("person");
        Assert.Equal("erased", shown.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, shown.GetProperty("name").ValueKind);
        Assert.Equal(0, shown.GetProperty("templates").GetInt32());
        Assert.Equal(2, OnDevice("door-a").Run("people", "show", "jolie").ExitCode);
        Assert.Equal(2, OnDevice("door-b").Run("people", "show", "jolie").ExitCode);
        var table = Fleet("people", "show", "jolie").Stdout;
        Assert.Contains("erased", table);
        Assert.Equal(2, table.Split('\n').Count(l => l.Contains("removed")));
        var again = Fleet("people", "erase", "jolie");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("erased already", again.Stderr);
    }

    [Fact]
    public void A_rollout_stops_at_a_canary_that_rejects_it_and_a_good_one_reaches_every_device_including_one_that_joins_later()
    {
        Device("door-a", "hq");
        Device("door-b", "hq");
        Registered("door-a", "door-b");
        var bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, """{"Access": {"Policy": "face+iris"}}""");
        var stopped = Fleet("rollout", bad, "--group", "hq", "--canary", "1", "--json");
        Assert.True(stopped.ExitCode == 1, stopped.Stdout + stopped.Stderr + _collector.Log);
        var rollout = stopped.Json.GetProperty("rollout");
        Assert.Equal("stopped", rollout.GetProperty("state").GetString());
        Assert.Contains("rejected by lab/door-a", rollout.GetProperty("reason").GetString());
        Assert.Contains("Access.Policy", rollout.GetProperty("reason").GetString());
        var steps = ByDevice(stopped.Json.GetProperty("devices"));
        Assert.Equal("rejected", steps["door-a"].GetProperty("status").GetString());
        Assert.Equal("skipped", steps["door-b"].GetProperty("status").GetString());

        var good = Path.Combine(_dir, "good.json");
        File.WriteAllText(good, """{"Access": {"ReentrySeconds": 12}}""");
        var done = Fleet("rollout", good, "--group", "hq", "--canary", "1", "--json");
        Assert.True(done.ExitCode == 0, done.Stdout + done.Stderr + _collector.Log);
        Assert.Equal("done", done.Json.GetProperty("rollout").GetProperty("state").GetString());
        var version = done.Json.GetProperty("rollout").GetProperty("version").GetInt64();
        Assert.All(done.Json.GetProperty("devices").EnumerateArray(), d => Assert.Equal("applied", d.GetProperty("status").GetString()));

        // a device that joins the group later is owed the group's configuration
        Device("door-n", "hq");
        Eventually.True(() => Status().TryGetValue("door-n", out var n) && n.GetProperty("status").GetString() == "applied"
                              && n.GetProperty("configVersion").GetInt64() == version, "door-n got the group's configuration",
            context: () => _collector.Log);
        var table = Fleet("status", "--group", "hq").Stdout;
        Assert.Contains("stopped", table);
        Assert.Contains("rejected by lab/door-a", table);
    }
}
