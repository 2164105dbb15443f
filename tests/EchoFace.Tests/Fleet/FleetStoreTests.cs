using System.Text;
using EchoFace.Fleet;

namespace EchoFace.Tests.Fleet;

/// <summary>The fleet store on a real PostgreSQL cluster of its own: migrations, one row per ULID, refusals kept with their reason.</summary>
[Trait("Category", "Integration")]
public sealed class FleetStoreTests : IDisposable
{
    private readonly PostgresCluster _pg = new();
    private readonly FleetStore _store;

    public FleetStoreTests()
    {
        _store = new FleetStore(FleetStore.Open(_pg.ConnectionString), telemetryHistory: 3);
        _store.MigrateAsync(default).GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _store.DisposeAsync().AsTask().Wait();
        _pg.Dispose();
    }

    private static IncomingMessage Msg(string topic, string json) => IncomingMessage.Read(topic, Encoding.UTF8.GetBytes(json), 65536);

    public static IncomingMessage Status(string device, string state = "online") =>
        Msg($"echoface/lab/{device}/status",
            $$$"""{"state":"{{{state}}}","device":"{{{device}}}","site":"lab","version":"1.0","details":{"provider":"cpu"}}""");

    public static IncomingMessage Event(string device, string id, string outcome = "granted") =>
        Msg($"echoface/lab/{device}/events/access",
            $$$"""{"id":"{{{id}}}","at":"2026-12-01T08:00:00Z","kind":"access","site":"lab","device":"{{{device}}}",""" +
            $"\"data\":{{\"outcome\":\"{outcome}\"}}}}");

    private async Task<long> Scalar(string sql)
    {
        await using var cmd = _store.Source.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Migrations_are_versioned_applied_once_and_a_newer_database_is_refused()
    {
        Assert.Empty(await _store.MigrateAsync(default));
        Assert.Equal(FleetSchema.Latest, await Scalar("SELECT max(version) FROM schema_migrations"));
        Assert.Equal(FleetSchema.Migrations.Length, await Scalar("SELECT count(*) FROM schema_migrations"));
        var future = $"INSERT INTO schema_migrations (version, name) VALUES ({FleetSchema.Latest + 1}, 'future')";
        await using (var cmd = _store.Source.CreateCommand(future))
            await cmd.ExecuteNonQueryAsync();
        var e = await Assert.ThrowsAsync<ToolException>(() => _store.MigrateAsync(default));
        Assert.Contains("newer than this echoface", e.Message);
    }

    [Fact]
    public async Task A_resent_event_is_one_row_and_the_same_id_with_another_body_is_refused()
    {
        var id = Ulid.NewUlid().ToString();
        var first = await _store.WriteAsync([Status("door-a"), Event("door-a", id), Event("door-a", id)], "c1", default);
        Assert.Equal((1, 1, 1), (first.Events, first.Duplicates, first.Statuses));
        var again = await _store.WriteAsync([Event("door-a", id), Event("door-a", id, outcome: "denied")], "c2", default);
        Assert.Equal((0, 1), (again.Events, again.Duplicates));
        var conflict = Assert.Single(again.Refused);
        Assert.Contains($"duplicate event id {id} with a different body", conflict.Reason);
        Assert.Equal(1, await Scalar("SELECT count(*) FROM events"));
        Assert.Equal(1, await Scalar("SELECT count(*) FROM events WHERE outcome = 'granted' AND collector = 'c1'"));
        Assert.Equal(1, await Scalar("SELECT count(*) FROM refused WHERE reason LIKE 'duplicate event id%'"));
    }

    [Fact]
    public async Task Messages_of_a_device_never_seen_are_refused_not_stored()
    {
        var outcome = await _store.WriteAsync([Event("stranger", Ulid.NewUlid().ToString())], "c1", default);
        Assert.Equal(0, outcome.Events);
        Assert.Contains("unknown device lab/stranger", Assert.Single(outcome.Refused).Reason);
        Assert.Equal(0, await Scalar("SELECT count(*) FROM events"));
        var rows = await new FleetQueries(_store.Source).RefusedAsync(null, default);
        Assert.Equal(1, Assert.Single(rows).Count);
    }

    [Fact]
    public async Task The_registry_keeps_the_latest_status_telemetry_and_report_and_a_bounded_history()
    {
        await _store.WriteAsync([Status("door-a")], "c1", default);
        for (var i = 0; i < 5; i++)
            await _store.WriteAsync([Msg("echoface/lab/door-a/telemetry", $$$"""{"fps":{{{i}}}}""")], "c1", default);
        await _store.WriteAsync([Msg("echoface/lab/door-a/config/reported", """{"version":7,"status":"rejected","error":"bad value"}"""),
            Status("door-a", "offline")], "c1", default);
        var device = Assert.Single(await new FleetQueries(_store.Source).DevicesAsync(null, default));
        Assert.Equal(("offline", "1.0", "cpu", 7L, "rejected", "bad value"),
            (device.State, device.Version, device.Provider, device.ConfigVersion, device.ConfigStatus, device.ConfigError));
        Assert.Equal(4, device.Telemetry!.Value.GetProperty("fps").GetInt32());
        Assert.Equal(3, await Scalar("SELECT count(*) FROM telemetry"));
    }

    [Fact]
    public async Task Events_are_read_back_by_time_device_and_outcome()
    {
        await _store.WriteAsync([Status("door-a"), Status("door-b"), Event("door-a", Ulid.NewUlid().ToString()),
            Event("door-b", Ulid.NewUlid().ToString(), "denied"), Event("door-b", Ulid.NewUlid().ToString(), "granted")], "c1", default);
        var q = new FleetQueries(_store.Source);
        Assert.Equal(3, (await q.EventsAsync(new EventQuery(Since: DateTimeOffset.Parse("2026-11-30T00:00Z")), default)).Count);
        Assert.Empty(await q.EventsAsync(new EventQuery(Since: DateTimeOffset.Parse("2026-12-02T00:00Z")), default));
        Assert.Equal(2, (await q.EventsAsync(new EventQuery(Device: "door-b"), default)).Count);
        var denied = Assert.Single(await q.EventsAsync(new EventQuery(Outcome: "denied"), default));
        Assert.Equal("door-b", denied.Device);
        Assert.Equal("denied", denied.Body.GetProperty("data").GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task A_batch_is_stored_whole_or_not_at_all()
    {
        await _store.WriteAsync([Status("door-a")], "c1", default);
        // a refused row whose insert fails (topic NOT NULL) must take the batch's events down with it
        var broken = IncomingMessage.Refuse(null!, "x"u8, "test");
        await Assert.ThrowsAnyAsync<Exception>(() => _store.WriteAsync([Event("door-a", Ulid.NewUlid().ToString()), broken], "c1", default));
        Assert.Equal(0, await Scalar("SELECT count(*) FROM events"));
    }
}
