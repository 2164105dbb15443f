using System.Text;
using System.Text.Json;
using EchoFace.Access;
using EchoFace.Hardware;
using EchoFace.Sync;
using Microsoft.Extensions.Logging;

namespace EchoFace.Daemon;

/// <summary>
/// The door in Home Assistant (Fleet.HomeAssistant): discovery documents at each connection and whenever Home Assistant says it is
/// online again, then the lock, contact, person and access states as they change. Unlock from Home Assistant goes through the
/// same remote-unlock path as cmd/unlock (reason "Home Assistant"; refused while locked out or faulted, and the refusal is
/// shown on the lock's attributes). Strangers are never named: only a granted decision with a name sets the person sensor.
/// </summary>
public sealed class HomeAssistantBridge : IDisposable
{
    private readonly FleetLink _link;
    private readonly HomeAssistantDiscovery _discovery;
    private readonly DoorController _door;
    private readonly DoorTerminal _terminal;
    private readonly Func<string, string?> _unlock;
    private readonly ILogger _log;
    private readonly ITimer _poll;
    private readonly ITimer _clearPerson;
    private readonly TimeSpan _personFor;
    private readonly Lock _gate = new();
    private (string Lock, string Door)? _published;

    public HomeAssistantBridge(FleetLink link, FleetOptions fleet, DoorController door, DoorTerminal terminal, Func<string, string?> unlock,
        TimeProvider clock, ILogger log)
    {
        (_link, _door, _terminal, _unlock, _log) = (link, door, terminal, unlock, log);
        _discovery = new HomeAssistantDiscovery(fleet.HomeAssistant, link.Topics, fleet.Site, fleet.Device,
            typeof(HomeAssistantBridge).Assembly.GetName().Version?.ToString());
        _personFor = TimeSpan.FromSeconds(fleet.HomeAssistant.PersonSeconds);
        link.Subscribe(_discovery.HomeAssistantStatus);
        link.Subscribe(_discovery.LockCommand);
        link.OnConnected = AnnounceAsync;
        _terminal.Decided += OnDecided;
        _poll = clock.CreateTimer(_ => _ = PublishStatesAsync(force: false), null, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
        _clearPerson = clock.CreateTimer(_ => _ = PublishAsync(_discovery.PersonState, "none"), null, Timeout.InfiniteTimeSpan,
            Timeout.InfiniteTimeSpan);
    }

    public bool Handles(string topic) => topic == _discovery.HomeAssistantStatus || topic == _discovery.LockCommand;

    public async Task HandleAsync(string topic, byte[] payload)
    {
        var text = Encoding.UTF8.GetString(payload).Trim();
        if (topic == _discovery.HomeAssistantStatus)
        {
            // Home Assistant restarted: it forgets non-retained state, so everything is said again
            if (text == "online") await AnnounceAsync();
            return;
        }
        string? refusal = text switch
        {
            HomeAssistantDiscovery.Unlock or HomeAssistantDiscovery.Open => _unlock("Home Assistant"),
            HomeAssistantDiscovery.Lock => null, // the lock relocks by itself after Door.UnlockSeconds: nothing to do
            _ => $"unknown lock command '{(text.Length > 20 ? text[..20] : text)}' (UNLOCK, OPEN, LOCK)",
        };
        await PublishAsync(_discovery.LockAttributes, JsonSerializer.Serialize(new
        {
            lastCommand = text.Length > 20 ? text[..20] : text, result = refusal is null ? "done" : "refused", refusal, at = DateTimeOffset.UtcNow,
        }), retain: true);
        if (refusal is not null) _log.LogWarning("Home Assistant {Command} refused: {Refusal}", text, refusal);
        await PublishStatesAsync(force: true);
    }

    private async Task AnnounceAsync()
    {
        var documents = _discovery.Documents();
        foreach (var (topic, config) in documents) await PublishAsync(topic, config.ToJsonString(), retain: true);
        await PublishStatesAsync(force: true);
        _log.LogInformation("Home Assistant discovery published ({Count} entities)", documents.Count);
    }

    /// <summary>The lock and contact states, sent when they change (or on demand); retained, so Home Assistant has them after a restart.</summary>
    private async Task PublishStatesAsync(bool force)
    {
        var state = _door.State;
        var now = (Lock: state switch
        {
            DoorState.Locked => "LOCKED",
            DoorState.Fault or DoorState.ForcedOpen => "JAMMED",
            _ => "UNLOCKED",
        }, Door: state is DoorState.Open or DoorState.HeldOpen or DoorState.ForcedOpen ? "ON" : "OFF");
        lock (_gate)
        {
            if (!force && _published == now) return;
            _published = now;
        }
        await PublishAsync(_discovery.LockState, now.Lock, retain: true);
        await PublishAsync(_discovery.DoorState, now.Door, retain: true);
    }

    private void OnDecided(AccessDecision d)
    {
        var granted = d.Outcome == "granted";
        _ = PublishAsync(_discovery.AccessEvent, JsonSerializer.Serialize(new { event_type = granted ? "granted" : "denied", door = d.Door }));
        if (!granted || string.IsNullOrWhiteSpace(d.Name)) return;
        _ = PublishAsync(_discovery.PersonState, d.Name);
        _clearPerson.Change(_personFor, Timeout.InfiniteTimeSpan);
    }

    private Task<bool> PublishAsync(string topic, string payload, bool retain = false) =>
        _link.TryPublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain);

    public void Dispose()
    {
        _terminal.Decided -= OnDecided;
        _poll.Dispose();
        _clearPerson.Dispose();
    }
}
