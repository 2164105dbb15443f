using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Hardware;
using EchoFace.Storage;
using Microsoft.Extensions.Logging;

namespace EchoFace.Daemon;

/// <summary>A remote unlock request: from the fleet (cmd/unlock), Home Assistant's lock or the web console.</summary>
/// <param name="Via">the door's grant is in this name: fleet (cmd/unlock and Home Assistant) or console</param>
/// <param name="By">who asked, recorded in the event (the console's key)</param>
public sealed record UnlockRequest(string? Id, string? Reason, bool Override, string? Error = null, string Via = "fleet", object? By = null);

/// <summary>
/// Opens the door for a person who is not at it: needs a reason; refused while the door is faulted or locked out unless the request
/// says override. Every request, done or refused, is an event (access or alarm), so it is audited wherever it came from.
/// </summary>
public sealed class RemoteUnlock(DoorController door, AccessPolicy policy, EventOutbox outbox, ConfigurationInForce inForce, ILoggerFactory loggers)
{
    private readonly ILogger _log = loggers.CreateLogger("EchoFace.Access");

    /// <summary>The refusal, or null when the door opened.</summary>
    public string? Open(UnlockRequest r)
    {
        string? refusal = r.Error
            ?? (string.IsNullOrWhiteSpace(r.Reason) ? "a reason is required" : null)
            ?? (!r.Override && policy.LockedOut ? $"the door is locked out until {policy.LockedUntil:u} (send override: true to open anyway)" : null)
            ?? (!r.Override && door.State == DoorState.Fault ? "the door is in its fail position (send override: true to open anyway)" : null);
        if (refusal is null && !door.Grant(r.Via))
        {
            // faulted doors take no grants: an override drives the relay through a fresh resume
            door.Resume();
            door.Grant(r.Via);
        }
        outbox.Append(refusal is null ? "access" : "alarm", inForce.Current.Door.Name, new
        {
            type = refusal is null ? "remote_unlock" : "remote_unlock_refused", requestId = r.Id, reason = r.Reason, @override = r.Override, refusal,
            by = r.By,
        }, door.State.ToString());
        _log.LogInformation("Remote unlock {Outcome}: {Reason}", refusal is null ? "done" : "refused", refusal ?? r.Reason);
        return refusal;
    }
}
