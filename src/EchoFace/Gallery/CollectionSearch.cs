using System.Numerics.Tensors;
using System.Security.Cryptography;
using System.Text;
using EchoFace.Storage;

namespace EchoFace.Gallery;

/// <summary>One photo found by a collection search: the score of its best face.</summary>
public sealed record PhotoHit(string Path, long FaceId, float Score);

/// <summary>
/// Searches a photo collection without holding it in memory: its sealed code file is brought up to the database (new faces
/// appended), scanned in int8, and the best candidates are re-scored exactly from their sealed embeddings; each photo keeps its
/// best face. Memory per search is the candidates and one 1 MiB chunk per core, whatever the collection's size. Each collection's
/// file stays open (mapped) between searches; one search at a time.
/// </summary>
public sealed class CollectionSearch(CollectionStore store, TemplateCipher cipher, string directory) : IDisposable
{
    private readonly Dictionary<string, SealedCodeFile> _open = new(StringComparer.Ordinal);

    /// <summary>Candidates re-scored exactly per photo asked for (a photo may hold several faces), plus a margin for the int8 ranking.</summary>
    public const int CandidatesPerPhoto = 4, CandidateMargin = 64;

    /// <summary>Where code files live: a folder of the data directory, beside the database they are derived from.</summary>
    public static string CodesDirectory(string dataDirectory) => Path.Combine(dataDirectory, "collections");

    public static string CodeFilePath(string directory, string collection) =>
        Path.Combine(directory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(collection)))[..24] + ".codes");

    /// <summary>
    /// Appends the faces the code file lacks, unless another process is writing it (then the file is used as it stands). A file
    /// ahead of the database (a restored backup) is rebuilt.
    /// </summary>
    public SealedCodeFile Sync(string collection, int dimension)
    {
        var newestImage = store.LastImageId(collection);
        if (_open.TryGetValue(collection, out var known) && known.Dimension == dimension && known.LastImageId == newestImage && newestImage > 0)
            return known; // one index lookup when nothing was added
        var file = CatchUp(collection, dimension, newestImage);
        if (known is not null && !ReferenceEquals(known, file)) known.Dispose();
        return _open[collection] = file;
    }

    private SealedCodeFile CatchUp(string collection, int dimension, long newestImage)
    {
        var path = CodeFilePath(directory, collection);
        using var writeLock = SealedCodeFile.TryWriteLock(path);
        if (writeLock is null) return SealedCodeFile.Open(path, collection, cipher, dimension, mayRebuild: false);
        var file = SealedCodeFile.Open(path, collection, cipher, dimension, mayRebuild: true);
        // counted once per process and per change (not per search): a file that is ahead is not trusted
        var (faces, last) = store.FaceExtent(collection);
        if (file.LastFaceId > last || file.Rows > faces)
        {
            File.Delete(path);
            file = SealedCodeFile.Open(path, collection, cipher, dimension, mayRebuild: true);
        }
        try
        {
            file.Append(store.EmbeddingsAfter(collection, file.LastFaceId), newestImage);
        }
        catch (ArgumentException e)
        {
            throw new BadInputException($"collection '{collection}' cannot be searched with {dimension}-value embeddings: {e.Message}");
        }
        return file;
    }

    /// <summary>The photos whose best face is most like the query, best first, and how many faces were searched.</summary>
    public (IReadOnlyList<PhotoHit> Hits, long Faces) Search(string collection, float[] query, int top)
    {
        var file = Sync(collection, query.Length);
        var candidates = file.Scan(query, (int)Math.Min(file.Rows, (long)top * CandidatesPerPhoto + CandidateMargin));
        var exact = store.Embeddings(collection, [.. candidates.Select(c => c.FaceId)]);
        var hits = exact.Select(e => new PhotoHit(e.Value.Path, e.Key, TensorPrimitives.Dot(query, e.Value.Embedding)))
            .GroupBy(h => h.Path).Select(g => g.MaxBy(h => h.Score)!)
            .OrderByDescending(h => h.Score).ThenBy(h => h.FaceId).Take(top).ToList();
        return (hits, file.Rows);
    }

    public void Dispose()
    {
        foreach (var file in _open.Values) file.Dispose();
        _open.Clear();
    }
}
