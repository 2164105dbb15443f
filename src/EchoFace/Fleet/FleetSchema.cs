using Npgsql;

namespace EchoFace.Fleet;

/// <summary>
/// The fleet store's schema as numbered migrations, applied in order inside one transaction each and recorded in
/// schema_migrations; a database newer than this binary is refused rather than written to.
/// </summary>
public static class FleetSchema
{
    /// <summary>Append only: a released migration is never edited, a change is a new one.</summary>
    public static readonly (int Version, string Name, string Sql)[] Migrations =
    [
        (1, "events, devices, telemetry, configuration reports, refused messages", """
            CREATE TABLE events (
                id          text PRIMARY KEY,
                site        text NOT NULL,
                device      text NOT NULL,
                kind        text NOT NULL,
                door        text,
                outcome     text,
                identity    text,
                at          timestamptz NOT NULL,
                received_at timestamptz NOT NULL DEFAULT now(),
                collector   text NOT NULL,
                body_hash   bytea NOT NULL,
                body        jsonb NOT NULL
            );
            CREATE INDEX events_at ON events (at);
            CREATE INDEX events_device_at ON events (site, device, at);
            CREATE INDEX events_outcome_at ON events (outcome, at) WHERE outcome IS NOT NULL;

            CREATE TABLE devices (
                site          text NOT NULL,
                device        text NOT NULL,
                state         text NOT NULL,
                version       text,
                provider      text,
                started_at    timestamptz,
                status        jsonb NOT NULL,
                status_at     timestamptz NOT NULL,
                last_seen     timestamptz NOT NULL,
                telemetry     jsonb,
                telemetry_at  timestamptz,
                config_version bigint,
                config_status text,
                config_error  text,
                config_at     timestamptz,
                PRIMARY KEY (site, device)
            );

            CREATE TABLE telemetry (
                seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                site   text NOT NULL,
                device text NOT NULL,
                at     timestamptz NOT NULL DEFAULT now(),
                body   jsonb NOT NULL
            );
            CREATE INDEX telemetry_device ON telemetry (site, device, seq);

            CREATE TABLE config_reports (
                seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                site    text NOT NULL,
                device  text NOT NULL,
                version bigint,
                status  text NOT NULL,
                error   text,
                at      timestamptz NOT NULL DEFAULT now(),
                body    jsonb NOT NULL
            );
            CREATE INDEX config_reports_device ON config_reports (site, device, seq);

            CREATE TABLE refused (
                seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at        timestamptz NOT NULL DEFAULT now(),
                collector text NOT NULL,
                topic     text NOT NULL,
                reason    text NOT NULL,
                bytes     integer NOT NULL,
                sample    text
            );
            CREATE INDEX refused_at ON refused (at);
            """),
        (2, "device groups, people registry with per-device deliveries, configuration rollouts", """
            ALTER TABLE devices ADD COLUMN device_group text NOT NULL DEFAULT 'default';
            ALTER TABLE devices ADD COLUMN face_models text[] NOT NULL DEFAULT '{}';

            CREATE TABLE people (
                id           text PRIMARY KEY,
                name         text,
                device_group text NOT NULL,
                customer     text,
                revision     bigint NOT NULL,
                state        text NOT NULL CHECK (state IN ('enrolled', 'erasing', 'erased')),
                created_at   timestamptz NOT NULL DEFAULT now(),
                updated_at   timestamptz NOT NULL DEFAULT now(),
                erased_at    timestamptz
            );

            CREATE TABLE person_templates (
                person_id     text NOT NULL REFERENCES people ON DELETE CASCADE,
                seq           integer NOT NULL,
                model_id      text NOT NULL,
                model_version text NOT NULL,
                quality       real NOT NULL,
                source        text NOT NULL,
                vector        bytea NOT NULL,
                PRIMARY KEY (person_id, seq)
            );

            -- what each device was sent of each person and what it answered: the proof of an erasure
            CREATE TABLE deliveries (
                person_id   text NOT NULL REFERENCES people ON DELETE CASCADE,
                site        text NOT NULL,
                device      text NOT NULL,
                revision    bigint NOT NULL,
                action      text NOT NULL CHECK (action IN ('upsert', 'remove')),
                request_id  text NOT NULL UNIQUE,
                status      text NOT NULL CHECK (status IN ('pending', 'applied', 'refused', 'removed')),
                error       text,
                templates   integer,
                due_at      timestamptz NOT NULL DEFAULT now(),
                attempts    integer NOT NULL DEFAULT 0,
                sent_at     timestamptz,
                answered_at timestamptz,
                PRIMARY KEY (person_id, site, device)
            );
            CREATE INDEX deliveries_due ON deliveries (due_at) WHERE status = 'pending';
            CREATE INDEX deliveries_device ON deliveries (site, device);

            -- a group's desired configuration, or one device's on top of its group's (site and device set)
            CREATE TABLE rollouts (
                id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                device_group text NOT NULL,
                site         text,
                device       text,
                version      bigint NOT NULL UNIQUE,
                document     jsonb NOT NULL,
                canary       integer NOT NULL,
                state        text NOT NULL CHECK (state IN ('canary', 'rolling', 'done', 'stopped')),
                reason       text,
                created_at   timestamptz NOT NULL DEFAULT now(),
                finished_at  timestamptz
            );

            CREATE TABLE rollout_devices (
                rollout_id      bigint NOT NULL REFERENCES rollouts ON DELETE CASCADE,
                site            text NOT NULL,
                device          text NOT NULL,
                phase           text NOT NULL CHECK (phase IN ('canary', 'rest')),
                status          text NOT NULL CHECK (status IN ('waiting', 'pending', 'sent', 'applied', 'rejected', 'ignored', 'skipped')),
                error           text,
                pending_restart text,
                sent_at         timestamptz,
                answered_at     timestamptz,
                PRIMARY KEY (rollout_id, site, device)
            );
            CREATE INDEX rollout_devices_pending ON rollout_devices (status) WHERE status = 'pending';
            """),
    ];

    public static int Latest => Migrations[^1].Version;

    /// <summary>Brings the database up to <see cref="Latest"/>; returns the versions applied now (none when it was current).</summary>
    public static async Task<IReadOnlyList<int>> MigrateAsync(NpgsqlDataSource db, CancellationToken cancel)
    {
        await using var connection = await db.OpenConnectionAsync(cancel);
        await using (var create = new NpgsqlCommand(
                         "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, " +
                         "applied_at timestamptz NOT NULL DEFAULT now())", connection))
            await create.ExecuteNonQueryAsync(cancel);
        var applied = new List<int>();
        await using var tx = await connection.BeginTransactionAsync(cancel);
        // one migrator at a time: two collectors started together must not both create the tables
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7265001)", connection, tx))
            await lockCmd.ExecuteNonQueryAsync(cancel);
        var current = await CurrentAsync(connection, tx, cancel);
        if (current > Latest)
            throw new ToolException($"the fleet database is at schema version {current}, newer than this echoface ({Latest}): upgrade echoface");
        foreach (var (version, name, sql) in Migrations.Where(m => m.Version > current))
        {
            await using (var step = new NpgsqlCommand(sql, connection, tx)) await step.ExecuteNonQueryAsync(cancel);
            await using var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection, tx)
            {
                Parameters = { new() { Value = version }, new() { Value = name } },
            };
            await record.ExecuteNonQueryAsync(cancel);
            applied.Add(version);
        }
        await tx.CommitAsync(cancel);
        return applied;
    }

    /// <summary>The schema version the database is at (0 when empty).</summary>
    public static async Task<int> CurrentAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancel)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_migrations", connection, tx);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(cancel));
    }
}
