using System.Text.Json;
using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Hardware;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Extensions.Logging;

namespace EchoFace.Daemon;

/// <summary>What the daemon does with messages from the fleet: desired configuration, enrolments, recommendation lists, cmd/unlock,
/// cmd/resync and cmd/export; and its telemetry.</summary>
public sealed class FleetHandlers
{
    private readonly FleetLink _link;
    private readonly ConfigShadow? _shadow;
    private readonly EchoFaceConfig _config;
    private readonly ConfigurationInForce _inForce;
    private readonly EventOutbox _outbox;
    private readonly DaemonTelemetry _telemetry;
    private readonly ILogger _log;
    private readonly Enrolment _enrolment;
    private readonly GalleryStore _store;
    private readonly DoorTerminal _terminal;
    private readonly RecommendationStore _lists;
    private readonly Media.CameraSource _camera;
    private readonly RemoteUnlock _unlock;

    public FleetHandlers(FleetLink link, RunRequest request, EchoFaceConfig config, ConfigurationInForce inForce, DoorController door,
        EventOutbox outbox, DaemonTelemetry telemetry, ILoggerFactory loggers, Enrolment enrolment, GalleryStore store,
        DoorTerminal terminal, RecommendationStore lists, Media.CameraSource camera, TimeProvider clock, RemoteUnlock unlock)
    {
        _unlock = unlock;
        (_link, _shadow, _config, _inForce) = (link, request.Shadow, config, inForce);
        (_outbox, _telemetry) = (outbox, telemetry);
        (_log, _enrolment, _store) = (loggers.CreateLogger("EchoFace.Fleet"), enrolment, store);
        (_terminal, _lists, _camera) = (terminal, lists, camera);
        link.Subscribe(link.Topics.EnrollSet);
        link.Subscribe(link.Topics.RecommendationsSet);
        if (_shadow is not null)
        {
            link.Subscribe(link.Topics.ConfigDesired);
            link.Subscribe(link.Topics.GroupConfigDesired);
        }
        link.Subscribe(link.Topics.Commands);
        if (config.Fleet.HomeAssistant.Enabled)
            _homeAssistant = new HomeAssistantBridge(link, config.Fleet, door, terminal,
                reason => RemoteUnlock(new CommandRequest($"ha-{Guid.NewGuid():N}"[..15], reason, false, null)), clock,
                loggers.CreateLogger("EchoFace.HomeAssistant"));
        link.OnMessage = HandleAsync;
    }

    private readonly HomeAssistantBridge? _homeAssistant;

    private Task HandleAsync(string topic, byte[] payload)
    {
        if (_homeAssistant is not null && _homeAssistant.Handles(topic)) return _homeAssistant.HandleAsync(topic, payload);
        if (_shadow is not null && (topic == _link.Topics.ConfigDesired || topic == _link.Topics.GroupConfigDesired))
            return OnDesiredConfigAsync(_shadow, topic == _link.Topics.GroupConfigDesired ? "group" : "device", payload);
        if (topic == _link.Topics.EnrollSet) return EnrollAsync(payload);
        if (topic == _link.Topics.RecommendationsSet) return RecommendationsAsync(payload);
        var name = topic[(topic.LastIndexOf('/') + 1)..];
        return name switch
        {
            "unlock" => UnlockAsync(payload),
            "resync" => ResyncAsync(payload),
            "export" => ExportAsync(payload),
            _ => AnswerAsync(name, Request(payload).Id, "refused", $"unknown command '{name}' (unlock, resync, export)"),
        };
    }

    private async Task OnDesiredConfigAsync(ConfigShadow shadow, string source, byte[] payload)
    {
        var report = shadow.Offer(source, payload, out var changed);
        // a retained document comes again on every reconnection: the one already applied needs no new answer
        if (report.Status == "ignored" && report.Version == shadow.Version(source)) return;
        if (report.Status == "applied")
        {
            // the live sections' monitors read the new configuration from now on; the other sections wait for a restart
            _inForce.Apply(shadow.Current, changed.Where(ConfigShadow.LiveSections.Contains));
            var camera = shadow.Current.Camera.Source;
            if (camera != _camera.Source)
            {
                // a camera that never started (Camera.Source none) or cannot take the new source opens it at the next start
                bool switched;
                try { switched = camera != "none" && _camera.Switch(camera); }
                catch (ArgumentException) { switched = false; }
                if (switched) _config.Camera.Source = camera;
                else if (!report.PendingRestart.Contains("Camera")) report = report with { PendingRestart = [.. report.PendingRestart, "Camera"] };
            }
            _log.LogInformation("Fleet {Source} configuration version {Version} applied (changed: {Changed}; needs a restart: {Pending})",
                source, report.Version, string.Join(", ", changed), string.Join(", ", report.PendingRestart));
        }
        else _log.LogWarning("Fleet {Source} configuration {Status}: {Error}", source, report.Status, report.Error);
        await _link.TryPublishAsync(_link.Topics.ConfigReported, ConfigShadow.Encode(report), retain: true);
    }

    private sealed record CommandRequest(string? Id, string? Reason, bool Override, string? Error);

    private static CommandRequest Request(byte[] payload)
    {
        if (payload.Length == 0) return new CommandRequest(null, null, false, null);
        if (payload.Length > 16 * 1024) return new CommandRequest(null, null, false, "command payload over 16 KiB");
        if (!System.Text.Unicode.Utf8.IsValid(payload)) return new CommandRequest(null, null, false, "command payload is not valid UTF-8 text");
        try
        {
            var root = JsonDocument.Parse(payload).RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new CommandRequest(null, null, false, "command payload is not a JSON object");
            string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var overrideFlag = root.TryGetProperty("override", out var o) && o.ValueKind == JsonValueKind.True;
            return new CommandRequest(Text("requestId"), Text("reason"), overrideFlag, null);
        }
        catch (JsonException e) { return new CommandRequest(null, null, false, $"malformed JSON: {e.Message}"); }
    }

    /// <summary>Remote unlock: needs a reason; refused while the door is faulted or locked out unless the request says override. Audited as an access event.</summary>
    private async Task UnlockAsync(byte[] payload)
    {
        var r = Request(payload);
        var refusal = RemoteUnlock(r);
        await AnswerAsync("unlock", r.Id, refusal is null ? "done" : "refused", refusal);
    }

    private string? RemoteUnlock(CommandRequest r) => _unlock.Open(new UnlockRequest(r.Id, r.Reason, r.Override, r.Error));

    private async Task ResyncAsync(byte[] payload)
    {
        var r = Request(payload);
        if (_shadow is not null)
            foreach (var source in new[] { "group", "device" })
                if (_shadow.Version(source) is { } v)
                    await _link.TryPublishAsync(_link.Topics.ConfigReported, ConfigShadow.Encode(new ConfigReport(v, source, "applied", null, DateTimeOffset.UtcNow, [])), retain: true);
        await _link.TryPublishAsync(_link.Topics.Telemetry, JsonSerializer.SerializeToUtf8Bytes(_telemetry.Report(), FleetLink.Json), retain: false);
        await AnswerAsync("resync", r.Id, r.Error is null ? "done" : "refused", r.Error);
    }

    /// <summary>
    /// enroll/set: {requestId, action: upsert | remove, identity: {id, name, group}, templates: [{modality, modelId, quality, source,
    /// vector: base64 float32}], customer?}. Face templates must be this device's model and size; the change is atomic and acknowledged on enroll/result.
    /// </summary>
    private async Task EnrollAsync(byte[] payload)
    {
        string? requestId = null, identity = null;
        string status = "applied";
        string? error = null;
        var count = 0;
        try
        {
            var request = EnrollRequest.Parse(payload);
            (requestId, identity) = (request.RequestId, request.Identity);
            if (request.Action == "remove")
            {
                // removing someone who is not here is done, not refused: an erasure that reaches every device can show it
                if (!_terminal.Exclusive(() => _enrolment.Remove(identity, "removed by the fleet")))
                    (status, error) = ("absent", $"identity '{identity}' is not enrolled here");
            }
            else
            {
                var detail = JsonSerializer.Serialize(new { requestId, from = "fleet" });
                // a retail opt-in travels with the person (given where the consent was recorded, audited here as coming from the fleet)
                var optIn = request.Customer is { } customer ? (customer, JsonSerializer.Serialize(new { requestId, customer, from = "fleet" })) : default;
                var import = new ImportRequest(identity, request.Name, request.Group, request.Templates, detail)
                {
                    Customer = request.Customer is null ? null : optIn,
                };
                count = _terminal.Exclusive(() => _enrolment.Import(import));
            }
        }
        catch (BadInputException e)
        {
            (status, error) = ("refused", e.Message);
        }
        _log.LogInformation("Fleet enrolment {Identity}: {Status} {Error}", identity, status, error);
        await _link.TryPublishAsync(_link.Topics.EnrollResult,
            JsonSerializer.SerializeToUtf8Bytes(new { requestId, identity, status, error, templates = count, at = DateTimeOffset.UtcNow }, FleetLink.Json), retain: false);
    }

    /// <summary>recommendations/set: per-customer lists with a version, applied whole or not at all; answered on recommendations/result.</summary>
    private async Task RecommendationsAsync(byte[] payload)
    {
        string? requestId = null, error = null;
        long? version = null;
        string status;
        var customers = 0;
        try
        {
            var set = RecommendationSet.Parse(payload);
            (requestId, version) = (set.RequestId, set.Version);
            customers = set.Lists.Count;
            status = _lists.Apply(set.Version, set.Replace, set.Lists) == ListSetOutcome.Applied ? "applied" : "stale";
            if (status == "stale") error = $"version {set.Version} is not newer than the applied {_lists.Version}";
        }
        catch (BadInputException e)
        {
            // a refused set may still name its request: read just that, so the answer can carry it
            (status, error, requestId) = ("rejected", e.Message, RecommendationSet.PeekRequestId(payload));
        }
        if (status == "applied") _log.LogInformation("Fleet recommendations version {Version} applied: {Customers} customers", version, customers);
        else _log.LogWarning("Fleet recommendations {Status}: {Error}", status, error);
        await _link.TryPublishAsync(_link.Topics.RecommendationsResult, JsonSerializer.SerializeToUtf8Bytes(
            new { requestId, version, status, error, customers, applied = _lists.Version, at = DateTimeOffset.UtcNow }, FleetLink.Json), retain: false);
    }

    /// <summary>cmd/export {requestId, identity}: the identity's templates, for copying to other devices (sealed at rest, so only over TLS in production).</summary>
    private async Task ExportAsync(byte[] payload)
    {
        string? requestId = null, id = null;
        try
        {
            var root = JsonDocument.Parse(payload).RootElement;
            requestId = root.TryGetProperty("requestId", out var r) ? r.GetString() : null;
            id = root.GetProperty("identity").GetString();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            await AnswerAsync("export", requestId, "refused", $"expected {{requestId, identity}}: {e.Message}");
            return;
        }
        // the store's connection is the frame loop's too: read it under the same lock
        var (who, stored, customer) = _terminal.Exclusive(() => id is null || _store.GetIdentity(id) is not { } w
            ? (null, [], null)
            : (w, _store.LoadTemplates("face", id).Concat(_store.LoadTemplates("voice", id)).ToList(), _store.CustomerOf(id)));
        if (who is null)
        {
            await AnswerAsync("export", requestId, "refused", $"unknown identity '{id}'");
            return;
        }
        var templates = stored.Select(t => new
        {
            modality = t.Modality, modelId = t.ModelId, modelVersion = t.ModelVersion, quality = t.Quality, source = t.Source,
            vector = Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Vector.AsSpan())),
        });
        await _link.TryPublishAsync(_link.Topics.CommandResult("export"), JsonSerializer.SerializeToUtf8Bytes(new
        {
            requestId, status = "done", identity = new { id = who.Id, name = who.DisplayName, group = who.Group }, customer, templates, at = DateTimeOffset.UtcNow,
        }, FleetLink.Json), retain: false);
    }

    private Task AnswerAsync(string name, string? requestId, string status, string? error) =>
        _link.TryPublishAsync(_link.Topics.CommandResult(name),
            JsonSerializer.SerializeToUtf8Bytes(new { requestId, status, error, at = DateTimeOffset.UtcNow }, FleetLink.Json), retain: false);

    /// <summary>Telemetry every period, and the outbox's retention bound applied before each.</summary>
    public async Task TelemetryLoopAsync(TimeSpan every, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var pruned = _outbox.Enforce(_config.Fleet.OutboxMaxEvents);
                if (pruned.Unsent > 0)
                {
                    _telemetry.Dropped(pruned.Unsent);
                    _log.LogWarning("Outbox over {Max} events: dropped {Low} unsent status/prompt/fault and {Access} unsent access/alarm events",
                        _config.Fleet.OutboxMaxEvents, pruned.LowPriority, pruned.Access);
                }
                await _link.TryPublishAsync(_link.Topics.Telemetry, JsonSerializer.SerializeToUtf8Bytes(_telemetry.Report(), FleetLink.Json), retain: false);
            }
        }
        catch (OperationCanceledException) { }
    }
}
