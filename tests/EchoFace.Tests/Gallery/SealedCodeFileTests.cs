using System.Numerics.Tensors;
using System.Security.Cryptography;
using EchoFace.Gallery;
using EchoFace.Inference;
using EchoFace.Storage;

namespace EchoFace.Tests.Gallery;

[Trait("Category", "Integration")]
public class SealedCodeFileTests
{
    private static float[] Unit(Random rng, int d)
    {
        var v = new float[d];
        for (var i = 0; i < d; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        Embeddings.Normalize(v);
        return v;
    }

    /// <summary>People with ten photos each (a noisy copy of the person's vector), the shape of a photo collection.</summary>
    private static List<float[]> Collection(Random rng, int people, int dimension = 512)
    {
        var rows = new List<float[]>();
        for (var p = 0; p < people; p++)
        {
            var person = Unit(rng, dimension);
            for (var i = 0; i < 10; i++) rows.Add(Photo(rng, person));
        }
        return rows;
    }

    private static float[] Photo(Random rng, float[] person)
    {
        var v = (float[])person.Clone();
        for (var d = 0; d < v.Length; d++) v[d] += (float)(rng.NextDouble() - 0.5) * 0.12f;
        Embeddings.Normalize(v);
        return v;
    }

    private static TemplateCipher Cipher() => new(RandomNumberGenerator.GetBytes(32));

    private static string FilePath() => Path.Combine(TestEnvironment.TempDirectory(), "c.codes");

    [Fact]
    public void The_scan_plus_exact_rescoring_finds_at_least_99_percent_of_the_exact_top_20()
    {
        var rng = new Random(5);
        var rows = Collection(rng, 3_000); // 30k faces
        var path = FilePath();
        var cipher = Cipher();
        using var file = SealedCodeFile.Open(path, "events", cipher, 512, mayRebuild: true);
        file.Append(rows.Select((v, i) => ((long)i + 1, v)));
        Assert.Equal(30_000, file.Rows);
        int found = 0, wanted = 0;
        for (var t = 0; t < 30; t++)
        {
            var q = Photo(rng, rows[rng.Next(rows.Count)]);
            var exact = rows.Select((v, i) => (Id: (long)i + 1, Score: TensorPrimitives.Dot(v, q))).OrderByDescending(x => x.Score).Take(20).Select(x => x.Id).ToHashSet();
            var candidates = file.Scan(q, 20 * CollectionSearch.CandidatesPerPhoto + CollectionSearch.CandidateMargin);
            var rescored = candidates.Select(c => (c.FaceId, Score: TensorPrimitives.Dot(rows[(int)c.FaceId - 1], q))).OrderByDescending(x => x.Score).Take(20);
            found += rescored.Count(r => exact.Contains(r.FaceId));
            wanted += 20;
        }
        Assert.True(found >= wanted * 0.99, $"recall@20 {found}/{wanted}");
        // a second reader opening the same file sees the same rows
        Assert.Equal(30_000, SealedCodeFile.Open(path, "events", cipher, 512, mayRebuild: false).Rows);
    }

    [Fact]
    public void The_file_holds_no_readable_code_and_another_key_or_collection_cannot_use_it()
    {
        var rng = new Random(2);
        var rows = Collection(rng, 20, 64);
        var path = FilePath();
        var cipher = Cipher();
        using var file = SealedCodeFile.Open(path, "events", cipher, 64, mayRebuild: true);
        file.Append(rows.Select((v, i) => ((long)i + 1, v)));
        var bytes = File.ReadAllBytes(path);
        var code = new sbyte[64];
        TemplateMatrix.Encode(rows[0], code);
        var plain = System.Runtime.InteropServices.MemoryMarshal.AsBytes(code.AsSpan()).ToArray();
        Assert.Equal(-1, bytes.AsSpan().IndexOf(plain.AsSpan(0, 16)));   // the codes are not there in clear
        Assert.Equal(-1, bytes.AsSpan().IndexOf(BitConverter.GetBytes(1L).AsSpan(0, 8).ToArray().Concat(BitConverter.GetBytes(2L)).ToArray()));

        Assert.Equal(0, SealedCodeFile.Open(path, "events", Cipher(), 64, mayRebuild: false).Rows);   // another key: nothing usable
        Assert.Equal(0, SealedCodeFile.Open(path, "other", cipher, 64, mayRebuild: false).Rows);      // bound to its collection
        Assert.Equal(0, SealedCodeFile.Open(path, "events", cipher, 128, mayRebuild: false).Rows);    // and its dimension
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        // the right key finds row 1 first for a query equal to it
        using var reader = SealedCodeFile.Open(path, "events", cipher, 64, mayRebuild: false);
        var top = reader.Scan(rows[0], 1);
        Assert.Equal(1, Assert.Single(top).FaceId);
    }

    [Fact]
    public void An_uncounted_tail_from_a_crash_is_ignored_then_cut_and_ids_must_ascend()
    {
        var rng = new Random(3);
        var rows = Collection(rng, 10, 32);
        var path = FilePath();
        var cipher = Cipher();
        using var file = SealedCodeFile.Open(path, "c", cipher, 32, mayRebuild: true);
        file.Append(rows.Take(50).Select((v, i) => ((long)i + 1, v)));
        using (var s = new FileStream(path, FileMode.Append)) s.Write(new byte[1000]); // a half-written append
        using var reopened = SealedCodeFile.Open(path, "c", cipher, 32, mayRebuild: true);
        Assert.Equal(50, reopened.Rows);
        Assert.Equal(50, reopened.LastFaceId);
        Assert.All(reopened.Scan(rows[7], 10), h => Assert.InRange(h.FaceId, 1, 50));
        reopened.Append(rows.Skip(50).Select((v, i) => ((long)i + 51, v)));
        Assert.Equal(100, reopened.Rows);
        Assert.Equal(SealedCodeFile.HeaderSize + 100L * reopened.RecordSize, new FileInfo(path).Length); // the tail was cut before the append
        Assert.Equal(73, reopened.Scan(rows[72], 1)[0].FaceId);
        Assert.Throws<ArgumentException>(() => reopened.Append([(10L, rows[0])]));
    }

    [Fact]
    public void Search_follows_the_database_and_rebuilds_a_file_ahead_of_it()
    {
        var dir = TestEnvironment.TempDirectory();
        var cipher = Cipher();
        using var store = new CollectionStore(Path.Combine(dir, "db.sqlite"), cipher);
        store.Open("events", "/photos", "fr_feature");
        var rng = new Random(4);
        var people = Enumerable.Range(0, 6).Select(_ => Unit(rng, 64)).ToArray();
        NewFace Face(float[] v) => new(0, 0, 10, 10, [new(1, 1), new(2, 1), new(1.5f, 2), new(1, 3), new(2, 3)], 0.9f, v);
        for (var i = 0; i < 12; i++) store.AddImage("events", $"/photos/{i}.jpg", [Face(Photo(rng, people[i % 6])), Face(Photo(rng, people[(i + 1) % 6]))], null);
        var codes = Path.Combine(dir, "collections");
        var search = new CollectionSearch(store, cipher, codes);
        var (hits, faces) = search.Search("events", Photo(rng, people[0]), 4);
        Assert.Equal(24, faces);
        // person 0 is in photos 0 and 6 (first face) and 5 and 11 (second face): those four, each once
        Assert.Equal(["/photos/0.jpg", "/photos/11.jpg", "/photos/5.jpg", "/photos/6.jpg"], hits.Select(h => h.Path).Order(StringComparer.Ordinal));
        Assert.True(hits[3].Score > 0.9f);
        store.AddImage("events", "/photos/new.jpg", [Face(people[5])], null);
        Assert.Equal("/photos/new.jpg", search.Search("events", people[5], 1).Hits[0].Path); // a new photo is found at once
        Assert.Equal(25, search.Sync("events", 64).Rows);

        // a file from a later database (a restored backup) is rebuilt rather than trusted, when a process next opens it
        search.Dispose();
        var path = CollectionSearch.CodeFilePath(codes, "events");
        using (var file = SealedCodeFile.Open(path, "events", cipher, 64, mayRebuild: true)) file.Append([(1000L, people[1])]);
        search = new CollectionSearch(store, cipher, codes);
        Assert.Equal(25, search.Sync("events", 64).Rows);
        Assert.NotEqual(1000, search.Search("events", people[1], 1).Hits[0].FaceId);

        // while another process writes the file, a search uses it as it stands
        using (SealedCodeFile.TryWriteLock(path))
        {
            store.AddImage("events", "/photos/late.jpg", [Face(people[2])], null);
            Assert.Equal(25, search.Sync("events", 64).Rows);
        }
        Assert.Equal(26, search.Sync("events", 64).Rows);
        search.Dispose();
    }
}
