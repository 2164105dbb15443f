using System.Text.Json;
using Npgsql;

namespace EchoFace.Fleet;

/// <summary>A stored event as the fleet manager reads it.</summary>
public sealed record StoredEvent(string Id, DateTimeOffset At, DateTimeOffset ReceivedAt, string Site, string Device, string Kind, string? Door,
    string? Outcome, string? Identity, JsonElement Body);

/// <summary>A device as the registry knows it: its last status, telemetry and configuration report.</summary>
public sealed record DeviceRow(string Site, string Device, string State, string? Version, string? Provider, DateTimeOffset? StartedAt,
    DateTimeOffset StatusAt, DateTimeOffset LastSeen, JsonElement? Telemetry, long? ConfigVersion, string? ConfigStatus, string? ConfigError);

/// <summary>Refused messages grouped by reason, for `fleet refused` and the collector's health.</summary>
public sealed record RefusedRow(string Reason, long Count, DateTimeOffset Last, string Topic);

/// <summary>Filters of `fleet events`: time range, one site or device, one kind or outcome; newest first up to a limit.</summary>
public sealed record EventQuery(DateTimeOffset? Since = null, DateTimeOffset? Until = null, string? Site = null, string? Device = null,
    string? Kind = null, string? Outcome = null, string? Identity = null, int Limit = 100);

/// <summary>The read side of the fleet store (`fleet events`, `fleet devices`, `fleet refused`, and the fleet REST API).</summary>
public sealed class FleetQueries(NpgsqlDataSource db)
{
    public async Task<IReadOnlyList<StoredEvent>> EventsAsync(EventQuery q, CancellationToken cancel)
    {
        if (q.Limit is < 1 or > 100_000) throw new BadInputException($"limit must be 1..100000, not {q.Limit}");
        await using var cmd = db.CreateCommand("""
            SELECT id, at, received_at, site, device, kind, door, outcome, identity, body::text FROM events
            WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2) AND ($3::text IS NULL OR site = $3)
              AND ($4::text IS NULL OR device = $4) AND ($5::text IS NULL OR kind = $5) AND ($6::text IS NULL OR outcome = $6)
              AND ($7::text IS NULL OR identity = $7)
            ORDER BY at DESC, id DESC LIMIT $8
            """);
        foreach (var v in new object?[] { q.Since?.ToUniversalTime(), q.Until?.ToUniversalTime() })
            cmd.Parameters.Add(new() { Value = v ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        foreach (var v in new[] { q.Site, q.Device, q.Kind, q.Outcome, q.Identity })
            cmd.Parameters.Add(new() { Value = (object?)v ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = q.Limit });
        var rows = new List<StoredEvent>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new StoredEvent(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetFieldValue<DateTimeOffset>(2), r.GetString(3),
                r.GetString(4), r.GetString(5), Nullable(r, 6), Nullable(r, 7), Nullable(r, 8), Json(r.GetString(9))));
        return rows;
    }

    public async Task<long> CountEventsAsync(CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("SELECT count(*) FROM events");
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancel));
    }

    public async Task<IReadOnlyList<DeviceRow>> DevicesAsync(string? site, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            SELECT site, device, state, version, provider, started_at, status_at, last_seen, telemetry::text, config_version, config_status,
                   config_error
            FROM devices WHERE $1::text IS NULL OR site = $1 ORDER BY site, device
            """);
        cmd.Parameters.Add(new() { Value = (object?)site ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var rows = new List<DeviceRow>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new DeviceRow(r.GetString(0), r.GetString(1), r.GetString(2), Nullable(r, 3), Nullable(r, 4),
                r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5), r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7),
                r.IsDBNull(8) ? null : Json(r.GetString(8)), r.IsDBNull(9) ? null : r.GetInt64(9), Nullable(r, 10), Nullable(r, 11)));
        return rows;
    }

    public async Task<IReadOnlyList<RefusedRow>> RefusedAsync(DateTimeOffset? since, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            SELECT reason, count(*), max(at), min(topic) FROM refused WHERE $1::timestamptz IS NULL OR at >= $1
            GROUP BY reason ORDER BY count(*) DESC, reason
            """);
        cmd.Parameters.Add(new() { Value = (object?)since?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        var rows = new List<RefusedRow>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel)) rows.Add(new RefusedRow(r.GetString(0), r.GetInt64(1), r.GetFieldValue<DateTimeOffset>(2), r.GetString(3)));
        return rows;
    }

    private static string? Nullable(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static JsonElement Json(string text)
    {
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }
}
