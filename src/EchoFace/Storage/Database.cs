using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

/// <summary>The device database (SQLite, WAL): opens it, applies versioned migrations in one transaction each.</summary>
public static class Database
{
    /// <summary>Migration N brings the schema from version N to N+1; never edit a shipped one, append.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE identities(
            id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            grp TEXT NOT NULL DEFAULT 'default',
            created_at TEXT NOT NULL);
        CREATE TABLE templates(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
            modality TEXT NOT NULL CHECK (modality IN ('face', 'voice')),
            model_id TEXT NOT NULL,
            model_version TEXT NOT NULL,
            quality REAL NOT NULL,
            source TEXT,
            created_at TEXT NOT NULL,
            sealed BLOB NOT NULL);
        CREATE INDEX templates_identity ON templates(identity_id);
        CREATE TABLE audit(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            identity_id TEXT,
            detail TEXT);
        """,
        """
        CREATE TABLE outbox(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('access', 'alarm', 'fault', 'prompt', 'status', 'telemetry')),
            door TEXT,
            payload TEXT NOT NULL,
            sent_at TEXT);
        CREATE INDEX outbox_pending ON outbox(sent_at, seq);
        CREATE TABLE door_state(
            door TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            since TEXT NOT NULL);
        CREATE TABLE config_applied(
            source TEXT PRIMARY KEY CHECK (source IN ('group', 'device')),
            version INTEGER NOT NULL,
            document TEXT NOT NULL,
            applied_at TEXT NOT NULL);
        """,
        // 3: retail. The outbox learns the customer_seen kind (SQLite cannot alter a CHECK: the table is rebuilt, its sequence kept);
        // opted-in customers are linked to identities (no link, no customer event); recommendation lists synced from the fleet.
        """
        CREATE TABLE outbox_v3(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('access', 'alarm', 'fault', 'prompt', 'status', 'telemetry', 'customer_seen')),
            door TEXT,
            payload TEXT NOT NULL,
            sent_at TEXT);
        INSERT INTO outbox_v3(seq, id, at, kind, door, payload, sent_at) SELECT seq, id, at, kind, door, payload, sent_at FROM outbox;
        DELETE FROM sqlite_sequence WHERE name = 'outbox_v3';
        INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox_v3', seq FROM sqlite_sequence WHERE name = 'outbox';
        DROP TABLE outbox;
        ALTER TABLE outbox_v3 RENAME TO outbox;
        CREATE INDEX outbox_pending ON outbox(sent_at, seq);
        CREATE TABLE customers(
            identity_id TEXT PRIMARY KEY REFERENCES identities(id) ON DELETE CASCADE,
            customer_id TEXT NOT NULL UNIQUE,
            opted_in_at TEXT NOT NULL);
        CREATE TABLE recommendations(
            customer_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            items TEXT NOT NULL,
            updated_at TEXT NOT NULL);
        CREATE TABLE recommendation_sets(
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            customers INTEGER NOT NULL,
            applied_at TEXT NOT NULL);
        """,
        // 4: HTTP API keys: only a SHA-256 of each key's secret is kept (keys are 256-bit random, so a fast hash is enough)
        """
        CREATE TABLE api_keys(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('read', 'enrol', 'admin')),
            secret_sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT);
        """,
        // 5: photo collections: every face of every indexed photo, its embedding sealed like a template; an image row and its faces
        // are written in one transaction, so an interrupted index resumes at the first image without a row
        """
        CREATE TABLE collections(
            name TEXT PRIMARY KEY,
            root TEXT NOT NULL,
            model_id TEXT NOT NULL,
            created_at TEXT NOT NULL);
        CREATE TABLE collection_images(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
            path TEXT NOT NULL,
            faces INTEGER NOT NULL,
            error TEXT,
            indexed_at TEXT NOT NULL,
            UNIQUE(collection, path));
        CREATE TABLE collection_faces(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            image_id INTEGER NOT NULL REFERENCES collection_images(id) ON DELETE CASCADE,
            face_index INTEGER NOT NULL,
            x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
            points5 TEXT NOT NULL,
            quality REAL NOT NULL,
            sealed BLOB NOT NULL,
            cluster INTEGER,
            UNIQUE(image_id, face_index));
        """,
        // a collection's newest photo in one index lookup: how a search file tells, per search, whether photos were added
        """
        CREATE INDEX collection_images_newest ON collection_images(collection, id);
        """,
        // 7: the web console's edits of live sections are a third configuration source, under the fleet's (a CHECK cannot be altered)
        """
        CREATE TABLE config_applied_v7(
            source TEXT PRIMARY KEY CHECK (source IN ('console', 'group', 'device')),
            version INTEGER NOT NULL,
            document TEXT NOT NULL,
            applied_at TEXT NOT NULL);
        INSERT INTO config_applied_v7 SELECT source, version, document, applied_at FROM config_applied;
        DROP TABLE config_applied;
        ALTER TABLE config_applied_v7 RENAME TO config_applied;
        """,
    ];

    public static int SchemaVersion => Migrations.Length;

    /// <param name="fullSync">synchronous=FULL (a committed transaction survives a power cut) or NORMAL (WAL: the last commits may be lost)</param>
    public static SqliteConnection Open(string path, bool fullSync = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 30 }.ToString());
        connection.Open();
        var synchronous = fullSync ? "FULL" : "NORMAL";
        Execute(connection, $"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;");
        Migrate(connection);
        return connection;
    }

    private static void Migrate(SqliteConnection connection)
    {
        var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version"));
        if (version > Migrations.Length)
            throw new InvalidOperationException($"database schema version {version} is newer than this EchoFace knows ({Migrations.Length}): upgrade EchoFace");
        for (; version < Migrations.Length; version++)
        {
            using var tx = connection.BeginTransaction();
            Execute(connection, Migrations[version], tx);
            Execute(connection, $"PRAGMA user_version = {version + 1}", tx);
            tx.Commit();
        }
    }

    public static void Execute(SqliteConnection c, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
