using EchoFace.Fleet;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Fleet;

/// <summary>`echoface fleet migrate | events | devices | refused | serve` against a real PostgreSQL, as an operator runs them.</summary>
[Trait("Category", "Integration")]
public sealed class FleetCommandTests : IDisposable
{
    private readonly PostgresCluster _pg = new();
    private readonly CliRunner _cli = new();

    public void Dispose() => _pg.Dispose();

    [Fact]
    public async Task Migrate_then_read_events_devices_and_refusals_from_the_store()
    {
        var first = _cli.Run("fleet", "migrate", "--database", _pg.ConnectionString);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains($"applied {string.Join(", ", Enumerable.Range(1, FleetSchema.Latest))}", first.Stdout);
        Assert.Contains("nothing to do", _cli.Run("fleet", "migrate", "--database", _pg.ConnectionString).Stdout);

        await using (var store = new FleetStore(FleetStore.Open(_pg.ConnectionString), 10))
            await store.WriteAsync([FleetStoreTests.Status("door-a"), FleetStoreTests.Event("door-a", Ulid.NewUlid().ToString()),
                FleetStoreTests.Event("door-a", Ulid.NewUlid().ToString(), "denied"), FleetStoreTests.Event("ghost", Ulid.NewUlid().ToString())],
                "c1", default);

        var denied = _cli.Run("fleet", "events", "--database", _pg.ConnectionString, "--since", "2026-11-30T00:00Z", "--outcome", "denied", "--json");
        Assert.True(denied.ExitCode == 0, denied.Stderr);
        var line = Assert.Single(denied.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("\"denied\"", line);
        var table = _cli.Run("fleet", "events", "--database", _pg.ConnectionString, "--device", "door-a");
        Assert.Contains("2 event(s)", table.Stdout);
        Assert.Contains("door-a", _cli.Run("fleet", "devices", "--database", _pg.ConnectionString).Stdout);
        var refused = _cli.Run("fleet", "refused", "--database", _pg.ConnectionString);
        Assert.Contains("unknown device lab/ghost", refused.Stdout);
        Assert.Contains("1 refused message(s)", refused.Stdout);
    }

    [Fact]
    public void Wrong_or_missing_settings_are_named_and_exit_non_zero()
    {
        var noStore = _cli.Run("fleet", "events", "--since", "1h");
        Assert.NotEqual(0, noStore.ExitCode);
        Assert.Contains("set FleetServer.Database or give --database", noStore.Stderr);
        var serve = _cli.Run("fleet", "serve");
        Assert.NotEqual(0, serve.ExitCode);
        Assert.Contains("FleetServer.Database is not set", serve.Stderr);
        var since = _cli.Run("fleet", "events", "--database", _pg.ConnectionString, "--since", "last tuesday");
        Assert.NotEqual(0, since.ExitCode);
        Assert.Contains("--since 'last tuesday' is neither an ISO time", since.Stderr);
        var group = _cli.Run("fleet", "serve", "--database", _pg.ConnectionString, "--group", "a/b");
        Assert.NotEqual(0, group.ExitCode);
        Assert.Contains("FleetServer.Group must be a name", group.Stderr);
        var wrongDb = _cli.Run("fleet", "migrate", "--database", _pg.ConnectionString.Replace("Database=postgres", "Database=nosuchdb"));
        Assert.NotEqual(0, wrongDb.ExitCode);
        Assert.Contains("nosuchdb", wrongDb.Stderr);
    }
}
