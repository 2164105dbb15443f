using System.Text.Json;
using EchoFace.Sync;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EchoFace.Fleet;

/// <summary>
/// Sends what the store says devices are owed: each due enrolment or removal of the people registry (enroll/set, QoS 1) and each
/// pending step of a rollout (the device's retained config/desired). Claims are row locks with SKIP LOCKED, so every collector of
/// a group may run one; an unanswered enrolment is sent again after FleetServer.ResendSeconds while its device is online.
/// </summary>
public sealed class FleetDispatcher(NpgsqlDataSource db, FleetServerOptions server, Func<string, byte[], bool, CancellationToken, Task> publish,
    ILogger log)
{
    public long Sent, Configs;

    /// <summary>Checks the store every FleetServer.DispatchMilliseconds until stopped; a database or broker away is retried.</summary>
    public async Task RunAsync(Func<bool> connected, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(server.DispatchMilliseconds));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (!connected()) continue;
                try { await DispatchAsync(stop); }
                catch (Exception e) when (e is NpgsqlException or InvalidOperationException or MQTTnet.Exceptions.MqttCommunicationException
                                              or TimeoutException && !stop.IsCancellationRequested)
                {
                    // what was claimed and not sent is due again after the resend interval
                    log.LogWarning("Fleet dispatcher: {Reason}; trying again", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    /// <summary>One round: every due delivery and rollout step, sent.</summary>
    public async Task DispatchAsync(CancellationToken cancel)
    {
        var resend = TimeSpan.FromSeconds(server.ResendSeconds);
        var templates = new Dictionary<string, IReadOnlyList<FleetTemplate>>();
        foreach (var d in await PeopleRegistry.ClaimDueAsync(db, 200, resend, cancel))
        {
            var topic = FleetTopics.DeviceTopic(d.Site, d.Device, "enroll/set");
            if (d.Action == "remove")
            {
                var remove = new { requestId = d.RequestId, action = "remove", identity = new { id = d.PersonId } };
                await publish(topic, JsonSerializer.SerializeToUtf8Bytes(remove), false, cancel);
                Interlocked.Increment(ref Sent);
                continue;
            }
            if (!templates.TryGetValue(d.PersonId, out var all))
                templates[d.PersonId] = all = await PeopleRegistry.TemplatesAsync(db, d.PersonId, cancel);
            // a device that does not say which models it runs (older firmware) is sent every template, and refuses what it cannot take
            var fitting = d.FaceModels.Length == 0 ? all : [.. all.Where(t => d.FaceModels.Contains(t.ModelId))];
            if (fitting.Count == 0)
            {
                var reason = $"the fleet holds templates of {string.Join(", ", all.Select(t => t.ModelId).Distinct())}, this device runs " +
                             $"{string.Join(", ", d.FaceModels)}: enrol again (`echoface fleet people enroll`) to compute its model's templates";
                await PeopleRegistry.RefuseAsync(db, d.RequestId, reason, cancel);
                log.LogWarning("Fleet registry: {Person} not sent to {Site}/{Device}: {Reason}", d.PersonId, d.Site, d.Device, reason);
                continue;
            }
            await publish(topic, Upsert(d, fitting), false, cancel);
            Interlocked.Increment(ref Sent);
        }
        foreach (var c in await Rollouts.ClaimDueAsync(db, resend, cancel))
        {
            await publish(FleetTopics.Desired(c.Site, c.Device), System.Text.Encoding.UTF8.GetBytes(c.Document), true, cancel);
            Interlocked.Increment(ref Configs);
        }
    }

    /// <summary>The devices' enroll/set document (docs/fleet.md), with the templates of the models this device runs.</summary>
    private static byte[] Upsert(DueDelivery d, IReadOnlyList<FleetTemplate> templates) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        requestId = d.RequestId, action = "upsert", identity = new { id = d.PersonId, name = d.Name }, customer = d.Customer,
        templates = templates.Select(t => new
        {
            modality = "face", modelId = t.ModelId, modelVersion = t.ModelVersion, quality = t.Quality, source = t.Source,
            vector = Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Vector.AsSpan())),
        }),
    });
}
