using MathNet.Numerics.IntegralTransforms;

namespace EchoFace.Voice;

/// <summary>Settings of the Kaldi fbank front end; the defaults are Kaldi's (and torchaudio.compliance.kaldi's) except dither, which is 0 for repeatable embeddings.</summary>
public sealed record FbankOptions
{
    public int SampleRate { get; init; } = AudioClip.SampleRate16k;
    public int MelBins { get; init; } = 80;
    public double FrameLengthMs { get; init; } = 25;
    public double FrameShiftMs { get; init; } = 10;
    public float Preemphasis { get; init; } = 0.97f;
    public bool RemoveDcOffset { get; init; } = true;
    public double LowHz { get; init; } = 20;
    /// <summary>Upper edge of the top filter; zero or negative counts back from the Nyquist frequency (Kaldi's convention).</summary>
    public double HighHz { get; init; }
    /// <summary>Multiplies the [-1, 1] waveform first: WeSpeaker exports expect 32768 (int16 scale), 3D-Speaker 1.</summary>
    public float InputScale { get; init; } = 1;

    public int FrameLength => (int)(SampleRate * FrameLengthMs / 1000);
    public int FrameShift => (int)(SampleRate * FrameShiftMs / 1000);
    /// <summary>Kaldi's round_to_power_of_two.</summary>
    public int FftSize => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)FrameLength);
}

/// <summary>
/// Kaldi-compatible log mel filterbank features (compute-fbank-feats with snip_edges, Povey window, power spectrum, natural log),
/// the front end WeSpeaker, 3D-Speaker and NeMo speaker exports are trained on. Own code: no Kaldi port is on the package mirror;
/// the FFT is MathNet's.
/// </summary>
public sealed class KaldiFbank
{
    /// <summary>Kaldi floors energies at FLT_EPSILON before the log (float.Epsilon in .NET is the smallest denormal, not this).</summary>
    public const float LogFloor = 1.1920929e-07f;

    private readonly FbankOptions _o;
    private readonly float[] _window;
    /// <summary>Per mel bin: the first FFT bin it covers and its weights from there.</summary>
    private readonly (int First, float[] Weights)[] _banks;

    public KaldiFbank(FbankOptions? options = null)
    {
        _o = options ?? new FbankOptions();
        var high = _o.HighHz > 0 ? _o.HighHz : _o.SampleRate / 2.0 + _o.HighHz;
        if (_o.MelBins < 3 || _o.FrameLength < 2 || _o.FrameShift < 1 || _o.LowHz < 0 || high <= _o.LowHz || high > _o.SampleRate / 2.0)
            throw new ArgumentException($"fbank settings are not usable: {_o}");
        _window = PoveyWindow(_o.FrameLength);
        _banks = MelBanks(_o.MelBins, _o.FftSize, _o.SampleRate, _o.LowHz, high);
    }

    public FbankOptions Options => _o;

    public static double Mel(double hz) => 1127.0 * Math.Log(1 + hz / 700.0);

    /// <summary>Kaldi's "povey" window: a Hann window raised to 0.85, zero at neither end.</summary>
    public static float[] PoveyWindow(int n)
    {
        var w = new float[n];
        for (var i = 0; i < n; i++) w[i] = (float)Math.Pow(0.5 - 0.5 * Math.Cos(2 * Math.PI * i / (n - 1)), 0.85);
        return w;
    }

    /// <summary>Triangles evenly spaced on the mel scale between low and high, over FFT bins 0 .. fft/2 - 1 (Kaldi leaves out the Nyquist bin).</summary>
    public static (int First, float[] Weights)[] MelBanks(int bins, int fftSize, int sampleRate, double lowHz, double highHz)
    {
        var fftBins = fftSize / 2;
        var binWidth = (double)sampleRate / fftSize;
        double melLow = Mel(lowHz), melHigh = Mel(highHz), delta = (melHigh - melLow) / (bins + 1);
        var banks = new (int, float[])[bins];
        for (var b = 0; b < bins; b++)
        {
            double left = melLow + b * delta, center = left + delta, right = center + delta;
            var weights = new float[fftBins];
            int first = -1, last = -1;
            for (var i = 0; i < fftBins; i++)
            {
                var mel = Mel(binWidth * i);
                if (mel <= left || mel >= right) continue;
                weights[i] = (float)(mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center));
                if (first < 0) first = i;
                last = i;
            }
            banks[b] = first < 0 ? (0, []) : (first, weights[first..(last + 1)]);
        }
        return banks;
    }

    /// <summary>Frames that fit wholly in the signal (snip_edges).</summary>
    public int FrameCount(int samples) => samples < _o.FrameLength ? 0 : 1 + (samples - _o.FrameLength) / _o.FrameShift;

    /// <summary>Log mel energies, row-major [frames, MelBins].</summary>
    public float[] Compute(ReadOnlySpan<float> samples, out int frames)
    {
        frames = FrameCount(samples.Length);
        var bins = _o.MelBins;
        var features = new float[frames * bins];
        int length = _o.FrameLength, fft = _o.FftSize;
        var buffer = new float[fft + 2];
        var power = new float[fft / 2];
        for (var t = 0; t < frames; t++)
        {
            var frame = buffer.AsSpan(0, length);
            samples.Slice(t * _o.FrameShift, length).CopyTo(frame);
            if (_o.InputScale != 1) for (var i = 0; i < length; i++) frame[i] *= _o.InputScale;
            if (_o.RemoveDcOffset)
            {
                var mean = System.Numerics.Tensors.TensorPrimitives.Sum<float>(frame) / length;
                for (var i = 0; i < length; i++) frame[i] -= mean;
            }
            if (_o.Preemphasis != 0)
            {
                // backwards so each sample sees its unmodified predecessor; the first sample uses itself (Kaldi)
                for (var i = length - 1; i > 0; i--) frame[i] -= _o.Preemphasis * frame[i - 1];
                frame[0] -= _o.Preemphasis * frame[0];
            }
            for (var i = 0; i < length; i++) frame[i] *= _window[i];
            buffer.AsSpan(length).Clear();
            Fourier.ForwardReal(buffer, fft, FourierOptions.NoScaling);
            for (var k = 0; k < power.Length; k++) power[k] = buffer[2 * k] * buffer[2 * k] + buffer[2 * k + 1] * buffer[2 * k + 1];
            var row = features.AsSpan(t * bins, bins);
            for (var b = 0; b < bins; b++)
            {
                var (first, weights) = _banks[b];
                var energy = weights.Length == 0 ? 0 : System.Numerics.Tensors.TensorPrimitives.Dot(weights, power.AsSpan(first, weights.Length));
                row[b] = MathF.Log(MathF.Max(energy, LogFloor));
            }
        }
        return features;
    }

    /// <summary>Subtracts each bin's mean over the utterance (CMN), as the speaker toolkits do before their networks.</summary>
    public static void SubtractMean(Span<float> features, int frames, int bins)
    {
        if (frames == 0) return;
        var mean = new float[bins];
        for (var t = 0; t < frames; t++) System.Numerics.Tensors.TensorPrimitives.Add(mean, features.Slice(t * bins, bins), mean);
        System.Numerics.Tensors.TensorPrimitives.Divide(mean, frames, mean);
        for (var t = 0; t < frames; t++) System.Numerics.Tensors.TensorPrimitives.Subtract(features.Slice(t * bins, bins), mean, features.Slice(t * bins, bins));
    }
}
