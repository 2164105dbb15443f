using System.Runtime.InteropServices;

namespace EchoFace.Media;

/// <summary>
/// The microphone for the voice step-up, opened only while listening (no audio is captured between prompts): an ffmpeg child reading
/// ALSA (alsa:hw:1,0 or alsa:default), PulseAudio (pulse:default) or a file (file:PATH), at 16 kHz mono float, into a ring buffer.
/// </summary>
public sealed class MicrophoneSource(string source)
{
    public string Source { get; } = Validate(source);

    public static string Validate(string source) => source == "none" || (source.Length > 6 && (source.StartsWith("alsa:", StringComparison.Ordinal)
        || source.StartsWith("pulse:", StringComparison.Ordinal) || source.StartsWith("file:", StringComparison.Ordinal)))
        ? source
        : throw new ArgumentException($"Microphone.Source '{source}' is not alsa:DEVICE, pulse:DEVICE, file:PATH or none");

    public bool Available => Source != "none";

    /// <summary>Up to <paramref name="duration"/> of audio (less when a file ends); the samples are 16 kHz mono floats.</summary>
    public async Task<float[]> ListenAsync(TimeSpan duration, CancellationToken cancel)
    {
        if (!Available) throw new InvalidOperationException("no microphone is configured (Microphone.Source is none)");
        var seconds = duration.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
        List<string> input = Source switch
        {
            _ when Source.StartsWith("alsa:", StringComparison.Ordinal) => ["-f", "alsa", "-i", Source[5..]],
            _ when Source.StartsWith("pulse:", StringComparison.Ordinal) => ["-f", "pulse", "-i", Source[6..]],
            _ => ["-i", Source[5..]],
        };
        using var ffmpeg = new FfmpegProcess([.. input, "-t", seconds, "-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"]);
        using var stop = cancel.Register(ffmpeg.Dispose);
        var ring = new AudioRing((int)Math.Ceiling(duration.TotalSeconds * 16000) + 16000);
        // 0.1 s per read; a read short of that only happens at the end, where a split sample is dropped
        var buffer = new byte[1600 * sizeof(float)];
        int n;
        while ((n = await ffmpeg.Output.ReadAtLeastAsync(buffer, buffer.Length, false, CancellationToken.None)) > 0)
            ring.Write(MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, n - n % sizeof(float))));
        cancel.ThrowIfCancellationRequested();
        if (ring.Count == 0) throw new IOException($"the microphone ({Source}) gave no audio: {ffmpeg.LastError}");
        return ring.Latest(ring.Count);
    }
}

/// <summary>The last N samples written, oldest overwritten first.</summary>
public sealed class AudioRing(int capacity)
{
    private readonly float[] _buffer = new float[capacity];
    private long _written;

    public int Capacity => capacity;
    public int Count => (int)Math.Min(_written, capacity);

    public void Write(ReadOnlySpan<float> samples)
    {
        if (samples.Length >= capacity) samples = samples[^capacity..];
        var at = (int)(_written % capacity);
        var first = Math.Min(samples.Length, capacity - at);
        samples[..first].CopyTo(_buffer.AsSpan(at));
        samples[first..].CopyTo(_buffer);
        _written += samples.Length;
    }

    /// <summary>The most recent <paramref name="count"/> samples, in order.</summary>
    public float[] Latest(int count)
    {
        count = Math.Min(count, Count);
        var result = new float[count];
        var start = (int)((_written - count) % capacity);
        var first = Math.Min(count, capacity - start);
        _buffer.AsSpan(start, first).CopyTo(result);
        _buffer.AsSpan(0, count - first).CopyTo(result.AsSpan(first));
        return result;
    }
}
