using System.Numerics.Tensors;
using System.Security.Cryptography;
using System.Text.Json;
using EchoFace.Evaluation;
using EchoFace.Inference;
using EchoFace.Voice;

namespace EchoFace.Tests.Voice;

/// <summary>The voice pipeline on the real models and recordings: VAD, accuracy targets, codecs, bad input and a swapped-in fbank model.</summary>
[Trait("Category", "Integration")]
public class VoicePipelineTests(VoiceFixture fixture) : IClassFixture<VoiceFixture>
{
    private readonly VoicePipeline _voice = fixture.Pipeline;
    private readonly string _dir = TestEnvironment.TempDirectory();

    [Fact]
    public void Vad_finds_the_speech_between_added_silences()
    {
        var speech = AudioDecoder.DecodeFile(TestEnvironment.Speech("1688")[1]).Samples[..48000];
        var alone = _voice.Analyze(new AudioClip(speech), "alone");
        var padded = new float[32000 + speech.Length + 32000];
        speech.CopyTo(padded, 32000);
        var result = _voice.Analyze(new AudioClip(padded), "padded");
        // two seconds of silence either side: the same speech, two seconds later (give or take 0.25 s: the model's state at onset differs)
        Assert.InRange(result.Segments[0].Start - alone.Segments[0].Start, 32000 - 4000, 32000 + 4000);
        Assert.InRange(result.Segments[^1].End - alone.Segments[^1].End, 32000 - 4000, 32000 + 4000);
        Assert.InRange(result.SpeechSeconds, alone.SpeechSeconds - 0.25, alone.SpeechSeconds + 0.25);
        Assert.InRange(alone.SpeechSeconds, 1.5, 3.0);
    }

    [Fact]
    public void Vad_hysteresis_joins_short_gaps_drops_short_bursts_and_pads_edges()
    {
        var o = new VadOptions { Window = 512, MinSilenceMs = 100, MinSpeechMs = 250, SpeechPadMs = 30 };
        // 32 ms windows: 10 speech, 2 quiet (64 ms < 100 ms: same segment), 10 speech, 10 quiet, 3 speech (96 ms: a click), 5 quiet
        float[] p = [.. Enumerable.Repeat(0.9f, 10), .. Enumerable.Repeat(0.1f, 2), .. Enumerable.Repeat(0.9f, 10),
                     .. Enumerable.Repeat(0.1f, 10), .. Enumerable.Repeat(0.9f, 3), .. Enumerable.Repeat(0.1f, 5)];
        var segments = VoiceActivityDetector.Segment(p, p.Length * 512, 512, o);
        var s = Assert.Single(segments);
        Assert.Equal(0, s.Start);
        Assert.Equal(22 * 512 + 480, s.End); // end of window 21 plus 30 ms of padding
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Librispeech_trials_eer_is_within_1_percent()
    {
        var trials = VoiceEvaluation.ReadTrials(TestEnvironment.Data("voice", "trials-librispeech-test-other.txt"), TestEnvironment.Data("voice"));
        var result = VoiceEvaluation.RunTrials(_voice, trials);
        Assert.Equal(4950, result.Trials);
        Assert.Empty(result.Failures);
        Assert.True(result.Metrics.Eer <= 0.01, $"EER {result.Metrics.Eer:P2} (target <= 1%, measured 0.44%)");
        Assert.True(result.Metrics.AtFar[0].Tar >= 0.98, $"TAR@FAR1e-2 {result.Metrics.AtFar[0].Tar:P2}");
        Assert.InRange(result.RealTimeFactor, 0, 0.2);
    }

    [Fact]
    public void Sr_data_is_measured_and_far_weaker_than_librispeech()
    {
        // Chinese and English, 5 speakers: the model was trained on read English; docs/voice.md reports 15.15% EER here
        var items = VoiceEvaluation.ListRecordings(TestEnvironment.Data("voice", "sr-data"), @"^([a-z]+\d*)[-_]");
        Assert.Equal(5, items.Select(i => i.Speaker).Distinct().Count());
        var result = VoiceEvaluation.RunFolder(_voice, items);
        Assert.Empty(result.Failures);
        Assert.InRange(result.Metrics.Eer, 0.05, 0.25);
    }

    [Theory]
    [InlineData(".m4a")]
    [InlineData(".mp4")]
    public void A_phone_recording_embeds_like_its_source(string extension)
    {
        var source = TestEnvironment.Speech("2414")[0];
        var phone = TestEnvironment.Ffmpeg(Path.Combine(_dir, "phone" + extension), "-i", source, "-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "96k");
        var a = _voice.AnalyzeFile(source).Embedding;
        var b = _voice.AnalyzeFile(phone).Embedding;
        var similarity = TensorPrimitives.Dot(a, b);
        Assert.True(similarity > 0.97f, $"similarity {similarity} between the FLAC and its {extension}");
    }

    public static TheoryData<string, string> BadRecordings => new()
    {
        { "silent", "silent" },
        { "short", "too short" },
        { "tone", "no speech found" },
        { "mostly-silence", "only" },
    };

    [Theory]
    [MemberData(nameof(BadRecordings))]
    public void Recordings_without_enough_speech_are_refused_saying_why(string kind, string expected)
    {
        var speech = AudioDecoder.DecodeFile(TestEnvironment.Speech("1688")[0]).Samples;
        var samples = kind switch
        {
            "silent" => new float[48000],
            "short" => speech[..8000],
            "tone" => [.. Enumerable.Range(0, 48000).Select(n => 0.3f * MathF.Sin(2 * MathF.PI * 300 * n / 16000))],
            _ => [.. new float[64000], .. speech[16000..24000], .. new float[64000]], // half a second of speech in 8.5 s
        };
        var e = Assert.Throws<BadInputException>(() => _voice.Analyze(new AudioClip(samples), kind));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(kind, e.Message);
    }

    [Fact]
    public void A_speaker_model_with_a_kaldi_fbank_input_can_be_swapped_in_by_manifest_and_config()
    {
        var models = Path.Combine(_dir, "models");
        Directory.CreateDirectory(models);
        var onnx = OnnxGraphWriter.MeanOverTime(80);
        File.WriteAllBytes(Path.Combine(models, "fbank-mean.onnx"), onnx);
        var manifest = new
        {
            version = 1,
            models = new object[]
            {
                new
                {
                    id = "fbank_mean", task = "speaker-embed", file = "fbank-mean.onnx", sha256 = Convert.ToHexStringLower(SHA256.HashData(onnx)),
                    frontEnd = new { type = "kaldi-fbank", melBins = 80, inputScale = 32768, cmn = false },
                },
            },
        };
        File.WriteAllText(Path.Combine(models, "manifest.json"), JsonSerializer.Serialize(manifest));
        var factory = new InferenceSessionFactory(ModelManifest.Load(models));
        using var pipeline = new VoicePipeline(factory, new VoiceOptions { Embedder = "fbank_mean", Vad = new VadOptions { Enabled = false } });
        Assert.IsType<FbankSpeakerEmbedder>(pipeline.Embedder);
        Assert.Equal(80, pipeline.EmbeddingDimension);

        var clip = AudioDecoder.DecodeFile(TestEnvironment.Speech("3005")[0]);
        var embedding = pipeline.Analyze(clip, "3005").Embedding;
        // what the model must have received: our fbank of the whole clip at int16 scale; its mean over time is the embedding
        var features = new KaldiFbank(new FbankOptions { InputScale = 32768 }).Compute(clip.Samples, out var frames);
        var expected = new float[80];
        for (var t = 0; t < frames; t++) TensorPrimitives.Add(expected, features.AsSpan(t * 80, 80), expected);
        Embeddings.Normalize(expected);
        Assert.True(TensorPrimitives.Dot(expected, embedding) > 0.99999f);
    }
}
