using EchoFace.Gallery;
using EchoFace.Storage;

namespace EchoFace.Daemon;

/// <summary>
/// Collection search for the HTTP API: through each collection's sealed code file (<see cref="CollectionSearch"/>), synced with the
/// database on each search (one query when nothing changed), so the daemon holds no collection in memory whatever its size.
/// </summary>
public sealed class CollectionIndexes(string databasePath, TemplateCipher cipher, string codesDirectory) : IDisposable
{
    private readonly Lock _gate = new();
    private CollectionStore? _store;
    private CollectionSearch? _search;

    /// <summary>The photos whose best face is most like <paramref name="query"/>, best first; null when there is no such collection.</summary>
    public (IReadOnlyList<PhotoHit> Hits, long Faces)? Search(string collection, float[] query, int top)
    {
        // the store's connection is not shared across threads: one search at a time (each takes milliseconds)
        lock (_gate)
        {
            _store ??= new CollectionStore(databasePath, cipher);
            _search ??= new CollectionSearch(_store, cipher, codesDirectory); // keeps each collection's code file mapped between searches
            if (!_store.Exists(collection)) return null;
            return _search.Search(collection, query, top);
        }
    }

    public void Dispose()
    {
        _search?.Dispose();
        _store?.Dispose();
    }
}
