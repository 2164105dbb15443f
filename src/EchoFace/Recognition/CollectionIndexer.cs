using EchoFace.Face;
using EchoFace.Gallery;
using EchoFace.Media;
using EchoFace.Storage;

namespace EchoFace.Recognition;

public sealed record IndexRun(int Indexed, int Skipped, int Faces, int Failed, TimeSpan Elapsed);

/// <summary>
/// Indexes every face of every photo of a folder into a collection: what a re-run (or a run after an interruption) finds
/// indexed already is skipped, each photo lands with its faces in one transaction, and the sealed search codes follow at the end.
/// </summary>
public sealed class CollectionIndexer(FacePipeline pipeline, CollectionStore store, TemplateCipher cipher, string dataDirectory, ImageLimits limits)
{
    /// <summary>The photos the next <see cref="Index"/> would take (at most <paramref name="limit"/>), in path order.</summary>
    public (IReadOnlyList<string> Todo, int Skipped) Plan(string collection, string root, int? limit)
    {
        if (!Directory.Exists(root)) throw new BadInputException($"folder not found: {root}");
        store.Open(collection, root, pipeline.EmbedderModelId);
        var done = store.IndexedPaths(collection);
        var todo = Directory.GetFiles(root, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal)
            .Where(f => !done.Contains(f)).Take(limit ?? int.MaxValue).ToList();
        return (todo, done.Count);
    }

    /// <param name="photoDone">called after each photo (progress)</param>
    public IndexRun Index(string collection, IReadOnlyList<string> todo, int skipped, Action? photoDone = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int faces = 0, failed = 0;
        foreach (var path in todo)
        {
            // an interruption loses at most the photo in hand
            try
            {
                var found = pipeline.Analyze(ImageDecoder.DecodeFile(path, limits));
                store.AddImage(collection, path,
                    [.. found.Select(f => new NewFace(f.Box.X1, f.Box.Y1, f.Box.X2, f.Box.Y2, f.Points5, f.Quality.Score, f.Embedding!))], null);
                faces += found.Count;
            }
            catch (BadInputException e)
            {
                store.AddImage(collection, path, [], e.Message);
                failed++;
            }
            photoDone?.Invoke();
        }
        var elapsed = watch.Elapsed;
        // the search file follows the database: bring it up now, so the first search does not pay for it
        if (faces > 0)
        {
            using var search = new CollectionSearch(store, cipher, CollectionSearch.CodesDirectory(dataDirectory));
            search.Sync(collection, pipeline.EmbeddingDimension);
        }
        return new IndexRun(todo.Count, skipped, faces, failed, elapsed);
    }
}
