using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using static EchoFace.Fleet.PeopleRegistry;

namespace EchoFace.Fleet;

/// <summary>A rollout of one desired configuration to a device group, and how far it got.</summary>
public sealed record Rollout(long Id, string Group, long Version, int Canary, string State, string? Reason, DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt, int Devices, int Applied, int Rejected, int Waiting)
{
    /// <summary>Set for one device's configuration on top of its group's (site/device).</summary>
    public string? Device { get; init; }
}

/// <summary>One device's place in the fleet: its group, what it runs, and the latest rollout's step on it.</summary>
public sealed record DeviceRollout(string Site, string Device, string Group, string State, long? ConfigVersion, string? ConfigStatus,
    string? ConfigError, long? Rollout, long? Version, string? Phase, string? Status, string? Error, string? PendingRestart);

/// <summary>A device's desired configuration to publish now.</summary>
public sealed record DueConfig(long Rollout, string Site, string Device, long Version, string Document);

/// <summary>
/// Desired configuration per device group, stored with versions and rolled out in two steps: the canary devices first, the rest
/// once every canary has reported it applied. Any rejection stops the rollout; the devices not yet sent it keep what they run.
/// The document is the devices' own retained config/desired, so a device that is offline applies it when it returns.
/// </summary>
public static class Rollouts
{
    /// <summary>
    /// Records a rollout for every device of the group, or for one device (<paramref name="device"/>, site/device: its settings go
    /// on top of its group's). A rollout still in progress for the same group, or the same device, is superseded.
    /// </summary>
    public static async Task<Rollout> CreateAsync(NpgsqlDataSource db, string group, JsonObject document, int canary, CancellationToken cancel,
        (string Site, string Device)? device = null)
    {
        if (canary < 0) throw new BadInputException($"--canary must be 0 or more, not {canary}");
        await using var c = await db.OpenConnectionAsync(cancel);
        await using var tx = await c.BeginTransactionAsync(cancel);
        await Scalar(c, tx, "SELECT pg_advisory_xact_lock(7265002)", cancel);
        if (device is { } one)
        {
            group = await Scalar(c, tx, "SELECT device_group FROM devices WHERE site = $1 AND device = $2", cancel, one.Site, one.Device) as string
                    ?? throw new BadInputException($"unknown device {one.Site}/{one.Device} (`echoface fleet devices`)");
            canary = 0;
        }
        object site = (object?)device?.Site ?? DBNull.Value, name = (object?)device?.Device ?? DBNull.Value;
        var devices = Convert.ToInt64(await Scalar(c, tx, """
            SELECT count(*) FROM devices WHERE device_group = $1 AND ($2::text IS NULL OR (site = $2 AND device = $3))
            """, cancel, group, site, name));
        if (devices == 0) throw new BadInputException($"no device of group '{group}' is known to the fleet server (`echoface fleet devices`)");
        // later than any version sent before, and than the milliseconds clock `fleet config push` uses
        var version = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Convert.ToInt64(await Scalar(c, tx, "SELECT coalesce(max(version), 0) + 1 FROM rollouts", cancel)));
        document["version"] = version;
        await Scalar(c, tx, """
            WITH s AS (UPDATE rollouts SET state = 'stopped', reason = 'superseded', finished_at = now()
                       WHERE device_group = $1 AND state IN ('canary', 'rolling') AND site IS NOT DISTINCT FROM $2::text
                         AND device IS NOT DISTINCT FROM $3::text RETURNING id)
            UPDATE rollout_devices SET status = 'skipped' FROM s WHERE rollout_id = s.id AND status IN ('waiting', 'pending') RETURNING rollout_id
            """, cancel, group, site, name);
        var id = Convert.ToInt64(await Scalar(c, tx, """
            INSERT INTO rollouts (device_group, version, document, canary, state, site, device) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7)
            RETURNING id
            """, cancel, group, version, document.ToJsonString(), canary, canary > 0 && canary < devices ? "canary" : "rolling", site, name));
        // canaries: online devices first, then by name, so the first step gets answers
        await Scalar(c, tx, """
            INSERT INTO rollout_devices (rollout_id, site, device, phase, status)
            SELECT $1, site, device, CASE WHEN n <= $2 THEN 'canary' ELSE 'rest' END,
                   CASE WHEN n <= $2 OR $2 = 0 OR $2 >= $4 THEN 'pending' ELSE 'waiting' END
            FROM (SELECT site, device, row_number() OVER (ORDER BY state <> 'online', site, device) AS n FROM devices
                  WHERE device_group = $3 AND ($5::text IS NULL OR (site = $5 AND device = $6))) d
            """, cancel, id, canary, group, devices, site, name);
        await tx.CommitAsync(cancel);
        return (await ListAsync(db, group, id, cancel))[0];
    }

    /// <summary>A device's config/reported: its step of the rollout that sent this version is answered, and the rollout moves on.</summary>
    public static async Task ReportAsync(NpgsqlConnection c, NpgsqlTransaction tx, IncomingMessage m, CancellationToken cancel)
    {
        if (m.ConfigVersion is not { } version) return;
        var rollout = await Scalar(c, tx, """
            UPDATE rollout_devices rd SET answered_at = now(), error = $5,
                status = CASE $4 WHEN 'applied' THEN 'applied' WHEN 'rejected' THEN 'rejected' ELSE 'ignored' END,
                pending_restart = (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(coalesce($6::jsonb -> 'pendingRestart', '[]')) AS x)
            FROM rollouts r
            WHERE r.id = rd.rollout_id AND r.version = $1 AND rd.site = $2 AND rd.device = $3 AND rd.status IN ('pending', 'sent')
            RETURNING rd.rollout_id
            """, cancel, version, m.Site, m.Device, m.State, (object?)m.Error ?? DBNull.Value, m.Body);
        if (rollout is long id) await AdvanceAsync(c, tx, id, cancel);
    }

    /// <summary>A canary's rejection stops the rollout; every canary applied releases the rest; all answered is done.</summary>
    private static async Task AdvanceAsync(NpgsqlConnection c, NpgsqlTransaction tx, long id, CancellationToken cancel)
    {
        var rejected = await Scalar(c, tx, """
            SELECT site || '/' || device || ': ' || coalesce(error, 'rejected') FROM rollout_devices
            WHERE rollout_id = $1 AND status = 'rejected' ORDER BY answered_at LIMIT 1
            """, cancel, id);
        if (rejected is string why)
        {
            await Scalar(c, tx, """
                WITH s AS (UPDATE rollouts SET state = 'stopped', reason = $2, finished_at = now() WHERE id = $1 AND state IN ('canary', 'rolling')
                           RETURNING id)
                UPDATE rollout_devices rd SET status = 'skipped' FROM s WHERE rd.rollout_id = s.id AND rd.status IN ('waiting', 'pending')
                """, cancel, id, $"rejected by {why}");
            return;
        }
        await Scalar(c, tx, """
            WITH s AS (UPDATE rollouts SET state = 'rolling' WHERE id = $1 AND state = 'canary' AND NOT EXISTS
                       (SELECT 1 FROM rollout_devices WHERE rollout_id = $1 AND phase = 'canary' AND status IN ('pending', 'sent')) RETURNING id)
            UPDATE rollout_devices rd SET status = 'pending' FROM s WHERE rd.rollout_id = s.id AND rd.status = 'waiting'
            """, cancel, id);
        await Scalar(c, tx, """
            UPDATE rollouts SET state = 'done', finished_at = now() WHERE id = $1 AND state = 'rolling' AND NOT EXISTS
                (SELECT 1 FROM rollout_devices WHERE rollout_id = $1 AND status IN ('waiting', 'pending', 'sent'))
            """, cancel, id);
    }

    /// <summary>A device that joins a group (or comes back) is owed the group's latest rollout that finished or still runs.</summary>
    public static Task OnOnlineAsync(NpgsqlConnection c, NpgsqlTransaction tx, string site, string device, CancellationToken cancel) =>
        Scalar(c, tx, """
        INSERT INTO rollout_devices (rollout_id, site, device, phase, status)
        SELECT r.id, $1, $2, 'rest', CASE r.state WHEN 'canary' THEN 'waiting' ELSE 'pending' END
        FROM devices v JOIN LATERAL (SELECT id, state FROM rollouts WHERE device_group = v.device_group AND state <> 'stopped'
                                     AND device IS NULL ORDER BY id DESC LIMIT 1) r ON true
        WHERE v.site = $1 AND v.device = $2
        ON CONFLICT DO NOTHING
        """, cancel, site, device);

    /// <summary>Claims device steps to publish (pending, or sent long ago without an answer: the retained document is sent again).</summary>
    public static async Task<IReadOnlyList<DueConfig>> ClaimDueAsync(NpgsqlDataSource db, TimeSpan resendAfter, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            WITH due AS (SELECT rollout_id, site, device FROM rollout_devices
                         WHERE status = 'pending' OR (status = 'sent' AND sent_at < now() - $1) LIMIT 200 FOR UPDATE SKIP LOCKED)
            UPDATE rollout_devices rd SET status = 'sent', sent_at = now() FROM due, rollouts r
            WHERE rd.rollout_id = due.rollout_id AND rd.site = due.site AND rd.device = due.device AND r.id = rd.rollout_id
            RETURNING rd.rollout_id, rd.site, rd.device, r.version, r.document::text, r.device IS NULL,
                -- the other layer of this device's configuration: its own settings under a group rollout, its group's under its own
                (SELECT o.document::text FROM rollouts o WHERE o.state <> 'stopped' AND o.id <> r.id AND o.device_group = r.device_group
                    AND (CASE WHEN r.device IS NULL THEN o.site = rd.site AND o.device = rd.device ELSE o.device IS NULL END)
                 ORDER BY o.id DESC LIMIT 1)
            """);
        cmd.Parameters.Add(new() { Value = resendAfter });
        var rows = new List<DueConfig>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
        {
            var (own, isGroup, other) = (r.GetString(4), r.GetBoolean(5), r.IsDBNull(6) ? null : r.GetString(6));
            var version = r.GetInt64(3);
            var document = other is null ? own : isGroup ? Layered(own, other, version) : Layered(other, own, version);
            rows.Add(new DueConfig(r.GetInt64(0), r.GetString(1), r.GetString(2), version, document));
        }
        return rows;
    }

    /// <summary>A device's settings over its group's, section by section and key by key; the version is the one being sent.</summary>
    public static string Layered(string group, string device, long version)
    {
        var result = JsonNode.Parse(group)!.AsObject();
        Merge(result, JsonNode.Parse(device)!.AsObject());
        result["version"] = version;
        return result.ToJsonString();
    }

    private static void Merge(JsonObject into, JsonObject over)
    {
        foreach (var (key, value) in over.ToList())
            if (value is JsonObject child && into[key] is JsonObject existing) Merge(existing, child);
            else into[key] = value?.DeepClone();
    }

    public static async Task<IReadOnlyList<Rollout>> ListAsync(NpgsqlDataSource db, string? group, long? id, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            SELECT r.id, r.device_group, r.version, r.canary, r.state, r.reason, r.created_at, r.finished_at, count(d.device),
                   r.site || '/' || r.device,
                   count(*) FILTER (WHERE d.status = 'applied'), count(*) FILTER (WHERE d.status = 'rejected'),
                   count(*) FILTER (WHERE d.status IN ('waiting', 'pending', 'sent'))
            FROM rollouts r LEFT JOIN rollout_devices d ON d.rollout_id = r.id
            WHERE ($1::text IS NULL OR r.device_group = $1) AND ($2::bigint IS NULL OR r.id = $2)
            GROUP BY r.id ORDER BY r.id DESC LIMIT 50
            """);
        cmd.Parameters.Add(new() { Value = (object?)group ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)id ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        var rows = new List<Rollout>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        while (await r.ReadAsync(cancel))
            rows.Add(new Rollout(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetInt32(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
                r.GetFieldValue<DateTimeOffset>(6), r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7), (int)r.GetInt64(8), (int)r.GetInt64(10),
                (int)r.GetInt64(11), (int)r.GetInt64(12))
            { Device = r.IsDBNull(9) ? null : r.GetString(9) });
        return rows;
    }

    /// <summary>Every device (of a group) with the configuration it reported and its step of its group's latest rollout.</summary>
    public static async Task<IReadOnlyList<DeviceRollout>> StatusAsync(NpgsqlDataSource db, string? group, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("""
            SELECT v.site, v.device, v.device_group, v.state, v.config_version, v.config_status, v.config_error,
                   d.rollout_id, r.version, d.phase, d.status, d.error, d.pending_restart
            FROM devices v
            LEFT JOIN LATERAL (SELECT * FROM rollout_devices x WHERE x.site = v.site AND x.device = v.device
                               ORDER BY x.rollout_id DESC LIMIT 1) d ON true
            LEFT JOIN rollouts r ON r.id = d.rollout_id
            WHERE $1::text IS NULL OR v.device_group = $1
            ORDER BY v.device_group, v.site, v.device
            """);
        cmd.Parameters.Add(new() { Value = (object?)group ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var rows = new List<DeviceRollout>();
        await using var r = await cmd.ExecuteReaderAsync(cancel);
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        long? L(int i) => r.IsDBNull(i) ? null : r.GetInt64(i);
        while (await r.ReadAsync(cancel))
            rows.Add(new DeviceRollout(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), L(4), S(5), S(6), L(7), L(8), S(9), S(10),
                S(11), S(12)));
        return rows;
    }
}
