using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

/// <summary>How the data directory's storage stands: ok, low (snapshots paused, sent events pruned), full, or failing writes.</summary>
public enum StorageState { Ok, Low, Full, Failing }

/// <summary>
/// Watches the filesystem under the data directory, the way SD cards on boards fail: space running out, then writes refused
/// (ENOSPC, SQLITE_FULL), or writes failing (EIO, a read-only remount). Keeps a reserve file it gives up the moment a write
/// fails for space, so the outbox can still prune acknowledged events and store the held ones; it is made again once space
/// returns. Everyone who writes reports failures here; the daemon checks it every few seconds and says so in events and health.
/// </summary>
public sealed class StorageGuard(string dataDirectory, long minFreeBytes, long reserveBytes, TimeProvider? clock = null)
{
    public const string ReserveFile = "storage.reserve";
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private StorageState _failed = StorageState.Ok;

    /// <summary>The daemon keeps the reserve file; a command beside it (or without it) only measures.</summary>
    public bool KeepsReserve { get; set; }

    public StorageState State { get; private set; } = StorageState.Ok;
    public string? LastError { get; private set; }
    public DateTimeOffset? Since { get; private set; }
    public long FreeBytes { get; private set; } = -1;

    /// <summary>Snapshots are the first thing to stop: only while the storage is ok.</summary>
    public bool SnapshotsAllowed => State == StorageState.Ok;

    /// <summary>
    /// Writes that can wait (enrolment) are refused, with this reason, below the free-space floor or while writes fail; null while
    /// they may go ahead. Measured now, so another process (the CLI beside a running daemon) sees the same.
    /// </summary>
    public string? Refusal
    {
        get
        {
            var state = Check();
            return state == StorageState.Ok ? null
                : $"the data directory {dataDirectory} is {Words(state)} ({LastError ?? $"{FreeBytes / (1 << 20)} MiB free, below the " +
                  $"{minFreeBytes / (1 << 20)} MiB of Storage.MinFreeMegabytes"}): refused, nothing changed";
        }
    }

    public static string Words(StorageState state) => state switch
    {
        StorageState.Low => "low on space",
        StorageState.Full => "full",
        StorageState.Failing => "failing writes",
        _ => "ok",
    };

    /// <summary>full or failing for a storage error (SQLite's full, I/O, read-only; ENOSPC, EIO, EROFS), else null.</summary>
    public static StorageState? Classify(Exception e) => e switch
    {
        SqliteException { SqliteErrorCode: 13 } => StorageState.Full,
        SqliteException { SqliteErrorCode: 10 or 8 or 11 or 14 } => StorageState.Failing,
        IOException io when io.HResult == 28 || io.Message.Contains("No space left", StringComparison.Ordinal) => StorageState.Full,
        IOException io when io.HResult is 5 or 30 || io.Message.Contains("Read-only file system", StringComparison.Ordinal)
                            || io.Message.Contains("Input/output error", StringComparison.Ordinal) => StorageState.Failing,
        UnauthorizedAccessException u when u.InnerException is IOException { HResult: 30 } => StorageState.Failing,
        _ => null,
    };

    /// <summary>A write failed; true when it was a storage error (now recorded, and the reserve given up for room).</summary>
    public bool Failed(Exception e)
    {
        if (Classify(e) is not { } kind) return false;
        lock (_gate)
        {
            _failed = kind > _failed ? kind : _failed;
            LastError = e.Message;
            if (kind == StorageState.Full) TryDelete();
            Set(kind > State ? kind : State);
        }
        return true;
    }

    /// <summary>Measures the free space and moves the state: the daemon calls it every few seconds; returns the state now.</summary>
    public StorageState Check()
    {
        lock (_gate)
        {
            FreeBytes = Free();
            var reserve = Path.Combine(dataDirectory, ReserveFile);
            // full lasts until there is room for the reserve again; failing until a write works (Succeeded), whatever the free space
            var roomy = FreeBytes >= 0 && FreeBytes >= minFreeBytes + reserveBytes;
            if (_failed == StorageState.Full && roomy) (_failed, LastError) = (StorageState.Ok, null);
            if (KeepsReserve && _failed == StorageState.Ok && roomy && !File.Exists(reserve)) MakeReserve(reserve);
            var byFree = FreeBytes >= 0 && FreeBytes < minFreeBytes ? StorageState.Low : StorageState.Ok;
            Set(_failed > byFree ? _failed : byFree);
            return State;
        }
    }

    /// <summary>A write worked again after failing writes (the held events stored): that failure is over (full waits for space).</summary>
    public void Succeeded()
    {
        lock (_gate)
        {
            if (_failed != StorageState.Failing) return;
            _failed = StorageState.Ok;
            LastError = null;
        }
        Check();
    }

    private void Set(StorageState state)
    {
        if (state == State) return;
        State = state;
        Since = _clock.GetUtcNow();
    }

    private long Free()
    {
        try { return new DriveInfo(dataDirectory).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return -1; }
    }

    private void MakeReserve(string path)
    {
        try
        {
            // written, not just sized: a sparse file would give back nothing
            using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            var block = new byte[1 << 16];
            for (long n = 0; n < reserveBytes; n += block.Length) f.Write(block, 0, (int)Math.Min(block.Length, reserveBytes - n));
            f.Flush(flushToDisk: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete();
        }
    }

    private void TryDelete()
    {
        try { File.Delete(Path.Combine(dataDirectory, ReserveFile)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
