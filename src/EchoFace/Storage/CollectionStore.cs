using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace EchoFace.Storage;

public sealed record CollectionInfo(string Name, string Root, string ModelId, DateTimeOffset CreatedAt, int Images, int Failed, int Faces);

public sealed record IndexedFace(long Id, long ImageId, string Path, int FaceIndex, float X1, float Y1, float X2, float Y2, Vector2[] Points5, float Quality, float[] Embedding, int? Cluster);

public sealed record NewFace(float X1, float Y1, float X2, float Y2, Vector2[] Points5, float Quality, float[] Embedding);

/// <summary>
/// Photo collections in the device database: images (done or failed, with why) and every face found in them with its box, five
/// points, quality and embedding (sealed with the template key, the face id in the associated data).
/// </summary>
public sealed class CollectionStore(string databasePath, TemplateCipher cipher, TimeProvider? clock = null) : IDisposable
{
    private readonly SqliteConnection _db = Database.Open(databasePath);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    private static string Associated(string collection, long imageId, int faceIndex) => $"collection|{collection}|{imageId}|{faceIndex}";

    /// <summary>Creates the collection, or checks that an existing one was indexed with the same model.</summary>
    public void Open(string name, string root, string modelId)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT model_id FROM collections WHERE name = $n";
        cmd.Parameters.AddWithValue("$n", name);
        if (cmd.ExecuteScalar() is string model)
        {
            if (model != modelId) throw new BadInputException($"collection '{name}' was indexed with model {model}; this device embeds with {modelId}: index into a new collection");
            return;
        }
        cmd.CommandText = "INSERT INTO collections(name, root, model_id, created_at) VALUES ($n, $r, $m, $at)";
        cmd.Parameters.AddWithValue("$r", root);
        cmd.Parameters.AddWithValue("$m", modelId);
        cmd.Parameters.AddWithValue("$at", _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
        cmd.ExecuteNonQuery();
    }

    /// <summary>Paths already indexed (done or failed): a re-run skips them.</summary>
    public HashSet<string> IndexedPaths(string collection)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT path FROM collection_images WHERE collection = $c";
        cmd.Parameters.AddWithValue("$c", collection);
        using var r = cmd.ExecuteReader();
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (r.Read()) set.Add(r.GetString(0));
        return set;
    }

    /// <summary>One image and all its faces, in one transaction (or the image as failed, with why).</summary>
    public void AddImage(string collection, string path, IReadOnlyList<NewFace> faces, string? error)
    {
        using var tx = _db.BeginTransaction();
        long imageId;
        using (var image = _db.CreateCommand())
        {
            image.Transaction = tx;
            image.CommandText = "INSERT INTO collection_images(collection, path, faces, error, indexed_at) VALUES ($c, $p, $f, $e, $at) RETURNING id";
            image.Parameters.AddWithValue("$c", collection);
            image.Parameters.AddWithValue("$p", path);
            image.Parameters.AddWithValue("$f", faces.Count);
            image.Parameters.AddWithValue("$e", (object?)error ?? DBNull.Value);
            image.Parameters.AddWithValue("$at", _clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
            imageId = (long)image.ExecuteScalar()!;
        }
        for (var i = 0; i < faces.Count; i++)
        {
            var f = faces[i];
            using var face = _db.CreateCommand();
            face.Transaction = tx;
            face.CommandText = """
                INSERT INTO collection_faces(image_id, face_index, x1, y1, x2, y2, points5, quality, sealed)
                VALUES ($i, $k, $x1, $y1, $x2, $y2, $pts, $q, $s)
                """;
            face.Parameters.AddWithValue("$i", imageId);
            face.Parameters.AddWithValue("$k", i);
            face.Parameters.AddWithValue("$x1", f.X1);
            face.Parameters.AddWithValue("$y1", f.Y1);
            face.Parameters.AddWithValue("$x2", f.X2);
            face.Parameters.AddWithValue("$y2", f.Y2);
            face.Parameters.AddWithValue("$pts", JsonSerializer.Serialize(f.Points5.Select(p => new[] { p.X, p.Y })));
            face.Parameters.AddWithValue("$q", f.Quality);
            face.Parameters.AddWithValue("$s", cipher.Seal(f.Embedding, Associated(collection, imageId, i)));
            face.ExecuteNonQuery();
        }
        tx.Commit();
    }

    public IReadOnlyList<IndexedFace> Faces(string collection)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT f.id, f.image_id, i.path, f.face_index, f.x1, f.y1, f.x2, f.y2, f.points5, f.quality, f.sealed, f.cluster
            FROM collection_faces f JOIN collection_images i ON i.id = f.image_id WHERE i.collection = $c ORDER BY f.id
            """;
        cmd.Parameters.AddWithValue("$c", collection);
        using var r = cmd.ExecuteReader();
        var list = new List<IndexedFace>();
        while (r.Read())
        {
            var imageId = r.GetInt64(1);
            var faceIndex = r.GetInt32(3);
            var points = JsonSerializer.Deserialize<float[][]>(r.GetString(8))!.Select(p => new Vector2(p[0], p[1])).ToArray();
            list.Add(new IndexedFace(r.GetInt64(0), imageId, r.GetString(2), faceIndex, r.GetFloat(4), r.GetFloat(5), r.GetFloat(6), r.GetFloat(7), points,
                r.GetFloat(9), cipher.Open((byte[])r[10], Associated(collection, imageId, faceIndex)), r.IsDBNull(11) ? null : r.GetInt32(11)));
        }
        return list;
    }

    /// <summary>The collection's faces above a face id, ascending, decrypted one at a time as they are read (a code file's sync).</summary>
    public IEnumerable<(long FaceId, float[] Embedding)> EmbeddingsAfter(string collection, long afterId)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT f.id, f.image_id, f.face_index, f.sealed FROM collection_faces f JOIN collection_images i ON i.id = f.image_id
            WHERE i.collection = $c AND f.id > $after ORDER BY f.id
            """;
        cmd.Parameters.AddWithValue("$c", collection);
        cmd.Parameters.AddWithValue("$after", afterId);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return (r.GetInt64(0), cipher.Open((byte[])r[3], Associated(collection, r.GetInt64(1), r.GetInt32(2))));
    }

    /// <summary>Photo path and embedding of the given faces of a collection (ids of another collection are not returned).</summary>
    public Dictionary<long, (string Path, float[] Embedding)> Embeddings(string collection, IReadOnlyCollection<long> faceIds)
    {
        var found = new Dictionary<long, (string, float[])>();
        using var cmd = _db.CreateCommand();
        // CROSS JOIN fixes the order: one primary-key lookup per id asked for, never a walk over the collection's photos
        cmd.CommandText = """
            SELECT f.id, f.image_id, f.face_index, f.sealed, i.path
            FROM json_each($ids) AS j CROSS JOIN collection_faces f ON f.id = j.value CROSS JOIN collection_images i ON i.id = f.image_id
            WHERE i.collection = $c
            """;
        cmd.Parameters.AddWithValue("$c", collection);
        cmd.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(faceIds));
        using var r = cmd.ExecuteReader();
        while (r.Read()) found[r.GetInt64(0)] = (r.GetString(4), cipher.Open((byte[])r[3], Associated(collection, r.GetInt64(1), r.GetInt32(2))));
        return found;
    }

    /// <summary>The collection's newest photo id (0 when none): photos and their faces are added together, so it moves when faces do.</summary>
    public long LastImageId(string collection)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT COALESCE(MAX(id), 0) FROM collection_images WHERE collection = $c";
        cmd.Parameters.AddWithValue("$c", collection);
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>How many faces the collection holds and its highest face id (0 when none): what a code file must agree with.</summary>
    public (int Faces, long LastFaceId) FaceExtent(string collection)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT COUNT(*), COALESCE(MAX(f.id), 0) FROM collection_faces f JOIN collection_images i ON i.id = f.image_id WHERE i.collection = $c
            """;
        cmd.Parameters.AddWithValue("$c", collection);
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt32(0), r.GetInt64(1));
    }

    /// <summary>Cluster number per face id (null: unclustered), replacing the previous clustering in one transaction.</summary>
    public void SetClusters(IReadOnlyDictionary<long, int?> clusters)
    {
        using var tx = _db.BeginTransaction();
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "UPDATE collection_faces SET cluster = $k WHERE id = $id";
        var k = cmd.Parameters.Add("$k", SqliteType.Integer);
        var id = cmd.Parameters.Add("$id", SqliteType.Integer);
        foreach (var (face, cluster) in clusters)
        {
            id.Value = face;
            k.Value = (object?)cluster ?? DBNull.Value;
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>Whether the collection exists: one primary-key lookup (a search asks it every time).</summary>
    public bool Exists(string name)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT EXISTS(SELECT 1 FROM collections WHERE name = $n)";
        cmd.Parameters.AddWithValue("$n", name);
        return (long)cmd.ExecuteScalar()! == 1;
    }

    public CollectionInfo? Info(string name)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT c.name, c.root, c.model_id, c.created_at,
                   (SELECT COUNT(*) FROM collection_images WHERE collection = c.name),
                   (SELECT COUNT(*) FROM collection_images WHERE collection = c.name AND error IS NOT NULL),
                   (SELECT COUNT(*) FROM collection_faces f JOIN collection_images i ON i.id = f.image_id WHERE i.collection = c.name)
            FROM collections c WHERE c.name = $n
            """;
        cmd.Parameters.AddWithValue("$n", name);
        using var r = cmd.ExecuteReader();
        return r.Read()
            ? new CollectionInfo(r.GetString(0), r.GetString(1), r.GetString(2), DateTimeOffset.Parse(r.GetString(3), CultureInfo.InvariantCulture), r.GetInt32(4), r.GetInt32(5), r.GetInt32(6))
            : null;
    }

    public void Dispose() => _db.Dispose();
}
