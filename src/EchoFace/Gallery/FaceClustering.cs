using System.Numerics.Tensors;

namespace EchoFace.Gallery;

/// <summary>
/// Groups unlabelled faces into people: agglomerative clustering with average linkage on cosine similarity, merging while the two
/// closest clusters are on average at least <c>threshold</c> alike (the verify threshold from the evaluation is the natural choice).
/// Written here: no clustering library is on the mirror. O(n²) memory and up to O(n³) time, so it is for collections of thousands
/// of faces, not millions.
/// </summary>
public static class FaceClustering
{
    public const int MaxFaces = 5000;

    /// <summary>A cluster number per face (0 = the largest cluster), in the faces' order.</summary>
    public static int[] Cluster(IReadOnlyList<float[]> embeddings, float threshold)
    {
        var n = embeddings.Count;
        if (n > MaxFaces) throw new BadInputException($"{n} faces are more than clustering handles ({MaxFaces}): cluster a smaller collection");
        var similarity = new float[n, n];
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++)
                similarity[i, j] = similarity[j, i] = TensorPrimitives.Dot(embeddings[i], embeddings[j]);
        var size = Enumerable.Repeat(1, n).ToArray();
        var alive = Enumerable.Repeat(true, n).ToArray();
        var members = Enumerable.Range(0, n).Select(i => new List<int> { i }).ToArray();
        while (true)
        {
            var (best, a, b) = (float.MinValue, -1, -1);
            for (var i = 0; i < n; i++)
            {
                if (!alive[i]) continue;
                for (var j = i + 1; j < n; j++)
                    if (alive[j] && similarity[i, j] > best) (best, a, b) = (similarity[i, j], i, j);
            }
            if (a < 0 || best < threshold) break;
            // Lance-Williams update for average linkage: the merged cluster's similarity to k is the size-weighted mean
            for (var k = 0; k < n; k++)
            {
                if (!alive[k] || k == a || k == b) continue;
                similarity[a, k] = similarity[k, a] = (similarity[a, k] * size[a] + similarity[b, k] * size[b]) / (size[a] + size[b]);
            }
            size[a] += size[b];
            members[a].AddRange(members[b]);
            alive[b] = false;
        }
        var labels = new int[n];
        var order = Enumerable.Range(0, n).Where(i => alive[i]).OrderByDescending(i => size[i]).ThenBy(i => members[i].Min()).ToList();
        for (var c = 0; c < order.Count; c++)
            foreach (var face in members[order[c]]) labels[face] = c;
        return labels;
    }

    /// <summary>Share of faces whose cluster's most common true label is their own (1 = every cluster holds one person).</summary>
    public static double Purity(IReadOnlyList<int> clusters, IReadOnlyList<string> truth) =>
        clusters.Count == 0 ? 0 : clusters.Zip(truth).GroupBy(p => p.First).Sum(g => g.GroupBy(p => p.Second).Max(x => x.Count())) / (double)clusters.Count;
}
