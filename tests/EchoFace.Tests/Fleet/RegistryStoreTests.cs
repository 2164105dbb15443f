using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EchoFace.Fleet;
using EchoFace.Sync;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Tests.Fleet;

/// <summary>
/// The registry's and the rollouts' bookkeeping on a real PostgreSQL, driven the way the collector drives it (devices' messages
/// through the store, the dispatcher's rounds), with what would be published captured: stale answers, model mismatches,
/// erasure with a device away, group moves, re-sends, and two dispatchers that never send one delivery twice at once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RegistryStoreTests : IDisposable
{
    private readonly PostgresCluster _pg = new();
    private readonly FleetStore _store;
    private readonly ConcurrentQueue<(string Topic, JsonElement Body)> _sent = new();

    public RegistryStoreTests()
    {
        _store = new FleetStore(FleetStore.Open(_pg.ConnectionString), telemetryHistory: 3);
        _store.MigrateAsync(default).GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _store.DisposeAsync().AsTask().Wait();
        _pg.Dispose();
    }

    private FleetDispatcher Dispatcher() => new(_store.Source, new FleetServerOptions { ResendSeconds = 60 }, (topic, payload, _, _) =>
    {
        _sent.Enqueue((topic, JsonDocument.Parse(payload).RootElement.Clone()));
        return Task.CompletedTask;
    }, NullLogger.Instance);

    private static IncomingMessage Msg(string topic, string json) => IncomingMessage.Read(topic, Encoding.UTF8.GetBytes(json), 1 << 20);

    private Task Write(params IncomingMessage[] messages) => _store.WriteAsync(messages, "c1", default);

    private Task Online(string device, string group, string models = "\"fr_feature\"", string state = "online") => Write(Msg(
        $"echoface/lab/{device}/status",
        $$$"""{"state":"{{{state}}}","device":"{{{device}}}","site":"lab","group":"{{{group}}}","details":{"faceModels":[{{{models}}}]}}"""));

    private Task Answer(string device, string requestId, string status) => Write(Msg($"echoface/lab/{device}/enroll/result",
        $$$"""{"requestId":"{{{requestId}}}","status":"{{{status}}}","templates":1}"""));

    private static FleetTemplate Template(string model) => new(model, "v1", 0.9f, "a.jpg", [.. Enumerable.Range(0, 8).Select(i => i / 8f)]);

    private Task<long> Enroll(string id, string group, params string[] models) =>
        PeopleRegistry.EnrollAsync(_store.Source, id, id.ToUpperInvariant(), group, null, [.. models.Select(Template)], default);

    /// <summary>What the last dispatcher round sent, by device.</summary>
    private async Task<Dictionary<string, JsonElement>> Round()
    {
        _sent.Clear();
        await Dispatcher().DispatchAsync(default);
        return _sent.ToDictionary(s => s.Topic.Split('/')[2], s => s.Body);
    }

    private async Task<Dictionary<string, Delivery>> Deliveries(string id) =>
        (await PeopleRegistry.DeliveriesAsync(_store.Source, id, default)).ToDictionary(d => d.Device);

    [Fact]
    public async Task Only_the_answer_to_the_latest_revision_counts_and_a_device_of_another_model_is_refused_with_why()
    {
        await Online("door-a", "hq");
        await Online("door-m", "hq", "\"mobilefacenet_128\"");
        await Enroll("ann", "hq", "fr_feature");
        var first = await Round();
        Assert.Equal(["door-a"], first.Keys);
        Assert.Equal("fr_feature", first["door-a"].GetProperty("templates")[0].GetProperty("modelId").GetString());
        var refused = (await Deliveries("ann"))["door-m"];
        Assert.Equal("refused", refused.Status);
        Assert.Contains("this device runs mobilefacenet_128", refused.Error);

        Assert.Equal(2, await Enroll("ann", "hq", "fr_feature", "mobilefacenet_128"));
        var second = await Round();
        // the first revision's answer arrives late: it changes nothing
        await Answer("door-a", first["door-a"].GetProperty("requestId").GetString()!, "applied");
        Assert.Equal("pending", (await Deliveries("ann"))["door-a"].Status);
        foreach (var (device, body) in second) await Answer(device, body.GetProperty("requestId").GetString()!, "applied");
        var now = await Deliveries("ann");
        Assert.All(now.Values, d => Assert.Equal("applied", d.Status));
        Assert.All(second.Values, b => Assert.Single(b.GetProperty("templates").EnumerateArray()));
    }

    [Fact]
    public async Task An_erasure_waits_for_the_device_that_is_away_and_a_person_moved_to_another_group_leaves_the_old_one()
    {
        await Online("door-a", "hq");
        await Online("door-b", "hq");
        await Online("door-l", "lobby");
        await Enroll("bob", "hq", "fr_feature");
        foreach (var (device, body) in await Round()) await Answer(device, body.GetProperty("requestId").GetString()!, "applied");

        await Enroll("bob", "lobby", "fr_feature");
        var moved = await Round();
        Assert.Equal(["door-a", "door-b", "door-l"], moved.Keys.Order());
        Assert.Equal("remove", moved["door-a"].GetProperty("action").GetString());
        Assert.Equal("upsert", moved["door-l"].GetProperty("action").GetString());
        foreach (var (device, body) in moved) await Answer(device, body.GetProperty("requestId").GetString()!, "applied");
        Assert.Equal(["removed", "removed", "applied"], (await Deliveries("bob")).OrderBy(d => d.Key).Select(d => d.Value.Status));

        await Online("door-l", "lobby", state: "offline");
        Assert.True(await PeopleRegistry.EraseAsync(_store.Source, "bob", default));
        var erase = await Round();
        Assert.Equal(["door-a", "door-b"], erase.Keys.Order());
        foreach (var (device, body) in erase) await Answer(device, body.GetProperty("requestId").GetString()!, "absent");
        var person = (await PeopleRegistry.ListAsync(_store.Source, null, "bob", default))[0];
        Assert.Equal("erasing", person.State);
        Assert.Equal(0, person.Templates);
        Assert.Contains("being erased", (await Assert.ThrowsAsync<BadInputException>(() => Enroll("bob", "lobby", "fr_feature"))).Message);

        await Online("door-l", "lobby");
        var late = Assert.Single(await Round());
        Assert.Equal("remove", late.Value.GetProperty("action").GetString());
        await Answer("door-l", late.Value.GetProperty("requestId").GetString()!, "applied");
        person = (await PeopleRegistry.ListAsync(_store.Source, null, "bob", default))[0];
        Assert.Equal("erased", person.State);
        Assert.Null(person.Name);
        Assert.All((await Deliveries("bob")).Values, d => Assert.Equal("removed", d.Status));
        Assert.False(await PeopleRegistry.EraseAsync(_store.Source, "bob", default));
    }

    [Fact]
    public async Task An_unanswered_delivery_is_sent_again_after_the_resend_interval_and_two_dispatchers_never_send_one_twice()
    {
        await Online("door-a", "hq");
        foreach (var i in Enumerable.Range(0, 60)) await Enroll($"p{i:D2}", "hq", "fr_feature");
        await Task.WhenAll(Dispatcher().DispatchAsync(default), Dispatcher().DispatchAsync(default));
        Assert.Equal(60, _sent.Count);
        Assert.Equal(60, _sent.Select(s => s.Body.GetProperty("requestId").GetString()).Distinct().Count());
        Assert.Empty(await Round());
        // the resend interval passes (the database's clock moved on for this row)
        await using (var cmd = _store.Source.CreateCommand("UPDATE deliveries SET due_at = now() - interval '1 second' WHERE person_id = 'p07'"))
            await cmd.ExecuteNonQueryAsync();
        var again = Assert.Single(await Round());
        Assert.Equal(2, (await Deliveries("p07"))["door-a"].Attempts);
        Assert.Equal("p07", again.Value.GetProperty("identity").GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_rollout_needs_devices_and_a_newer_one_supersedes_the_one_in_progress()
    {
        var none = await Assert.ThrowsAsync<BadInputException>(() => Rollouts.CreateAsync(_store.Source, "hq", new JsonObject(), 1, default));
        Assert.Contains("no device of group 'hq'", none.Message);
        await Online("door-a", "hq");
        await Online("door-b", "hq");
        var first = await Rollouts.CreateAsync(_store.Source, "hq", JsonNode.Parse("""{"Access": {"ReentrySeconds": 11}}""")!.AsObject(), 1, default);
        Assert.Equal("canary", first.State);
        var sent = await Round();
        Assert.Equal(["door-a"], sent.Keys);
        Assert.Equal(first.Version, sent["door-a"].GetProperty("version").GetInt64());
        var second = await Rollouts.CreateAsync(_store.Source, "hq", JsonNode.Parse("""{"Access": {"ReentrySeconds": 12}}""")!.AsObject(), 0, default);
        Assert.True(second.Version > first.Version);
        var old = (await Rollouts.ListAsync(_store.Source, "hq", first.Id, default))[0];
        Assert.Equal(("stopped", "superseded"), (old.State, old.Reason));
        Assert.Equal(["door-a", "door-b"], (await Round()).Keys.Order());
        foreach (var d in new[] { "door-a", "door-b" })
            await Write(Msg($"echoface/lab/{d}/config/reported",
                $$$"""{"version":{{{second.Version}}},"source":"device","status":"applied","pendingRestart":["Camera"]}"""));
        Assert.Equal("done", (await Rollouts.ListAsync(_store.Source, "hq", second.Id, default))[0].State);
        var status = await Rollouts.StatusAsync(_store.Source, "hq", default);
        Assert.All(status, s => Assert.Equal(("applied", "Camera", second.Version), (s.Status, s.PendingRestart, s.ConfigVersion)));
    }

    [Fact]
    public async Task A_device_s_own_settings_go_on_top_of_its_group_s_and_stay_under_later_group_rollouts()
    {
        await Online("door-a", "hq");
        await Online("door-b", "hq");
        JsonObject Doc(string json) => JsonNode.Parse(json)!.AsObject();
        async Task Applied(Rollout r, params string[] devices)
        {
            foreach (var d in devices)
                await Write(Msg($"echoface/lab/{d}/config/reported", $$$"""{"version":{{{r.Version}}},"source":"device","status":"applied"}"""));
        }
        var group = await Rollouts.CreateAsync(_store.Source, "hq", Doc("""{"Access": {"ReentrySeconds": 11}}"""), 0, default);
        await Round();
        await Applied(group, "door-a", "door-b");
        var own = await Rollouts.CreateAsync(_store.Source, "ignored", Doc("""{"Access": {"MaxFaces": 9}}"""), 0, default, ("lab", "door-a"));
        Assert.Equal(("hq", "lab/door-a", 1), (own.Group, own.Device, own.Devices));
        var sent = Assert.Single(await Round());
        Assert.Equal("door-a", sent.Key);
        Assert.Equal((11, 9, own.Version), (sent.Value.GetProperty("Access").GetProperty("ReentrySeconds").GetInt32(),
            sent.Value.GetProperty("Access").GetProperty("MaxFaces").GetInt32(), sent.Value.GetProperty("version").GetInt64()));
        await Applied(own, "door-a");

        var later = await Rollouts.CreateAsync(_store.Source, "hq", Doc("""{"Access": {"ReentrySeconds": 13}}"""), 0, default);
        var both = await Round();
        Assert.Equal(9, both["door-a"].GetProperty("Access").GetProperty("MaxFaces").GetInt32());
        Assert.Equal(13, both["door-a"].GetProperty("Access").GetProperty("ReentrySeconds").GetInt32());
        Assert.False(both["door-b"].GetProperty("Access").TryGetProperty("MaxFaces", out _));
        Assert.All(both.Values, b => Assert.Equal(later.Version, b.GetProperty("version").GetInt64()));
        Assert.Equal("done", (await Rollouts.ListAsync(_store.Source, "hq", own.Id, default))[0].State);
        var unknown = await Assert.ThrowsAsync<BadInputException>(() =>
            Rollouts.CreateAsync(_store.Source, "hq", Doc("{}"), 0, default, ("lab", "door-z")));
        Assert.Contains("unknown device lab/door-z", unknown.Message);
    }
}
