using System.Globalization;
using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

/// <summary>One desired configuration document applied from the fleet: its source (group or device), version and settings.</summary>
public sealed record AppliedConfig(string Source, long Version, string Document);

/// <summary>The configuration documents the device has applied (table config_applied), one per source, written before use.</summary>
public sealed class ConfigVersionStore : IDisposable
{
    private readonly SqliteConnection _db;

    public ConfigVersionStore(string databasePath) => _db = Database.Open(databasePath);

    public List<AppliedConfig> All()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT source, version, document FROM config_applied";
        using var r = cmd.ExecuteReader();
        var all = new List<AppliedConfig>();
        while (r.Read()) all.Add(new AppliedConfig(r.GetString(0), r.GetInt64(1), r.GetString(2)));
        return all;
    }

    /// <summary>Stores a source's document in one transaction, replacing the one it had.</summary>
    public void Save(AppliedConfig config, DateTimeOffset at)
    {
        using var tx = _db.BeginTransaction();
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO config_applied(source, version, document, applied_at) VALUES ($s, $v, $d, $at)
            ON CONFLICT(source) DO UPDATE SET version = excluded.version, document = excluded.document, applied_at = excluded.applied_at
            """;
        cmd.Parameters.AddWithValue("$s", config.Source);
        cmd.Parameters.AddWithValue("$v", config.Version);
        cmd.Parameters.AddWithValue("$d", config.Document);
        cmd.Parameters.AddWithValue("$at", at.ToString("O", CultureInfo.InvariantCulture));
        cmd.ExecuteNonQuery();
        tx.Commit();
    }

    public void Dispose() => _db.Dispose();
}
