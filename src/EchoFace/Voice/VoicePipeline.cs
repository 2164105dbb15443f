using System.Diagnostics;
using EchoFace.Inference;
using Microsoft.Extensions.Options;

namespace EchoFace.Voice;

public sealed class VoiceOptions
{
    /// <summary>A copy to change without changing the configuration (the HTTP API's voice pipeline follows a model switch).</summary>
    public VoiceOptions Copy() => (VoiceOptions)MemberwiseClone();

    public string Embedder { get; set; } = "nnid_speaker";
    public string VadModel { get; set; } = "silero_vad";
    public VadOptions Vad { get; set; } = new();
    /// <summary>Utterances with less speech than this (after VAD) are refused: too little to tell speakers apart.</summary>
    public double MinSpeechSeconds { get; set; } = 1.0;
    /// <summary>A recording whose loudest sample is below this is called silent (a muted or unplugged microphone).</summary>
    public double SilenceDbfs { get; set; } = -50;
    /// <summary>Cosine similarity at or above which a 1:1 voice claim is accepted: FAR 1e-2 on the LibriSpeech trials (0.597; docs/voice.md).</summary>
    public float VerifyThreshold { get; set; } = 0.60f;
    /// <summary>Cosine similarity at or above which a 1:N voice search names someone: FAR 1e-3 on the LibriSpeech trials (0.656).</summary>
    public float IdentifyThreshold { get; set; } = 0.66f;
    /// <summary>Several enrolment recordings: matched one by one (Multi) or as their mean (Average); docs/voice.md has the measurement.</summary>
    public Gallery.TemplateMode TemplateMode { get; set; } = Gallery.TemplateMode.Average;
    public AudioLimits Limits { get; set; } = new();

    public void Validate()
    {
        Vad.Validate();
        Limits.Validate();
        if (MinSpeechSeconds is < 0.1 or > 60) throw new ArgumentException($"Voice.MinSpeechSeconds must be 0.1..60, not {MinSpeechSeconds}");
        if (SilenceDbfs is < -120 or > 0) throw new ArgumentException($"Voice.SilenceDbfs must be -120..0, not {SilenceDbfs}");
        if (VerifyThreshold is <= -1 or >= 1) throw new ArgumentException($"Voice.VerifyThreshold is a cosine similarity in (-1, 1), not {VerifyThreshold}");
        if (IdentifyThreshold is <= -1 or >= 1) throw new ArgumentException($"Voice.IdentifyThreshold is a cosine similarity in (-1, 1), not {IdentifyThreshold}");
    }
}

/// <summary>Milliseconds per stage of one utterance.</summary>
public readonly record struct VoiceTimings(double Decode, double Vad, double Embed)
{
    public double Total => Decode + Vad + Embed;
}

public sealed record VoiceResult(float[] Embedding, double Seconds, double SpeechSeconds, IReadOnlyList<SpeechSegment> Segments, VoiceTimings Timings);

/// <summary>Recording to speaker embedding: refuse silence, keep the speech (Silero VAD), embed it.</summary>
public sealed class VoicePipeline : IDisposable
{
    private readonly VoiceActivityDetector? _vad;

    private readonly IOptionsMonitor<VoiceOptions> _options;

    public VoicePipeline(InferenceSessionFactory factory, VoiceOptions options) : this(factory, new FixedOptions<VoiceOptions>(options)) { }

    /// <param name="options">the thresholds are read at each use (a fleet change of Voice applies from the next recording); the models and the
    /// VAD's settings are taken at the start</param>
    public VoicePipeline(InferenceSessionFactory factory, IOptionsMonitor<VoiceOptions> options)
    {
        _options = options;
        var start = options.CurrentValue;
        Embedder = SpeakerEmbedder.Create(factory, start.Embedder);
        if (start.Vad.Enabled) _vad = new VoiceActivityDetector(factory.Create(start.VadModel), start.Vad);
    }

    public VoiceOptions Options => _options.CurrentValue;
    public SpeakerEmbedder Embedder { get; private set; }

    /// <summary>Puts another speaker embedder in place (a live model switch); the caller makes sure no Analyze runs meanwhile.</summary>
    public void UseEmbedder(SpeakerEmbedder embedder)
    {
        var old = Embedder;
        Embedder = embedder;
        old.Dispose();
    }
    /// <summary>The voice activity detector, or null when Voice.Vad.Enabled is off.</summary>
    public VoiceActivityDetector? Vad => _vad;
    public string EmbedderModelId => Embedder.ModelId;
    public int EmbeddingDimension => Embedder.Dimension;
    public string Provider => Embedder.Provider;

    public VoiceResult AnalyzeFile(string path)
    {
        var start = Stopwatch.GetTimestamp();
        var clip = AudioDecoder.DecodeFile(path, Options.Limits);
        var decode = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return Analyze(clip, path, decode);
    }

    /// <param name="source">names the recording in error messages.</param>
    public VoiceResult Analyze(AudioClip clip, string source, double decodeMs = 0)
    {
        if (clip.SampleRate != AudioClip.SampleRate16k) throw new ArgumentException($"voice pipeline takes 16 kHz audio, not {clip.SampleRate} Hz");
        var needed = Options.MinSpeechSeconds;
        if (clip.Seconds < needed) throw new BadInputException($"{source}: too short ({clip.Seconds:F2} s); at least {needed:F1} s of speech is needed");
        var peak = clip.PeakDbfs;
        if (peak < Options.SilenceDbfs)
            throw new BadInputException($"{source}: silent (loudest sample {(double.IsInfinity(peak) ? "-inf" : peak.ToString("F0"))} dBFS, below {Options.SilenceDbfs:F0}); is the microphone muted?");

        var start = Stopwatch.GetTimestamp();
        float[] speech;
        IReadOnlyList<SpeechSegment> segments;
        if (_vad is null)
        {
            speech = clip.Samples;
            segments = [new SpeechSegment(0, clip.Samples.Length)];
        }
        else
        {
            var found = _vad.Segments(clip.Samples);
            segments = found;
            speech = new float[found.Sum(s => s.Length)];
            var at = 0;
            foreach (var s in found)
            {
                clip.Samples.AsSpan(s.Start, s.Length).CopyTo(speech.AsSpan(at));
                at += s.Length;
            }
        }
        var vad = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var speechSeconds = (double)speech.Length / AudioClip.SampleRate16k;
        if (speechSeconds < needed)
            throw new BadInputException(speech.Length == 0
                ? $"{source}: no speech found in {clip.Seconds:F1} s of audio"
                : $"{source}: only {speechSeconds:F2} s of speech in {clip.Seconds:F1} s of audio; at least {needed:F1} s is needed (Voice.MinSpeechSeconds)");

        start = Stopwatch.GetTimestamp();
        var embedding = Embedder.Embed(speech);
        var embed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return new VoiceResult(embedding, clip.Seconds, speechSeconds, segments, new VoiceTimings(decodeMs, vad, embed));
    }

    public void Dispose()
    {
        _vad?.Dispose();
        Embedder.Dispose();
    }
}
