using System.Runtime.InteropServices;
using Npgsql;
using NpgsqlTypes;

namespace EchoFace.Fleet;

/// <summary>A face template the fleet server computed for one face model.</summary>
public sealed record FleetTemplate(string ModelId, string ModelVersion, float Quality, string Source, float[] Vector);

/// <summary>A person of the fleet registry with how far their last change has reached the devices.</summary>
public sealed record FleetPerson(string Id, string? Name, string Group, string? Customer, long Revision, string State, DateTimeOffset UpdatedAt,
    DateTimeOffset? ErasedAt, int Templates, int Devices, int Applied, int Pending, int Refused, int Removed);

/// <summary>What one device was sent of one person, and its answer.</summary>
public sealed record Delivery(string Site, string Device, long Revision, string Action, string Status, string? Error, int? Templates,
    int Attempts, DateTimeOffset? SentAt, DateTimeOffset? AnsweredAt, string DeviceState);

/// <summary>A delivery claimed for sending now, with what the payload needs.</summary>
public sealed record DueDelivery(string PersonId, string Site, string Device, string RequestId, string Action, string? Name, string Group,
    string? Customer, string[] FaceModels);

/// <summary>
/// People enrolled once on the fleet side and delivered to every device of their group. Each (person, device) row says what the
/// device was last sent and what it answered; the collector re-sends what a device missed when it comes back online, and an
/// erasure is finished (the name dropped, only the per-device record kept) once every device that ever held the person answered.
/// </summary>
public static class PeopleRegistry
{
    /// <summary>Stores the person's templates and marks a delivery to every device of the group; returns the new revision.</summary>
    public static async Task<long> EnrollAsync(NpgsqlDataSource db, string id, string name, string group, string? customer,
        IReadOnlyList<FleetTemplate> templates, CancellationToken cancel)
    {
        if (templates.Count == 0) throw new BadInputException("no templates to store");
        await using var c = await db.OpenConnectionAsync(cancel);
        await using var tx = await c.BeginTransactionAsync(cancel);
        if (await Scalar(c, tx, "SELECT state FROM people WHERE id = $1 FOR UPDATE", cancel, id) is "erasing")
            throw new BadInputException($"'{id}' is being erased; wait until every device has answered (`echoface fleet people show {id}`)");
        var revision = Convert.ToInt64(await Scalar(c, tx, """
            INSERT INTO people (id, name, device_group, customer, revision, state) VALUES ($1, $2, $3, $4, 1, 'enrolled')
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, device_group = EXCLUDED.device_group, customer = EXCLUDED.customer,
                revision = people.revision + 1, state = 'enrolled', updated_at = now(), erased_at = NULL
            RETURNING revision
            """, cancel, id, name, group, (object?)customer ?? DBNull.Value));
        await Scalar(c, tx, "DELETE FROM person_templates WHERE person_id = $1", cancel, id);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO person_templates (person_id, seq, model_id, model_version, quality, source, vector)
            SELECT $1, s, m, v, q, src, vec
            FROM unnest($2::int[], $3::text[], $4::text[], $5::real[], $6::text[], $7::bytea[]) AS t(s, m, v, q, src, vec)
            """, c, tx))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = Enumerable.Range(0, templates.Count).ToArray() });
            insert.Parameters.Add(new() { Value = templates.Select(t => t.ModelId).ToArray() });
            insert.Parameters.Add(new() { Value = templates.Select(t => t.ModelVersion).ToArray() });
            insert.Parameters.Add(new() { Value = templates.Select(t => t.Quality).ToArray() });
            insert.Parameters.Add(new() { Value = templates.Select(t => t.Source).ToArray() });
            insert.Parameters.Add(new() { Value = templates.Select(t => MemoryMarshal.AsBytes(t.Vector.AsSpan()).ToArray()).ToArray() });
            await insert.ExecuteNonQueryAsync(cancel);
        }
        // every device of the group gets this revision; one that held the person but left the group has it removed
        await Scalar(c, tx, """
            INSERT INTO deliveries (person_id, site, device, revision, action, request_id, status)
            SELECT $1, site, device, $2, 'upsert', gen_random_uuid()::text, 'pending' FROM devices WHERE device_group = $3
            ON CONFLICT (person_id, site, device) DO UPDATE SET revision = EXCLUDED.revision, action = 'upsert', request_id = EXCLUDED.request_id,
                status = 'pending', error = NULL, templates = NULL, due_at = now(), attempts = 0, sent_at = NULL, answered_at = NULL
            """, cancel, id, revision, group);
        await Scalar(c, tx, """
            UPDATE deliveries d SET revision = $2, action = 'remove', request_id = gen_random_uuid()::text, status = 'pending', error = NULL,
                templates = NULL, due_at = now(), attempts = 0, sent_at = NULL, answered_at = NULL
            WHERE d.person_id = $1 AND d.revision < $2 AND d.status <> 'removed'
            """, cancel, id, revision);
        await tx.CommitAsync(cancel);
        return revision;
    }

    /// <summary>
    /// Erases a person: the templates go at once, every device that was ever sent them is told to remove them, and the erasure is
    /// finished when each has answered. False when the registry has no such person (or they are erased already).
    /// </summary>
    public static async Task<bool> EraseAsync(NpgsqlDataSource db, string id, CancellationToken cancel)
    {
        await using var c = await db.OpenConnectionAsync(cancel);
        await using var tx = await c.BeginTransactionAsync(cancel);
        var revision = await Scalar(c, tx, """
            UPDATE people SET state = 'erasing', revision = revision + 1, updated_at = now() WHERE id = $1 AND state <> 'erased' RETURNING revision
            """, cancel, id);
        if (revision is null) return false;
        await Scalar(c, tx, "DELETE FROM person_templates WHERE person_id = $1", cancel, id);
        await Scalar(c, tx, """
            UPDATE deliveries SET revision = $2, action = 'remove', request_id = gen_random_uuid()::text, status = 'pending', error = NULL,
                templates = NULL, due_at = now(), attempts = 0, sent_at = NULL, answered_at = NULL
            WHERE person_id = $1
            """, cancel, id, revision);
        await FinishErasureAsync(c, tx, id, cancel);
        await tx.CommitAsync(cancel);
        return true;
    }

    public static async Task<IReadOnlyList<FleetPerson>> ListAsync(NpgsqlDataSource db, string? group, string? id, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            SELECT p.id, p.name, p.device_group, p.customer, p.revision, p.state, p.updated_at, p.erased_at,
                   (SELECT count(*) FROM person_templates t WHERE t.person_id = p.id),
                   count(d.device), count(*) FILTER (WHERE d.status = 'applied'), count(*) FILTER (WHERE d.status = 'pending'),
                   count(*) FILTER (WHERE d.status = 'refused'), count(*) FILTER (WHERE d.status = 'removed')
            FROM people p LEFT JOIN deliveries d ON d.person_id = p.id
            WHERE ($1::text IS NULL OR p.device_group = $1) AND ($2::text IS NULL OR p.id = $2)
            GROUP BY p.id ORDER BY p.id
            """);
        cmd.Parameters.Add(new() { Value = (object?)group ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)id ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var rows = new List<FleetPerson>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new FleetPerson(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                r.GetInt64(4), r.GetString(5), r.GetFieldValue<DateTimeOffset>(6), r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7),
                (int)r.GetInt64(8), (int)r.GetInt64(9), (int)r.GetInt64(10), (int)r.GetInt64(11), (int)r.GetInt64(12), (int)r.GetInt64(13)));
        return rows;
    }

    public static async Task<IReadOnlyList<Delivery>> DeliveriesAsync(NpgsqlDataSource db, string id, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            SELECT d.site, d.device, d.revision, d.action, d.status, d.error, d.templates, d.attempts, d.sent_at, d.answered_at,
                   coalesce(v.state, 'unknown')
            FROM deliveries d LEFT JOIN devices v USING (site, device) WHERE d.person_id = $1 ORDER BY d.site, d.device
            """);
        cmd.Parameters.Add(new() { Value = id });
        var rows = new List<Delivery>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new Delivery(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
                r.IsDBNull(6) ? null : r.GetInt32(6), r.GetInt32(7), r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8),
                r.IsDBNull(9) ? null : r.GetFieldValue<DateTimeOffset>(9), r.GetString(10)));
        return rows;
    }

    /// <summary>The face models the devices of a group run (what the fleet computes templates for); empty when none says.</summary>
    public static async Task<IReadOnlyList<string>> GroupModelsAsync(NpgsqlDataSource db, string group, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("SELECT DISTINCT unnest(face_models) AS m FROM devices WHERE device_group = $1 ORDER BY m");
        cmd.Parameters.Add(new() { Value = group });
        var models = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel)) models.Add(r.GetString(0));
        return models;
    }

    /// <summary>A device came online: it gets every person of its group it lacks, and what it was still owed is due now.</summary>
    public static async Task OnOnlineAsync(NpgsqlConnection c, NpgsqlTransaction tx, string site, string device, CancellationToken cancel)
    {
        await Scalar(c, tx, """
            INSERT INTO deliveries (person_id, site, device, revision, action, request_id, status)
            SELECT p.id, $1, $2, p.revision, 'upsert', gen_random_uuid()::text, 'pending'
            FROM people p JOIN devices v ON v.site = $1 AND v.device = $2 AND v.device_group = p.device_group
            WHERE p.state = 'enrolled'
            ON CONFLICT (person_id, site, device) DO NOTHING
            """, cancel, site, device);
        await Scalar(c, tx, "UPDATE deliveries SET due_at = now() WHERE site = $1 AND device = $2 AND status = 'pending'", cancel, site, device);
    }

    /// <summary>A device's enroll/result: the delivery it answers is applied, removed or refused (a stale answer changes nothing).</summary>
    public static async Task AnswerAsync(NpgsqlConnection c, NpgsqlTransaction tx, IncomingMessage m, CancellationToken cancel)
    {
        var person = await Scalar(c, tx, """
            UPDATE deliveries SET answered_at = now(), error = $4, templates = $5,
                status = CASE WHEN action = 'remove' AND $3 IN ('applied', 'absent') THEN 'removed'
                              WHEN action = 'upsert' AND $3 = 'applied' THEN 'applied' ELSE 'refused' END
            WHERE request_id = $1 AND site = $2 AND device = $6 AND status = 'pending'
            RETURNING person_id
            """, cancel, m.RequestId!, m.Site, m.State, (object?)m.Error ?? DBNull.Value, (object?)m.Templates ?? DBNull.Value, m.Device);
        if (person is string id) await FinishErasureAsync(c, tx, id, cancel);
    }

    /// <summary>Claims deliveries due to online devices (SKIP LOCKED: several collectors never send one twice at once).</summary>
    public static async Task<IReadOnlyList<DueDelivery>> ClaimDueAsync(NpgsqlDataSource db, int limit, TimeSpan resendAfter, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            WITH due AS (
                SELECT d.person_id, d.site, d.device FROM deliveries d JOIN devices v USING (site, device)
                WHERE d.status = 'pending' AND d.due_at <= now() AND v.state = 'online'
                ORDER BY d.due_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
            UPDATE deliveries d SET due_at = now() + $2, attempts = d.attempts + 1, sent_at = now()
            FROM due, people p, devices v
            WHERE d.person_id = due.person_id AND d.site = due.site AND d.device = due.device AND p.id = d.person_id
              AND v.site = d.site AND v.device = d.device
            RETURNING d.person_id, d.site, d.device, d.request_id, d.action, p.name, p.device_group, p.customer, v.face_models
            """);
        cmd.Parameters.Add(new() { Value = limit });
        cmd.Parameters.Add(new() { Value = resendAfter });
        var rows = new List<DueDelivery>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new DueDelivery(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5), r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.GetFieldValue<string[]>(8)));
        return rows;
    }

    public static async Task<IReadOnlyList<FleetTemplate>> TemplatesAsync(NpgsqlDataSource db, string id, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand(
            "SELECT model_id, model_version, quality, source, vector FROM person_templates WHERE person_id = $1 ORDER BY seq");
        cmd.Parameters.Add(new() { Value = id });
        var rows = new List<FleetTemplate>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new FleetTemplate(r.GetString(0), r.GetString(1), r.GetFloat(2), r.GetString(3),
                MemoryMarshal.Cast<byte, float>((byte[])r[4]).ToArray()));
        return rows;
    }

    /// <summary>A delivery that cannot be sent (no template of the device's model): refused on the server's side, with why.</summary>
    public static async Task RefuseAsync(NpgsqlDataSource db, string requestId, string reason, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand(
            "UPDATE deliveries SET status = 'refused', error = $2, answered_at = now() WHERE request_id = $1 AND status = 'pending'");
        cmd.Parameters.Add(new() { Value = requestId });
        cmd.Parameters.Add(new() { Value = reason });
        await cmd.ExecuteNonQueryAsync(cancel);
    }

    /// <summary>An erasing person whose every delivery is removed is erased: the name and opt-in go, the per-device record stays.</summary>
    private static Task<object?> FinishErasureAsync(NpgsqlConnection c, NpgsqlTransaction tx, string id, CancellationToken cancel) => Scalar(c, tx, """
        UPDATE people SET state = 'erased', name = NULL, customer = NULL, erased_at = now(), updated_at = now()
        WHERE id = $1 AND state = 'erasing' AND NOT EXISTS (SELECT 1 FROM deliveries WHERE person_id = $1 AND status <> 'removed')
        """, cancel, id);

    internal static async Task<object?> Scalar(NpgsqlConnection c, NpgsqlTransaction tx, string sql, CancellationToken cancel, params object[] values)
    {
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        foreach (var v in values) cmd.Parameters.Add(new() { Value = v });
        var result = await cmd.ExecuteScalarAsync(cancel);
        return result is DBNull ? null : result;
    }
}
