using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using EchoFace.Gallery;
using EchoFace.Inference;
using EchoFace.Storage;

namespace EchoFace.Evaluation;

/// <summary>One collection size: how fast faces are stored and sealed for search, how fast and how well they are found, at what memory.</summary>
public sealed record CollectionBenchRow(
    int Faces, double StoredPerSecond, double SealedPerSecond, double SearchP50Ms, double SearchP95Ms, double RecallAt20, double CodeFileMiB,
    double AnonymousMiB, double FileBackedMiB);

/// <summary>
/// `echoface bench collections`: synthetic collections shaped like event photos (people with ten photos each, a new photo of one of
/// them as the query) at each size, stored through the real store (sealed embeddings, one transaction per photo of ten faces),
/// sealed into the code file, searched (top 20) and checked against an exact scan of every face. The detector and embedder's
/// cost per photo is measured by `collection index` on real photos; this measures what grows with the collection.
/// </summary>
public sealed class CollectionBenchmark(string workDirectory, int queries = 30, int dimension = 512)
{
    private const int FacesPerPhoto = 10, Top = 20;
    private const float Noise = 0.12f;

    public CollectionBenchRow Run(int faces, IProgress<string>? progress = null)
    {
        if (faces < 1_000) throw new BadInputException($"a collection of {faces} faces is too small to measure: at least 1000");
        var dir = Path.Combine(workDirectory, $"bench-{faces}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        try
        {
            var cipher = new TemplateCipher(RandomNumberGenerator.GetBytes(32));
            var people = faces / FacesPerPhoto; // as many people as photos: ten people a photo, each person in ten photos
            var centers = new float[people][];
            var rng = new Random(17);
            for (var p = 0; p < people; p++) centers[p] = Noisy(new Random(p), new float[dimension], 2f);

            using var store = new CollectionStore(Path.Combine(dir, "bench.db"), cipher);
            store.Open("bench", "/bench", "synthetic");
            var watch = Stopwatch.StartNew();
            Vector2[] points = [new(1, 1), new(2, 1), new(1.5f, 2), new(1, 3), new(2, 3)];
            for (var photo = 0; photo < people; photo++)
            {
                var found = new NewFace[FacesPerPhoto];
                for (var i = 0; i < FacesPerPhoto; i++) found[i] = new NewFace(0, 0, 1, 1, points, 1, Face(centers, photo * FacesPerPhoto + i));
                store.AddImage("bench", $"/bench/{photo}.jpg", found, null);
                if (photo % 10_000 == 0) progress?.Report($"{faces:N0} faces: stored {photo * FacesPerPhoto:N0}");
            }
            var stored = faces / watch.Elapsed.TotalSeconds;

            progress?.Report($"{faces:N0} faces: sealing the code file");
            using var search = new CollectionSearch(store, cipher, Path.Combine(dir, "collections"));
            watch.Restart();
            var file = search.Sync("bench", dimension);
            var sealedRate = file.Rows / watch.Elapsed.TotalSeconds;

            // queries: a new photo of someone in the collection; exact top 20 by one pass over every face
            var asked = Enumerable.Range(0, queries).Select(_ => Noisy(rng, (float[])centers[rng.Next(people)].Clone(), Noise)).ToArray();
            progress?.Report($"{faces:N0} faces: exact search for the recall");
            var exact = Exact(centers, faces, asked);
            progress?.Report($"{faces:N0} faces: searching");
            search.Search("bench", asked[0], Top); // the first search maps the file
            var times = new List<double>();
            var hits = 0;
            for (var q = 0; q < asked.Length; q++)
            {
                var started = Stopwatch.GetTimestamp();
                var (found, _) = search.Search("bench", asked[q], Top);
                times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                // a photo found with its best face is a photo of the exact top 20
                hits += found.Count(h => exact[q].Contains(h.FaceId));
            }
            var (anon, fileBacked) = Memory();
            return new CollectionBenchRow(faces, Math.Round(stored), Math.Round(sealedRate), Percentiles.Of(times, 50), Percentiles.Of(times, 95),
                (double)hits / (asked.Length * Top), new FileInfo(CollectionSearch.CodeFilePath(Path.Combine(dir, "collections"), "bench")).Length / 1048576.0,
                anon, fileBacked);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Face r (photo r / 10): one of ten different people in that photo, each person in ten photos spread over the collection, their
    /// vector plus noise from a generator seeded by r, so the exact pass can make it again.
    /// </summary>
    private float[] Face(float[][] centers, int r)
    {
        var people = centers.Length;
        var person = (r / FacesPerPhoto + r % FacesPerPhoto * Math.Max(1, people / FacesPerPhoto)) % people;
        return Noisy(new Random(r * 7919 + 1), (float[])centers[person].Clone(), Noise);
    }

    private static float[] Noisy(Random rng, float[] v, float amount)
    {
        for (var d = 0; d < v.Length; d++) v[d] += (float)(rng.NextDouble() - 0.5) * amount;
        Embeddings.Normalize(v);
        return v;
    }

    /// <summary>Per query, the best face id (1-based, storage order) of each of the exact top 20 photos: one pass over every face, photos split across cores.</summary>
    private HashSet<long>[] Exact(float[][] centers, int faces, float[][] queries)
    {
        var photos = faces / FacesPerPhoto;
        var bestFace = queries.Select(_ => new long[photos]).ToArray();
        var bestScore = queries.Select(_ => new float[photos]).ToArray();
        Parallel.For(0, photos, photo =>
        {
            for (var q = 0; q < queries.Length; q++) bestScore[q][photo] = float.NegativeInfinity;
            for (var i = 0; i < FacesPerPhoto; i++)
            {
                var r = photo * FacesPerPhoto + i;
                var v = Face(centers, r);
                for (var q = 0; q < queries.Length; q++)
                {
                    var score = TensorPrimitives.Dot(v, queries[q]);
                    if (score > bestScore[q][photo]) (bestScore[q][photo], bestFace[q][photo]) = (score, r + 1);
                }
            }
        });
        return [.. Enumerable.Range(0, queries.Length).Select(q =>
        {
            var top = new TemplateMatrix.TopK(Top);
            for (var photo = 0; photo < photos; photo++) top.Offer(photo, bestScore[q][photo]);
            return top.Sorted().Select(h => bestFace[q][h.Row]).ToHashSet();
        })];
    }

    /// <summary>Anonymous (the process's own) and file-backed (mapped code file pages, reclaimable page cache) resident MiB, from /proc.</summary>
    private static (double Anonymous, double FileBacked) Memory()
    {
        if (ProcessStatus.Field("self", "RssAnon") is not { } anonymous) return (Process.GetCurrentProcess().WorkingSet64 / 1048576.0, 0);
        return (anonymous / 1024, (ProcessStatus.Field("self", "RssFile") ?? 0) / 1024);
    }
}
