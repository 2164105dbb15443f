using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

public sealed record ListedItem(string Item, float? Score);

public sealed record StoredList(string Customer, long Version, IReadOnlyList<ListedItem> Items, DateTimeOffset UpdatedAt);

public enum ListSetOutcome { Applied, Stale }

/// <summary>
/// Per-customer top-K lists pushed by the fleet (`recommendations/set`), with the version of the set they came in. A set replaces every
/// list, or merges into them; either way it is applied in one transaction, and a version at or below the applied one changes nothing.
/// </summary>
public sealed class RecommendationStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();

    public RecommendationStore(string databasePath, TimeProvider? clock = null)
    {
        _db = Database.Open(databasePath);
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The version of the last set applied; null when none has been.</summary>
    public long? Version
    {
        get
        {
            lock (_gate) return Database.Scalar(_db, "SELECT version FROM recommendation_sets WHERE id = 1") is long v ? v : null;
        }
    }

    public int Count
    {
        get
        {
            lock (_gate) return Convert.ToInt32(Database.Scalar(_db, "SELECT COUNT(*) FROM recommendations"), CultureInfo.InvariantCulture);
        }
    }

    public ListSetOutcome Apply(long version, bool replace, IReadOnlyDictionary<string, IReadOnlyList<ListedItem>> lists)
    {
        var now = _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            using (var check = _db.CreateCommand())
            {
                check.Transaction = tx;
                check.CommandText = "SELECT version FROM recommendation_sets WHERE id = 1";
                if (check.ExecuteScalar() is long applied && version <= applied) return ListSetOutcome.Stale;
            }
            if (replace) Database.Execute(_db, "DELETE FROM recommendations", tx);
            using (var upsert = _db.CreateCommand())
            {
                upsert.Transaction = tx;
                upsert.CommandText = """
                    INSERT INTO recommendations(customer_id, version, items, updated_at) VALUES ($c, $v, $items, $at)
                    ON CONFLICT(customer_id) DO UPDATE SET version = excluded.version, items = excluded.items, updated_at = excluded.updated_at
                    """;
                var c = upsert.Parameters.Add("$c", SqliteType.Text);
                var items = upsert.Parameters.Add("$items", SqliteType.Text);
                upsert.Parameters.AddWithValue("$v", version);
                upsert.Parameters.AddWithValue("$at", now);
                foreach (var (customer, list) in lists)
                {
                    c.Value = customer;
                    items.Value = JsonSerializer.Serialize(list);
                    upsert.ExecuteNonQuery();
                }
            }
            using (var set = _db.CreateCommand())
            {
                set.Transaction = tx;
                set.CommandText = """
                    INSERT INTO recommendation_sets(id, version, customers, applied_at) VALUES (1, $v, (SELECT COUNT(*) FROM recommendations), $at)
                    ON CONFLICT(id) DO UPDATE SET version = excluded.version, customers = excluded.customers, applied_at = excluded.applied_at
                    """;
                set.Parameters.AddWithValue("$v", version);
                set.Parameters.AddWithValue("$at", now);
                set.ExecuteNonQuery();
            }
            tx.Commit();
            return ListSetOutcome.Applied;
        }
    }

    public StoredList? For(string customer)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT version, items, updated_at FROM recommendations WHERE customer_id = $c";
            cmd.Parameters.AddWithValue("$c", customer);
            using var r = cmd.ExecuteReader();
            if (!r.Read()) return null;
            return new StoredList(customer, r.GetInt64(0), JsonSerializer.Deserialize<List<ListedItem>>(r.GetString(1))!,
                DateTimeOffset.Parse(r.GetString(2), CultureInfo.InvariantCulture));
        }
    }

    public void Dispose() => _db.Dispose();
}
