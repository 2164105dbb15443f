using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

/// <summary>What a key may do; each role includes the ones before it.</summary>
public enum ApiRole { Read = 0, Enrol = 1, Admin = 2 }

public sealed record ApiKeyRecord(string Id, string Name, ApiRole Role, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>
/// HTTP API keys, `ef_{id}_{secret}`: the id finds the row, the secret is checked against its stored SHA-256 in constant time. The
/// key itself is shown once, at creation, and never stored.
/// </summary>
public sealed class ApiKeyStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();

    public ApiKeyStore(string databasePath, TimeProvider? clock = null)
    {
        _db = Database.Open(databasePath);
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The key a request carries: `Authorization: Bearer KEY`, else the `X-Api-Key` header ("" when neither).</summary>
    public static string KeyFrom(string authorization, string apiKeyHeader) =>
        authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : apiKeyHeader;

    public static ApiRole ParseRole(string role) => role.ToLowerInvariant() switch
    {
        "read" => ApiRole.Read,
        "enrol" or "enroll" => ApiRole.Enrol,
        "admin" => ApiRole.Admin,
        _ => throw new BadInputException($"role must be read, enrol or admin, not '{role}'"),
    };

    private static string RoleName(ApiRole role) => role.ToString().ToLowerInvariant();

    /// <summary>Creates a key; the returned string is the only copy of its secret.</summary>
    public (ApiKeyRecord Record, string Key) Create(ApiRole role, string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100) throw new BadInputException("a key's name must be 1 to 100 characters");
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT INTO api_keys(id, name, role, secret_sha256, created_at) VALUES ($id, $name, $role, $hash, $at)";
            cmd.Parameters.AddWithValue("$id", id);
            cmd.Parameters.AddWithValue("$name", name);
            cmd.Parameters.AddWithValue("$role", RoleName(role));
            cmd.Parameters.AddWithValue("$hash", Hash(secret));
            cmd.Parameters.AddWithValue("$at", now.ToString("O", CultureInfo.InvariantCulture));
            cmd.ExecuteNonQuery();
        }
        return (new ApiKeyRecord(id, name, role, now, null), $"ef_{id}_{secret}");
    }

    /// <summary>The key's record when it exists, is not revoked and its secret matches; null otherwise.</summary>
    public ApiKeyRecord? Verify(string key)
    {
        var parts = key.Split('_', 3);
        if (parts.Length != 3 || parts[0] != "ef" || parts[1].Length != 12) return null;
        string? stored;
        ApiKeyRecord? record;
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id, name, role, created_at, revoked_at, secret_sha256 FROM api_keys WHERE id = $id";
            cmd.Parameters.AddWithValue("$id", parts[1]);
            using var r = cmd.ExecuteReader();
            if (!r.Read()) return null;
            record = Read(r);
            stored = r.GetString(5);
        }
        var match = CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(parts[2])), Encoding.ASCII.GetBytes(stored));
        return match && record.RevokedAt is null ? record : null;
    }

    public IReadOnlyList<ApiKeyRecord> List()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at";
            using var r = cmd.ExecuteReader();
            var list = new List<ApiKeyRecord>();
            while (r.Read()) list.Add(Read(r));
            return list;
        }
    }

    public bool Revoke(string id)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "UPDATE api_keys SET revoked_at = $at WHERE id = $id AND revoked_at IS NULL";
            cmd.Parameters.AddWithValue("$id", id);
            cmd.Parameters.AddWithValue("$at", _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            return cmd.ExecuteNonQuery() == 1;
        }
    }

    private static ApiKeyRecord Read(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), ParseRole(r.GetString(2)),
        DateTimeOffset.Parse(r.GetString(3), CultureInfo.InvariantCulture), r.IsDBNull(4) ? null : DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture));

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _db.Dispose();
}
