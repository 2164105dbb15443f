using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

public sealed record IdentityRecord(string Id, string DisplayName, string Group, DateTimeOffset CreatedAt, int FaceTemplates, int VoiceTemplates);

public sealed record NewTemplate(string Modality, string ModelId, string ModelVersion, float Quality, string? Source, float[] Vector);

public sealed record StoredTemplate(long Id, string IdentityId, string Modality, string ModelId, string ModelVersion, float Quality, string? Source, float[] Vector);

public sealed record AuditRecord(long Id, DateTimeOffset At, string Action, string? IdentityId, string? Detail);

/// <summary>Identities, their sealed templates and the audit trail, in the device database. Every write is one transaction.</summary>
public sealed class GalleryStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly TemplateCipher _cipher;
    private readonly TimeProvider _clock;

    public GalleryStore(string databasePath, TemplateCipher cipher, TimeProvider? clock = null)
    {
        _db = Database.Open(databasePath);
        _cipher = cipher;
        _clock = clock ?? TimeProvider.System;
    }

    public SqliteConnection Connection => _db;

    private static string Associated(string identityId, string modality, string modelId) => $"{identityId}|{modality}|{modelId}";

    /// <summary>Creates the identity when new (or updates its name) and adds the templates, with one audit row, atomically.</summary>
    public IReadOnlyList<long> Enroll(string identityId, string displayName, string group, IReadOnlyList<NewTemplate> templates, string auditDetail) =>
        Write(identityId, displayName, group, templates, auditDetail, replace: false);

    /// <summary>Fleet sync: the identity's templates of the given templates' modalities are replaced by these, atomically (audited as "sync").</summary>
    public IReadOnlyList<long> Replace(string identityId, string displayName, string group, IReadOnlyList<NewTemplate> templates, string auditDetail) =>
        Write(identityId, displayName, group, templates, auditDetail, replace: true);

    private IReadOnlyList<long> Write(string identityId, string displayName, string group, IReadOnlyList<NewTemplate> templates, string auditDetail, bool replace)
    {
        var now = _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        using var tx = _db.BeginTransaction();
        if (replace)
            foreach (var modality in templates.Select(t => t.Modality).Distinct())
            {
                using var delete = _db.CreateCommand();
                delete.Transaction = tx;
                delete.CommandText = "DELETE FROM templates WHERE identity_id = $id AND modality = $modality";
                delete.Parameters.AddWithValue("$id", identityId);
                delete.Parameters.AddWithValue("$modality", modality);
                delete.ExecuteNonQuery();
            }
        using (var upsert = _db.CreateCommand())
        {
            upsert.Transaction = tx;
            upsert.CommandText = "INSERT INTO identities(id, display_name, grp, created_at) VALUES ($id, $name, $grp, $at) ON CONFLICT(id) DO UPDATE SET display_name = excluded.display_name, grp = excluded.grp";
            upsert.Parameters.AddWithValue("$id", identityId);
            upsert.Parameters.AddWithValue("$name", displayName);
            upsert.Parameters.AddWithValue("$grp", group);
            upsert.Parameters.AddWithValue("$at", now);
            upsert.ExecuteNonQuery();
        }
        var ids = new List<long>();
        foreach (var t in templates)
        {
            using var insert = _db.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = """
                INSERT INTO templates(identity_id, modality, model_id, model_version, quality, source, created_at, sealed)
                VALUES ($id, $modality, $model, $version, $quality, $source, $at, $sealed) RETURNING id
                """;
            insert.Parameters.AddWithValue("$id", identityId);
            insert.Parameters.AddWithValue("$modality", t.Modality);
            insert.Parameters.AddWithValue("$model", t.ModelId);
            insert.Parameters.AddWithValue("$version", t.ModelVersion);
            insert.Parameters.AddWithValue("$quality", t.Quality);
            insert.Parameters.AddWithValue("$source", (object?)t.Source ?? DBNull.Value);
            insert.Parameters.AddWithValue("$at", now);
            insert.Parameters.AddWithValue("$sealed", _cipher.Seal(t.Vector, Associated(identityId, t.Modality, t.ModelId)));
            ids.Add((long)insert.ExecuteScalar()!);
        }
        Audit(tx, replace ? "sync" : "enroll", identityId, auditDetail);
        tx.Commit();
        return ids;
    }

    /// <summary>Deletes the identity and every template it has; false when there was none.</summary>
    public bool Remove(string identityId, string auditDetail) =>
        DeleteAudited("DELETE FROM identities WHERE id = $id", identityId, "remove", auditDetail);

    /// <summary>Runs a delete keyed by the identity and its audit row in one transaction; false (nothing audited) when it deleted nothing.</summary>
    private bool DeleteAudited(string sql, string identityId, string action, string auditDetail)
    {
        using var tx = _db.BeginTransaction();
        using var delete = _db.CreateCommand();
        delete.Transaction = tx;
        delete.CommandText = sql;
        delete.Parameters.AddWithValue("$id", identityId);
        if (delete.ExecuteNonQuery() == 0) return false;
        Audit(tx, action, identityId, auditDetail);
        tx.Commit();
        return true;
    }

    /// <summary>Records a customer's opt-in: the identity is now known as this retail customer id (audited as "opt-in").</summary>
    public void LinkCustomer(string identityId, string customerId, string auditDetail)
    {
        using var tx = _db.BeginTransaction();
        using (var cmd = _db.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = """
                INSERT INTO customers(identity_id, customer_id, opted_in_at) VALUES ($id, $customer, $at)
                ON CONFLICT(identity_id) DO UPDATE SET customer_id = excluded.customer_id, opted_in_at = excluded.opted_in_at
                """;
            cmd.Parameters.AddWithValue("$id", identityId);
            cmd.Parameters.AddWithValue("$customer", customerId);
            cmd.Parameters.AddWithValue("$at", _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            try { cmd.ExecuteNonQuery(); }
            catch (SqliteException e) when (e.SqliteErrorCode == 19) // constraint: unknown identity or customer id taken
            {
                throw new BadInputException(GetIdentity(identityId) is null
                    ? $"no identity '{identityId}': enrol the person first"
                    : $"customer id '{customerId}' is already linked to another identity", e);
            }
        }
        Audit(tx, "opt-in", identityId, auditDetail);
        tx.Commit();
    }

    /// <summary>Withdraws the opt-in (the identity stays enrolled, e.g. for a door); false when there was none.</summary>
    public bool UnlinkCustomer(string identityId, string auditDetail) =>
        DeleteAudited("DELETE FROM customers WHERE identity_id = $id", identityId, "opt-out", auditDetail);

    /// <summary>The customer id the identity opted in as; null when it has not.</summary>
    public string? CustomerOf(string identityId)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT customer_id FROM customers WHERE identity_id = $id";
        cmd.Parameters.AddWithValue("$id", identityId);
        return cmd.ExecuteScalar() as string;
    }

    /// <summary>Opted-in customers: identity id to customer id.</summary>
    public IReadOnlyDictionary<string, string> Customers()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT identity_id, customer_id FROM customers ORDER BY identity_id";
        using var r = cmd.ExecuteReader();
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (r.Read()) map[r.GetString(0)] = r.GetString(1);
        return map;
    }

    private void Audit(SqliteTransaction tx, string action, string? identityId, string? detail)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO audit(at, action, identity_id, detail) VALUES ($at, $action, $id, $detail)";
        cmd.Parameters.AddWithValue("$at", _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$action", action);
        cmd.Parameters.AddWithValue("$id", (object?)identityId ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$detail", (object?)detail ?? DBNull.Value);
        cmd.ExecuteNonQuery();
    }

    public IReadOnlyList<IdentityRecord> ListIdentities(string? id = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT i.id, i.display_name, i.grp, i.created_at,
                   (SELECT COUNT(*) FROM templates t WHERE t.identity_id = i.id AND t.modality = 'face'),
                   (SELECT COUNT(*) FROM templates t WHERE t.identity_id = i.id AND t.modality = 'voice')
            FROM identities i WHERE ($id IS NULL OR i.id = $id) ORDER BY i.id
            """;
        cmd.Parameters.AddWithValue("$id", (object?)id ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<IdentityRecord>();
        while (r.Read())
            list.Add(new IdentityRecord(r.GetString(0), r.GetString(1), r.GetString(2), DateTimeOffset.Parse(r.GetString(3), CultureInfo.InvariantCulture), r.GetInt32(4), r.GetInt32(5)));
        return list;
    }

    public IdentityRecord? GetIdentity(string id) => ListIdentities(id).FirstOrDefault();

    /// <summary>All templates of one modality (optionally one identity), opened. A blob that fails to open is an error naming it.</summary>
    public IReadOnlyList<StoredTemplate> LoadTemplates(string modality, string? identityId = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT id, identity_id, modality, model_id, model_version, quality, source, sealed FROM templates
            WHERE modality = $modality AND ($id IS NULL OR identity_id = $id) ORDER BY id
            """;
        cmd.Parameters.AddWithValue("$modality", modality);
        cmd.Parameters.AddWithValue("$id", (object?)identityId ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<StoredTemplate>();
        while (r.Read())
        {
            var (tid, who, mod, model) = (r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3));
            float[] vector;
            try { vector = _cipher.Open((byte[])r[7], Associated(who, mod, model)); }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                throw new InvalidOperationException($"template {tid} of '{who}' cannot be decrypted: the template key is not the one it was sealed with, or the row was altered", e);
            }
            list.Add(new StoredTemplate(tid, who, mod, model, r.GetString(4), r.GetFloat(5), r.IsDBNull(6) ? null : r.GetString(6), vector));
        }
        return list;
    }

    public IReadOnlyList<AuditRecord> Audit(string? identityId = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT id, at, action, identity_id, detail FROM audit WHERE ($id IS NULL OR identity_id = $id) ORDER BY id";
        cmd.Parameters.AddWithValue("$id", (object?)identityId ?? DBNull.Value);
        using var r = cmd.ExecuteReader();
        var list = new List<AuditRecord>();
        while (r.Read())
            list.Add(new AuditRecord(r.GetInt64(0), DateTimeOffset.Parse(r.GetString(1), CultureInfo.InvariantCulture), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        return list;
    }

    public static string Json(object value) => JsonSerializer.Serialize(value);

    public void Dispose() => _db.Dispose();
}
