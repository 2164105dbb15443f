using EchoFace.Inference;
using BenchmarkDotNet.Attributes;
using EchoFace.Face;
using EchoFace.Gallery;

namespace EchoFace.Benchmarks;

/// <summary>1:N top-5 over N x 512 unit vectors (budget: 1M <= 50 ms). Past 50k rows the int8 scan runs on every core.</summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MemoryDiagnoser]
[MedianColumn]
public class GallerySearchBenchmarks
{
    [Params(10_000, 100_000, 1_000_000)]
    public int N;

    private IdentityGallery _gallery = null!;
    private float[][] _queries = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        // which hand-written kernel the int8 scan runs on this CPU (avx2, arm-dotprod or vector128): `echoface bench kernels`
        Console.WriteLine($"// int8 dot kernel: {Int8Dot.Kernel}");
        var rng = new Random(42);
        _gallery = new IdentityGallery(512, N);
        var v = new float[512];
        for (var i = 0; i < N; i++)
        {
            for (var d = 0; d < 512; d++) v[d] = (float)(rng.NextDouble() * 2 - 1);
            Embeddings.Normalize(v);
            _gallery.Add(i, $"person-{i}", v);
        }
        _queries = Enumerable.Range(0, 16).Select(_ =>
        {
            var q = new float[512];
            for (var d = 0; d < 512; d++) q[d] = (float)(rng.NextDouble() * 2 - 1);
            Embeddings.Normalize(q);
            return q;
        }).ToArray();
    }

    [Benchmark]
    public Candidate[] Top5() => _gallery.Identify(_queries[_next++ % _queries.Length], 5);
}
