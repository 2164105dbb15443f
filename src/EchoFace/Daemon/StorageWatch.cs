using EchoFace.Storage;
using Microsoft.Extensions.Logging;

namespace EchoFace.Daemon;

/// <summary>
/// The daemon's side of <see cref="StorageGuard"/>, every few seconds: measures the free space, prunes acknowledged events while
/// space is low, stores the events held while writes were refused, and records the change as a `storage_full`,
/// `storage_failing` or `storage_recovered` fault event (held with the rest until the storage takes it).
/// </summary>
public sealed class StorageWatch(StorageGuard guard, EventOutbox outbox, Func<string> door, ILogger log)
{
    private StorageState _reported = StorageState.Ok;

    public void Tick()
    {
        var state = guard.Check();
        if (state != StorageState.Ok)
        {
            var pruned = outbox.PruneSent();
            if (pruned > 0) log.LogWarning("Storage {State}: {Pruned} acknowledged events pruned to make room", state, pruned);
        }
        var stored = outbox.Flush();
        state = guard.State;
        var bad = state is StorageState.Full or StorageState.Failing;
        if (bad && _reported is not (StorageState.Full or StorageState.Failing))
        {
            log.LogError("Storage {State} under the data directory ({Error}; {Free} bytes free): snapshots stopped, {Held} events held in " +
                         "memory until it takes them; the door goes on deciding", state, guard.LastError, guard.FreeBytes, outbox.Held);
            outbox.Append("fault", door(), new
            {
                type = state == StorageState.Full ? "storage_full" : "storage_failing", error = guard.LastError,
                freeBytes = guard.FreeBytes
            });
            _reported = state;
        }
        else if (!bad && stored && _reported is StorageState.Full or StorageState.Failing)
        {
            log.LogInformation("Storage takes writes again ({Free} bytes free): held events stored", guard.FreeBytes);
            outbox.Append("fault", door(), new
            {
                type = "storage_recovered", was = _reported == StorageState.Full ? "full" : "failing",
                freeBytes = guard.FreeBytes, droppedHeld = outbox.DroppedHeld
            });
            _reported = state;
        }
    }
}
