using System.Numerics;
using BenchmarkDotNet.Attributes;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;

namespace EchoFace.Benchmarks;

/// <summary>Per-stage latency of the face path on one thread, on a 640x480 camera frame with one face (budget: whole face <= 30 ms p50).</summary>
[SimpleJob(launchCount: 1, warmupCount: 5, iterationCount: 20)]
[MemoryDiagnoser]
[MinColumn, MaxColumn, MedianColumn]
public class FaceStageBenchmarks
{
    private FacePipeline _pipeline = null!;
    private RgbImage _frame = null!;
    private BoxF _box;
    private Vector2[] _five = null!;
    private Vector2[] _landmarks = null!;
    private EyeStateScorer _eyes = null!;

    /// <summary>Inference.FlushDenormals: false is the face path as it ran before the flush (issue 17), to show what it saves on this host.</summary>
    [Params(true, false)] public bool FlushDenormals { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var manifest = ModelManifest.Discover();
        var options = new InferenceOptions { Providers = ["CPU"], IntraOpThreads = 1, FlushDenormals = FlushDenormals };
        _pipeline = new FacePipeline(new InferenceSessionFactory(manifest, options));
        _frame = ImageDecoder.DecodeFile(Data.Path("faces", "spoof-samples", "live", "image_T2.jpg"));
        // image_T2 is a 1617x2160 phone photo: scale it to a 480x640 frame, as a camera would deliver it
        _frame = ImageSampler.WarpImage(_frame, Affine2.BoxToGrid(new BoxF(0, 0, _frame.Width, _frame.Height), 480, 640), 480, 640);
        var face = _pipeline.Analyze(_frame).First();
        (_box, _five, _landmarks) = (face.Box, face.Points5, face.Landmarks);
        _eyes = new EyeStateScorer(new InferenceSessionFactory(manifest, options).Create("eye_blink"));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipeline.Dispose();
        _eyes.Dispose();
    }

    [Benchmark] public int Detect() => _pipeline.Detector.Detect(_frame).Count;
    [Benchmark] public Vector2[] Landmarks() => _pipeline.Landmarker.Detect(_frame, _box);
    private readonly RgbImage _aligned = new(FaceEmbedder.CropSize, FaceEmbedder.CropSize);
    private readonly float[] _grey = new float[FaceEmbedder.CropSize * FaceEmbedder.CropSize];
    /// <summary>The quality crop and its sharpness, into buffers reused frame to frame as the pipeline does.</summary>
    [Benchmark] public float AlignAndQuality() => FaceQualityMeter.LaplacianVariance(FaceEmbedder.AlignedCrop(_frame, _five, _aligned), _grey);
    /// <summary>fr_liveness alone on its own crop (Face.LivenessFusion off).</summary>
    [Benchmark] public float Liveness() => _pipeline.Liveness.Score(_frame, _box);
    /// <summary>The second opinion the fusion adds (issue 24's budget: <= 10 ms per face on one core).</summary>
    [Benchmark] public float LivenessMiniFasNet() => _pipeline.LivenessFusion!.Opinions[1].Score(_frame, _box);
    /// <summary>What the door runs per face for liveness by default: fr_liveness (square) and MiniFASNetV2, fused.</summary>
    [Benchmark] public float LivenessFused() => _pipeline.LivenessFusion!.Score(_frame, _box);
    [Benchmark] public float[] Embed() => _pipeline.Embedder.Embed(_frame, _five);
    /// <summary>The blink cue's per-frame cost (both eyes), measured for issue 10 and not in the default pipeline.</summary>
    [Benchmark] public (float, float)? EyeState() => _eyes.Score(_frame, _landmarks);
    /// <summary>Everything the door runs per face: detect, two landmark passes, align, quality, liveness, embed.</summary>
    [Benchmark(Baseline = true)] public int WholeFace() => _pipeline.Analyze(_frame).Count;
}

internal static class Data
{
    public static string Path(params string[] parts)
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine([dir.FullName, "..", "shared", "data", .. parts]);
            if (File.Exists(candidate)) return System.IO.Path.GetFullPath(candidate);
        }
        throw new FileNotFoundException($"../shared/data/{string.Join('/', parts)} not found above {Directory.GetCurrentDirectory()}: run the benchmarks from the repository");
    }
}
