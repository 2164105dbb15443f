using EchoFace.Gallery;
using EchoFace.Storage;

namespace EchoFace.Cli.Api;

/// <summary>
/// Collections held in memory for search over HTTP: each one's faces as rows of a TemplateMatrix (exact float32 scan up to 50k rows,
/// an int8 scan on all cores and exact re-scoring beyond: 13 ms at 1M in GallerySearchBenchmarks), loaded on first search and again
/// when photos have been added (a count checked per search, where the full Info would count every face). Decrypting the sealed rows happens once per load, not per query.
/// </summary>
public sealed class CollectionIndexes(string databasePath, TemplateCipher cipher) : IDisposable
{
    /// <summary>A loaded collection and how many photos it had then: faces are only ever added with their photo, so a new count means new faces.</summary>
    private sealed record Loaded(int Images, TemplateMatrix Matrix, (long FaceId, string Path)[] Rows);

    private readonly Dictionary<string, Loaded> _loaded = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private CollectionStore? _store;

    public sealed record Hit(string Path, long FaceId, float Score);

    /// <summary>The photos whose best face is most like <paramref name="query"/>, best first; null when there is no such collection.</summary>
    public (IReadOnlyList<Hit> Hits, int Faces)? Search(string collection, float[] query, int top)
    {
        Loaded index;
        lock (_gate)
        {
            _store ??= new CollectionStore(databasePath, cipher);
            if (_store.ImageCount(collection) is not { } images) return null;
            if (!_loaded.TryGetValue(collection, out index!) || index.Images != images)
            {
                var faces = _store.Faces(collection);
                var matrix = new TemplateMatrix(query.Length, Math.Max(1, faces.Count));
                foreach (var f in faces)
                {
                    if (f.Embedding.Length != query.Length)
                        throw new BadInputException($"collection '{collection}' holds {f.Embedding.Length}-d embeddings; this device makes {query.Length}-d ones");
                    matrix.Add(f.Embedding);
                }
                _loaded[collection] = index = new Loaded(images, matrix, [.. faces.Select(f => (f.Id, f.Path))]);
            }
        }
        // several faces may come from one photo: ask for more rows than photos wanted, keep each photo's best
        var hits = index.Matrix.Search(query, Math.Min(index.Matrix.Count, top * 4));
        var best = new List<Hit>();
        foreach (var h in hits)
        {
            var (id, path) = index.Rows[h.Row];
            if (best.Exists(b => b.Path == path)) continue;
            best.Add(new Hit(path, id, h.Score));
            if (best.Count == top) break;
        }
        return (best, index.Matrix.Count);
    }

    public void Dispose() => _store?.Dispose();
}
