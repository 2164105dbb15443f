using Npgsql;
using NpgsqlTypes;

namespace EchoFace.Fleet;

/// <summary>What one committed batch did: rows stored, re-sends seen again, and what was refused with why.</summary>
public sealed record BatchOutcome(int Events, int Duplicates, int Statuses, int Telemetry, int Reports, IReadOnlyList<IncomingMessage> Refused)
{
    /// <summary>Enrolment answers from devices (enroll/result).</summary>
    public int Answers { get; init; }
}

/// <summary>
/// The fleet's history in PostgreSQL: one transaction per batch of device messages, so a batch is stored whole or not at all
/// and the collector acknowledges it to the broker only after the commit. Events are keyed by their ULID: a re-send is one row.
/// </summary>
public sealed class FleetStore(NpgsqlDataSource db, int telemetryHistory) : IAsyncDisposable
{
    private readonly HashSet<(string, string)> _known = [];

    public NpgsqlDataSource Source => db;

    /// <param name="application">shown in pg_stat_activity (a collector passes its id, so an operator sees which one waits)</param>
    public static NpgsqlDataSource Open(string connectionString, string application = "echoface-fleet")
    {
        var b = new NpgsqlDataSourceBuilder(connectionString);
        b.ConnectionStringBuilder.ApplicationName ??= application;
        return b.Build();
    }

    public Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancel) => FleetSchema.MigrateAsync(db, cancel);

    /// <summary>Stores a batch in one transaction; throws (and stores nothing) when the database cannot take it.</summary>
    public async Task<BatchOutcome> WriteAsync(IReadOnlyList<IncomingMessage> batch, string collector, CancellationToken cancel)
    {
        await using var c = await db.OpenConnectionAsync(cancel);
        await using var tx = await c.BeginTransactionAsync(cancel);
        var refused = batch.Where(m => m.Kind == MessageKind.Refused).ToList();
        // statuses first: a device's first events may share its status's batch
        var statuses = batch.Where(m => m.Kind == MessageKind.Status).ToList();
        foreach (var s in statuses)
        {
            await UpsertStatusAsync(c, tx, s, cancel);
            // back online (or seen for the first time): what the registry and the rollouts owe it is due now
            if (s.State != "online") continue;
            await PeopleRegistry.OnOnlineAsync(c, tx, s.Site, s.Device, cancel);
            await Rollouts.OnOnlineAsync(c, tx, s.Site, s.Device, cancel);
        }
        var fromDevices = batch.Where(m => m.Kind is MessageKind.Event or MessageKind.Telemetry or MessageKind.ConfigReport
            or MessageKind.EnrollResult).ToList();
        var known = await KnownAsync(c, tx, fromDevices, cancel);
        var unknown = fromDevices.Where(m => !known.Contains((m.Site, m.Device)))
            .Select(m => m with { Kind = MessageKind.Refused, Reason = $"unknown device {m.Site}/{m.Device} (no status seen from it)" }).ToList();
        refused.AddRange(unknown);
        var ok = batch.Where(m => known.Contains((m.Site, m.Device))).ToList();
        var telemetry = ok.Where(m => m.Kind == MessageKind.Telemetry).ToList();
        foreach (var t in telemetry) await TelemetryAsync(c, tx, t, cancel);
        foreach (var d in telemetry.Select(t => (t.Site, t.Device)).Distinct()) await TrimTelemetryAsync(c, tx, d, cancel);
        var reports = ok.Where(m => m.Kind == MessageKind.ConfigReport).ToList();
        foreach (var r in reports)
        {
            await ReportAsync(c, tx, r, cancel);
            await Rollouts.ReportAsync(c, tx, r, cancel);
        }
        var answers = ok.Where(m => m.Kind == MessageKind.EnrollResult).ToList();
        foreach (var a in answers) await PeopleRegistry.AnswerAsync(c, tx, a, cancel);
        var (stored, duplicates, conflicts) = await EventsAsync(c, tx, [.. ok.Where(m => m.Kind == MessageKind.Event)], collector, cancel);
        refused.AddRange(conflicts);
        foreach (var r in refused) await RefuseAsync(c, tx, r, collector, cancel);
        await tx.CommitAsync(cancel);
        lock (_known) foreach (var k in known) _known.Add(k);
        return new BatchOutcome(stored, duplicates, statuses.Count, telemetry.Count, reports.Count, refused) { Answers = answers.Count };
    }

    private async Task<HashSet<(string, string)>> KnownAsync(NpgsqlConnection c, NpgsqlTransaction tx, IEnumerable<IncomingMessage> messages,
        CancellationToken cancel)
    {
        var wanted = messages.Select(m => (m.Site, m.Device)).ToHashSet();
        HashSet<(string, string)> missing;
        lock (_known) missing = [.. wanted.Where(w => !_known.Contains(w))];
        if (missing.Count == 0) return wanted;
        await using var cmd = new NpgsqlCommand(
            "SELECT d.site, d.device FROM devices d JOIN unnest($1::text[], $2::text[]) AS w(site, device) USING (site, device)", c, tx)
        {
            Parameters = { new() { Value = missing.Select(m => m.Item1).ToArray() }, new() { Value = missing.Select(m => m.Item2).ToArray() } },
        };
        await using var reader = await cmd.ExecuteReaderAsync(cancel);
        var found = new HashSet<(string, string)>();
        while (await reader.ReadAsync(cancel)) found.Add((reader.GetString(0), reader.GetString(1)));
        return [.. wanted.Where(w => !missing.Contains(w) || found.Contains(w))];
    }

    private static async Task<(int Stored, int Duplicates, List<IncomingMessage> Conflicts)> EventsAsync(NpgsqlConnection c, NpgsqlTransaction tx,
        List<IncomingMessage> events, string collector, CancellationToken cancel)
    {
        if (events.Count == 0) return (0, 0, []);
        // one row per id within the batch too (QoS 1 may deliver twice before the first is acknowledged)
        var first = events.GroupBy(e => e.Id).Select(g => g.First()).ToList();
        var conflicts = events.GroupBy(e => e.Id).SelectMany(g => g.Skip(1).Where(e => !e.Hash.AsSpan().SequenceEqual(g.First().Hash))).ToList();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO events (id, site, device, kind, door, outcome, identity, at, body_hash, body, collector)
            SELECT u.id, u.site, u.device, u.kind, u.door, u.outcome, u.identity, u.at, u.hash, u.body::jsonb, $11
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
                        $9::bytea[], $10::text[])
                 AS u(id, site, device, kind, door, outcome, identity, at, hash, body)
            ON CONFLICT (id) DO NOTHING
            RETURNING id
            """, c, tx);
        insert.Parameters.Add(new() { Value = first.Select(e => e.Id).ToArray() });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Site).ToArray() });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Device).ToArray() });
        insert.Parameters.Add(new() { Value = first.Select(e => e.EventKind).ToArray() });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Door).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Outcome).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Identity).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = first.Select(e => e.At.ToUniversalTime()).ToArray() });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Hash).ToArray() });
        insert.Parameters.Add(new() { Value = first.Select(e => e.Body).ToArray() });
        insert.Parameters.Add(new() { Value = collector });
        var inserted = new HashSet<string>();
        await using (var reader = await insert.ExecuteReaderAsync(cancel))
            while (await reader.ReadAsync(cancel)) inserted.Add(reader.GetString(0));
        var again = first.Where(e => !inserted.Contains(e.Id)).ToList();
        var duplicates = events.Count - first.Count - conflicts.Count;
        if (again.Count > 0)
        {
            // a re-sent event is the same bytes; the same id with other content is a device bug or a forgery, never stored over the first
            await using var read = new NpgsqlCommand("SELECT id, body_hash FROM events WHERE id = ANY($1)", c, tx)
            {
                Parameters = { new() { Value = again.Select(e => e.Id).ToArray() } },
            };
            var hashes = new Dictionary<string, byte[]>();
            await using (var reader = await read.ExecuteReaderAsync(cancel))
                while (await reader.ReadAsync(cancel)) hashes[reader.GetString(0)] = (byte[])reader[1];
            foreach (var e in again)
                if (hashes.TryGetValue(e.Id, out var h) && h.AsSpan().SequenceEqual(e.Hash)) duplicates++;
                else conflicts.Add(e);
        }
        return (inserted.Count, duplicates,
            [.. conflicts.Select(e => e with { Kind = MessageKind.Refused, Reason = $"duplicate event id {e.Id} with a different body" })]);
    }

    private static async Task UpsertStatusAsync(NpgsqlConnection c, NpgsqlTransaction tx, IncomingMessage s, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO devices (site, device, state, version, provider, started_at, status, status_at, last_seen, device_group, face_models)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now(), now(), coalesce($8, 'default'), coalesce($9, '{}'))
            ON CONFLICT (site, device) DO UPDATE SET state = EXCLUDED.state,
                device_group = coalesce($8, devices.device_group), face_models = coalesce($9, devices.face_models),
                version = coalesce(EXCLUDED.version, devices.version), provider = coalesce(EXCLUDED.provider, devices.provider),
                started_at = coalesce(EXCLUDED.started_at, devices.started_at), status = EXCLUDED.status, status_at = now(), last_seen = now()
            """, c, tx);
        cmd.Parameters.Add(new() { Value = s.Site });
        cmd.Parameters.Add(new() { Value = s.Device });
        cmd.Parameters.Add(new() { Value = s.State });
        cmd.Parameters.Add(new() { Value = (object?)s.Version ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)s.Provider ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)s.StartedAt?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = s.Body });
        cmd.Parameters.Add(new() { Value = (object?)s.Group ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)s.FaceModels ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    private static async Task TelemetryAsync(NpgsqlConnection c, NpgsqlTransaction tx, IncomingMessage t, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH r AS (INSERT INTO telemetry (site, device, body) VALUES ($1, $2, $3::jsonb) RETURNING site, device, body)
            UPDATE devices d SET telemetry = r.body, telemetry_at = now(), last_seen = now() FROM r WHERE d.site = r.site AND d.device = r.device
            """, c, tx)
        {
            Parameters = { new() { Value = t.Site }, new() { Value = t.Device }, new() { Value = t.Body } },
        };
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    private async Task TrimTelemetryAsync(NpgsqlConnection c, NpgsqlTransaction tx, (string Site, string Device) d, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand("""
            DELETE FROM telemetry WHERE site = $1 AND device = $2 AND seq <=
                (SELECT seq FROM telemetry WHERE site = $1 AND device = $2 ORDER BY seq DESC OFFSET $3 LIMIT 1)
            """, c, tx)
        {
            Parameters = { new() { Value = d.Site }, new() { Value = d.Device }, new() { Value = (long)telemetryHistory } },
        };
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    private static async Task ReportAsync(NpgsqlConnection c, NpgsqlTransaction tx, IncomingMessage r, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH r AS (INSERT INTO config_reports (site, device, version, status, error, body) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
                       RETURNING site, device, version, status, error)
            UPDATE devices d SET config_version = r.version, config_status = r.status, config_error = r.error, config_at = now(), last_seen = now()
            FROM r WHERE d.site = r.site AND d.device = r.device
            """, c, tx);
        cmd.Parameters.Add(new() { Value = r.Site });
        cmd.Parameters.Add(new() { Value = r.Device });
        cmd.Parameters.Add(new() { Value = (object?)r.ConfigVersion ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new() { Value = r.State });
        cmd.Parameters.Add(new() { Value = (object?)r.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = r.Body });
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    private static async Task RefuseAsync(NpgsqlConnection c, NpgsqlTransaction tx, IncomingMessage r, string collector, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand("INSERT INTO refused (collector, topic, reason, bytes, sample) VALUES ($1, $2, $3, $4, $5)", c, tx)
        {
            Parameters =
            {
                new() { Value = collector }, new() { Value = r.Topic }, new() { Value = r.Reason ?? "" }, new() { Value = r.Bytes },
                new() { Value = r.Body.Length > 2048 ? r.Body[..2048] : r.Body },
            },
        };
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    public ValueTask DisposeAsync() => db.DisposeAsync();
}
