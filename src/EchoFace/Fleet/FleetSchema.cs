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
