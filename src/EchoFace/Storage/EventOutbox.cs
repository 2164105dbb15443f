using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

public sealed record OutboxEvent(long Seq, string Id, DateTimeOffset At, string Kind, string? Door, string Payload, DateTimeOffset? SentAt);

/// <summary>
/// Events waiting for the fleet (access decisions, alarms, faults, prompts), in order, with a unique ULID each. A state change and
/// its event are written in one transaction, so neither exists without the other after a crash.
/// </summary>
public sealed class EventOutbox : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();

    private readonly StorageGuard? _guard;
    // appended while the storage refused writes: stored, in order, by Flush once it takes them again
    private readonly List<(string Id, string At, string Kind, string? Door, string Body, string? DoorState)> _held = [];

    /// <param name="guard">where storage failures are reported; without one, a failed append throws as before</param>
    /// <param name="fullSync">Storage.OutboxSynchronous: FULL (the default) keeps every committed event through a power cut</param>
    public EventOutbox(string databasePath, TimeProvider? clock = null, StorageGuard? guard = null, bool fullSync = true)
    {
        _db = Database.Open(databasePath, fullSync);
        // ids go on after the newest stored, even if the clock is now earlier than when it was written
        if (Database.Scalar(_db, "SELECT MAX(id) FROM outbox") is string newest && Ulid.TryParse(newest, out var last)) _lastId = last;
        _clock = clock ?? TimeProvider.System;
        _guard = guard;
    }

    /// <summary>Most events held in memory while the storage refuses writes; past it the oldest held are dropped and counted.</summary>
    public const int MaxHeld = 20_000;

    /// <summary>Events appended while the storage refused them, not stored yet (the fleet link sends only stored events).</summary>
    public int Held { get { lock (_gate) return _held.Count; } }

    /// <summary>Held events dropped because more than <see cref="MaxHeld"/> waited.</summary>
    public long DroppedHeld { get; private set; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Appends an event (and, when given, the door's new state) atomically; returns the event id.</summary>
    public string Append(string kind, string? door, object payload, string? doorState = null)
    {
        var now = _clock.GetUtcNow();
        var at = now.ToString("O", CultureInfo.InvariantCulture);
        var body = JsonSerializer.Serialize(payload, payload.GetType(), JsonOptions);
        string id;
        bool stored;
        lock (_gate)
        {
            id = NextId(now).ToString();
            var e = (id, at, kind, door, body, doorState);
            // while some wait, later ones wait behind them: the outbox's order is the order things happened
            stored = _held.Count == 0 && TryStore([e]);
            if (!stored) Hold(e);
        }
        if (stored) Appended?.Invoke();
        return id;
    }

    /// <summary>Stores events in one transaction; false when the storage refused them (reported to the guard).</summary>
    private bool TryStore(IReadOnlyList<(string, string, string, string?, string, string?)> events)
    {
        try { Store(events); }
        catch (Exception e) when (_guard is not null && _guard.Failed(e)) { return false; }
        return true;
    }

    /// <summary>
    /// A ULID after every one before it, whatever the wall clock does: when it stands still or goes back (NTP, an operator), the
    /// last id plus one (ULID's monotonic rule), so ids sort in the outbox's order.
    /// </summary>
    private Ulid NextId(DateTimeOffset now)
    {
        var id = Ulid.NewUlid(now);
        if (id.CompareTo(_lastId) > 0) return _lastId = id;
        Span<byte> bytes = stackalloc byte[16];
        _lastId.TryWriteBytes(bytes);
        for (var i = 15; i >= 6 && ++bytes[i] == 0; i--) { }
        return _lastId = new Ulid(bytes);
    }

    private Ulid _lastId;

    private void Hold((string, string, string, string?, string, string?) e)
    {
        if (_held.Count >= MaxHeld)
        {
            _held.RemoveAt(0);
            DroppedHeld++;
        }
        _held.Add(e);
    }

    /// <summary>Stores the held events in one transaction; true when none is left waiting (the storage took them).</summary>
    public bool Flush()
    {
        lock (_gate)
        {
            if (_held.Count == 0) return true;
            if (!TryStore(_held)) return false;
            _held.Clear();
        }
        _guard?.Succeeded();
        Appended?.Invoke();
        return true;
    }

    private void Store(IReadOnlyList<(string Id, string At, string Kind, string? Door, string Body, string? DoorState)> events)
    {
        using var tx = _db.BeginTransaction();
        foreach (var (id, at, kind, door, body, doorState) in events)
        {
            using (var insert = _db.CreateCommand())
            {
                insert.Transaction = tx;
                insert.CommandText = "INSERT INTO outbox(id, at, kind, door, payload) VALUES ($id, $at, $kind, $door, $payload)";
                insert.Parameters.AddWithValue("$id", id);
                insert.Parameters.AddWithValue("$at", at);
                insert.Parameters.AddWithValue("$kind", kind);
                insert.Parameters.AddWithValue("$door", (object?)door ?? DBNull.Value);
                insert.Parameters.AddWithValue("$payload", body);
                insert.ExecuteNonQuery();
            }
            if (doorState is null || door is null) continue;
            using var state = _db.CreateCommand();
            state.Transaction = tx;
            state.CommandText = "INSERT INTO door_state(door, state, since) VALUES ($door, $state, $at) " +
                                "ON CONFLICT(door) DO UPDATE SET state = excluded.state, since = excluded.since";
            state.Parameters.AddWithValue("$door", door);
            state.Parameters.AddWithValue("$state", doorState);
            state.Parameters.AddWithValue("$at", at);
            state.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>Deletes every acknowledged event (the first to go in the retention order) to give the storage room; how many.</summary>
    public long PruneSent()
    {
        lock (_gate)
        {
            try
            {
                using var cmd = _db.CreateCommand();
                cmd.CommandText = "DELETE FROM outbox WHERE sent_at IS NOT NULL";
                return cmd.ExecuteNonQuery();
            }
            catch (Exception e) when (_guard is not null && _guard.Failed(e)) { return 0; }
        }
    }

    /// <summary>Events not yet acknowledged by the fleet, oldest first (or every event with <paramref name="includeSent"/>).</summary>
    public IReadOnlyList<OutboxEvent> Read(int limit = 1000, bool includeSent = false, string? kind = null, long afterSeq = 0)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                SELECT seq, id, at, kind, door, payload, sent_at FROM outbox
                WHERE ($all = 1 OR sent_at IS NULL) AND ($kind IS NULL OR kind = $kind) AND seq > $after ORDER BY seq LIMIT $limit
                """;
            cmd.Parameters.AddWithValue("$all", includeSent ? 1 : 0);
            cmd.Parameters.AddWithValue("$kind", (object?)kind ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$limit", limit);
            cmd.Parameters.AddWithValue("$after", afterSeq);
            return Rows(cmd);
        }
    }

    private static List<OutboxEvent> Rows(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var list = new List<OutboxEvent>();
        while (r.Read())
            list.Add(new OutboxEvent(r.GetInt64(0), r.GetString(1), Parse(r.GetString(2)), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.GetString(5), r.IsDBNull(6) ? null : Parse(r.GetString(6))));
        return list;
    }

    /// <summary>What the console filters decisions by: kind, outcome, identity (or "unknown"), a time range; any may be null.</summary>
    public sealed record Filter(string Kind, string? Outcome = null, string? Identity = null, DateTimeOffset? From = null, DateTimeOffset? To = null);

    /// <summary>The newest events that pass the filter, newest first (sent or not, while retention keeps them).</summary>
    public IReadOnlyList<OutboxEvent> Latest(Filter f, int limit)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                SELECT seq, id, at, kind, door, payload, sent_at FROM outbox
                WHERE kind = $kind AND ($outcome IS NULL OR json_extract(payload, '$.outcome') = $outcome)
                  AND ($who IS NULL OR ($who = 'unknown' AND json_extract(payload, '$.identity') IS NULL)
                       OR json_extract(payload, '$.identity') = $who)
                  AND ($from IS NULL OR at >= $from) AND ($to IS NULL OR at <= $to)
                ORDER BY seq DESC LIMIT $limit
                """;
            cmd.Parameters.AddWithValue("$kind", f.Kind);
            cmd.Parameters.AddWithValue("$outcome", (object?)f.Outcome ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$who", (object?)f.Identity ?? DBNull.Value);
            // stored as round-trip UTC text: a UTC bound compares as text in time order
            cmd.Parameters.AddWithValue("$from", f.From is { } a ? a.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) : DBNull.Value);
            cmd.Parameters.AddWithValue("$to", f.To is { } b ? b.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) : DBNull.Value);
            cmd.Parameters.AddWithValue("$limit", limit);
            return Rows(cmd);
        }
    }

    /// <summary>
    /// Records the fleet's acknowledgement of these events, in one transaction; false when the storage refused it (they are sent
    /// again later, with the same ids).
    /// </summary>
    public bool MarkSent(IEnumerable<string> ids)
    {
        lock (_gate)
        {
            try { MarkSentLocked(ids); }
            catch (Exception e) when (_guard is not null && _guard.Failed(e)) { return false; }
            return true;
        }
    }

    private void MarkSentLocked(IEnumerable<string> ids)
    {
        {
            using var tx = _db.BeginTransaction();
            using var cmd = _db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "UPDATE outbox SET sent_at = $at WHERE id = $id AND sent_at IS NULL";
            cmd.Parameters.AddWithValue("$at", _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            var id = cmd.Parameters.Add("$id", SqliteType.Text);
            foreach (var i in ids)
            {
                id.Value = i;
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    /// <summary>Raised after each append (outside the lock), so a publisher can wake up instead of polling.</summary>
    public event Action? Appended;

    public string? DoorState(string door)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT state FROM door_state WHERE door = $door";
            cmd.Parameters.AddWithValue("$door", door);
            return cmd.ExecuteScalar() as string;
        }
    }

    /// <summary>What a retention pass removed: acknowledged events, and events never sent, by priority.</summary>
    public sealed record Pruned(long Sent, long LowPriority, long Access)
    {
        public long Unsent => LowPriority + Access;
    }

    /// <summary>
    /// Keeps the outbox at most <paramref name="maxRows"/> rows: acknowledged events go first (oldest first), then unsent status,
    /// prompt and fault events, and only then, as a last resort, the oldest unsent access and alarm events.
    /// </summary>
    public Pruned Enforce(long maxRows)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            long Remove(string where, long excess)
            {
                if (excess <= 0) return 0;
                using var cmd = _db.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = $"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE {where} ORDER BY seq LIMIT $n)";
                cmd.Parameters.AddWithValue("$n", excess);
                return cmd.ExecuteNonQuery();
            }
            long Count()
            {
                using var cmd = _db.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT COUNT(*) FROM outbox";
                return Convert.ToInt64(cmd.ExecuteScalar());
            }
            var sent = Remove("sent_at IS NOT NULL", Count() - maxRows);
            var low = Remove("sent_at IS NULL AND kind IN ('status', 'prompt', 'fault', 'telemetry')", Count() - maxRows);
            var access = Remove("sent_at IS NULL", Count() - maxRows);
            tx.Commit();
            return new Pruned(sent, low, access);
        }
    }

    /// <summary>The sequence number of the newest event (0 when there is none).</summary>
    public long LastSeq()
    {
        lock (_gate) return Convert.ToInt64(Database.Scalar(_db, "SELECT COALESCE(MAX(seq), 0) FROM outbox"));
    }

    public long Pending()
    {
        lock (_gate) return Convert.ToInt64(Database.Scalar(_db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"));
    }

    private static DateTimeOffset Parse(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    public void Dispose() => _db.Dispose();
}
