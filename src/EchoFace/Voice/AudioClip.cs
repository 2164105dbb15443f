using System.Numerics.Tensors;

namespace EchoFace.Voice;

/// <summary>Mono audio at <see cref="SampleRate"/> as floats in [-1, 1]: what every voice stage takes.</summary>
public sealed class AudioClip(float[] samples, int sampleRate = AudioClip.SampleRate16k)
{
    public const int SampleRate16k = 16000;

    public float[] Samples { get; } = samples;
    public int SampleRate { get; } = sampleRate;
    public double Seconds => (double)Samples.Length / SampleRate;

    /// <summary>Peak level in dBFS (-inf for digital silence).</summary>
    public double PeakDbfs
    {
        get
        {
            if (Samples.Length == 0) return double.NegativeInfinity;
            var peak = Math.Max(TensorPrimitives.Max(Samples), -TensorPrimitives.Min(Samples));
            return 20 * Math.Log10(peak);
        }
    }

    public AudioClip Slice(int start, int length) => new(Samples.AsSpan(start, length).ToArray(), SampleRate);
}

/// <summary>Limits applied before and while decoding audio, so a hostile or mistaken file cannot exhaust memory.</summary>
public sealed class AudioLimits
{
    public long MaxBytes { get; set; } = 200L * 1024 * 1024;
    /// <summary>Longest recording decoded; longer ones are refused rather than cut silently.</summary>
    public double MaxSeconds { get; set; } = 600;

    public void Validate()
    {
        if (MaxBytes <= 0) throw new ArgumentException($"Audio.MaxBytes must be positive, not {MaxBytes}");
        if (MaxSeconds is <= 0 or > 24 * 3600) throw new ArgumentException($"Audio.MaxSeconds must be in (0, 86400], not {MaxSeconds}");
    }
}
