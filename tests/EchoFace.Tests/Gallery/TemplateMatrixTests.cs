using EchoFace.Inference;
using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Gallery;

namespace EchoFace.Tests.Gallery;

[Trait("Category", "Unit")]
public class TemplateMatrixTests
{
    private static float[] RandomUnit(Random rng, int d)
    {
        var v = new float[d];
        for (var i = 0; i < d; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        Embeddings.Normalize(v);
        return v;
    }

    private static int[] BruteForce(TemplateMatrix m, float[] q, int k) =>
        [.. Enumerable.Range(0, m.Count).OrderByDescending(i => TensorPrimitives.Dot(m.Row(i), q)).Take(k)];

    [Theory]
    [InlineData(1_000)]
    [InlineData(TemplateMatrix.CoarseScanAbove + 20_000)] // the int8 scan + exact re-scoring path
    public void Top_k_matches_brute_force(int n)
    {
        var rng = new Random(7);
        var m = new TemplateMatrix(512, n);
        for (var i = 0; i < n; i++) m.Add(RandomUnit(rng, 512));
        for (var t = 0; t < 5; t++)
        {
            // a query near a stored row, as a probe of an enrolled person is
            var target = rng.Next(n);
            var q = m.Row(target).ToArray();
            for (var d = 0; d < 512; d++) q[d] += (float)(rng.NextDouble() - 0.5) * 0.05f;
            Embeddings.Normalize(q);
            var hits = m.Search(q, 5);
            Assert.Equal(BruteForce(m, q, 5), hits.Select(h => h.Row).ToArray());
            Assert.Equal(target, hits[0].Row);
            Assert.Equal(TensorPrimitives.Dot(m.Row(hits[0].Row), q), hits[0].Score, 5);
        }
    }

    /// <summary>
    /// Recall of the int8 scan (with exact re-scoring) against exact search, on 70k rows shaped like a photo collection: 7,000
    /// people with 10 photos each, every query a new photo of someone. Collections search through this path past 50k faces.
    /// </summary>
    [Fact]
    public void The_int8_path_finds_at_least_99_percent_of_the_exact_top_20()
    {
        var rng = new Random(11);
        var m = new TemplateMatrix(512, 70_000);
        var people = Enumerable.Range(0, 7_000).Select(_ => RandomUnit(rng, 512)).ToArray();
        float[] Photo(float[] person)
        {
            var v = (float[])person.Clone();
            for (var d = 0; d < v.Length; d++) v[d] += (float)(rng.NextDouble() - 0.5) * 0.12f;
            Embeddings.Normalize(v);
            return v;
        }
        foreach (var person in people)
            for (var i = 0; i < 10; i++) m.Add(Photo(person));
        int found = 0, wanted = 0;
        for (var t = 0; t < 40; t++)
        {
            var q = Photo(people[rng.Next(people.Length)]);
            var exact = BruteForce(m, q, 20).ToHashSet();
            found += m.Search(q, 20).Count(h => exact.Contains(h.Row));
            wanted += exact.Count;
        }
        Assert.True(found >= wanted * 0.99, $"recall@20 {found}/{wanted}");
    }

    [Fact]
    public void Removing_a_row_moves_the_last_one_into_its_place()
    {
        var rng = new Random(1);
        var m = new TemplateMatrix(8);
        var rows = Enumerable.Range(0, 4).Select(_ => RandomUnit(rng, 8)).ToArray();
        foreach (var r in rows) m.Add(r);
        Assert.Equal(3, m.RemoveAt(1));
        Assert.Equal(3, m.Count);
        Assert.Equal(rows[3], m.Row(1).ToArray());
        Assert.Equal(-1, m.RemoveAt(2));
    }

    [Fact]
    public void Gallery_names_the_best_identity_once_even_with_several_templates()
    {
        var rng = new Random(3);
        var g = new IdentityGallery(16);
        var alice = RandomUnit(rng, 16);
        g.Add(1, "alice", alice);
        g.Add(2, "alice", RandomUnit(rng, 16));
        g.Add(3, "bob", RandomUnit(rng, 16));
        var hits = g.Identify(alice, 5);
        Assert.Equal(["alice", "bob"], hits.Select(h => h.IdentityId).ToArray());
        Assert.Equal(1f, hits[0].Score, 4);
        Assert.Equal(1f, g.Verify("alice", alice)!.Value, 4);
        Assert.Null(g.Verify("carol", alice));
        Assert.Equal(2, g.Remove("alice"));
        Assert.Equal("bob", Assert.Single(g.Identify(alice, 5)).IdentityId);
    }
}
