using BenchmarkDotNet.Attributes;
using EchoFace.Gallery;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Voice;

namespace EchoFace.Benchmarks;

/// <summary>
/// Voice verification of a 3 s utterance end to end on one thread: decode, VAD, embed, score against the claimed identity
/// (budget: <= 100 ms). The WAV is what a microphone capture delivers; the m4a shows the cost of starting ffmpeg for a phone file.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MemoryDiagnoser]
[MinColumn, MaxColumn, MedianColumn]
public class VoiceBenchmarks
{
    private VoicePipeline _pipeline = null!;
    private IdentityGallery _gallery = null!;
    private string _wav = null!, _m4a = null!, _dir = null!;
    private AudioClip _clip = null!;
    private readonly KaldiFbank _fbank = new();

    [GlobalSetup]
    public void Setup()
    {
        var manifest = ModelManifest.Discover();
        _pipeline = new VoicePipeline(new InferenceSessionFactory(manifest, new InferenceOptions { Providers = ["CPU"], IntraOpThreads = 1 }), new VoiceOptions());
        var source = Data.Path("voice", "librispeech-test-other", "1688", "1688-142285-0001.flac");
        _dir = Directory.CreateTempSubdirectory("echoface-bench").FullName;
        _wav = Path.Combine(_dir, "3s.wav");
        _m4a = Path.Combine(_dir, "3s.m4a");
        foreach (var (file, codec) in new[] { (_wav, "pcm_s16le"), (_m4a, "aac") })
            if (Ffmpeg.Run(["-ss", "1", "-t", "3", "-i", source, "-c:a", codec, "-y", file], 1 << 20, TimeSpan.FromSeconds(60)).ExitCode != 0)
                throw new InvalidOperationException("ffmpeg could not cut the benchmark utterance: run ./setup.sh");
        _clip = AudioDecoder.DecodeFile(_wav);
        // a gallery of 1,000 speakers; the claimed one holds the utterance's own speaker's template
        _gallery = new IdentityGallery(_pipeline.EmbeddingDimension);
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var v = new float[_pipeline.EmbeddingDimension];
            for (var j = 0; j < v.Length; j++) v[j] = (float)(random.NextDouble() - 0.5);
            Embeddings.Normalize(v);
            _gallery.Add(i, $"speaker-{i}", v);
        }
        _gallery.Add(1000, "claimed", _pipeline.AnalyzeFile(Data.Path("voice", "librispeech-test-other", "1688", "1688-142285-0000.flac")).Embedding);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipeline.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark] public int DecodeWav() => AudioDecoder.DecodeFile(_wav).Samples.Length;
    [Benchmark] public int DecodeM4aWithFfmpeg() => AudioDecoder.DecodeFile(_m4a).Samples.Length;
    [Benchmark] public int Vad() => _pipeline.Vad!.Segments(_clip.Samples).Count;
    /// <summary>VAD and embedding of a decoded clip: what the daemon runs on its microphone buffer.</summary>
    [Benchmark] public float[] AnalyzeClip() => _pipeline.Analyze(_clip, "bench").Embedding;
    [Benchmark] public float[] Fbank80() => _fbank.Compute(_clip.Samples, out _);
    [Benchmark] public float[] EmbedOnly() => _pipeline.Embedder.Embed(_clip.Samples);
    /// <summary>What `voice verify` and the door's step-up run: decode, VAD, embed, score.</summary>
    [Benchmark(Baseline = true)] public float? VerifyWav3s() => _gallery.Verify("claimed", _pipeline.AnalyzeFile(_wav).Embedding);
    [Benchmark] public float? VerifyM4a3s() => _gallery.Verify("claimed", _pipeline.AnalyzeFile(_m4a).Embedding);
}
