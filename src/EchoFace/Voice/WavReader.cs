using System.Buffers.Binary;

namespace EchoFace.Voice;

/// <summary>
/// Reads RIFF/WAVE PCM (16/24/32-bit integer, 32-bit float) already at 16 kHz without starting ffmpeg: that start alone costs
/// ~100 ms here, the whole verification budget. Anything else (other rates, codecs, containers) goes to ffmpeg. Own code: no
/// managed WAV reader (NAudio.Core) is on the package mirror.
/// </summary>
public static class WavReader
{
    public static bool LooksLikeWav(ReadOnlySpan<byte> data) =>
        data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data.Slice(8, 4).SequenceEqual("WAVE"u8);

    /// <summary>The clip, or null when the file is a WAV this reader leaves to ffmpeg (other rate or encoding, odd layout).</summary>
    public static AudioClip? TryRead(ReadOnlySpan<byte> data)
    {
        if (!LooksLikeWav(data)) return null;
        int format = 0, channels = 0, rate = 0, bits = 0;
        var pos = 12;
        while (pos + 8 <= data.Length)
        {
            var id = data.Slice(pos, 4);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos + 4, 4));
            var body = pos + 8;
            if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16 || body + 16 > data.Length) return null;
                format = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(body, 2));
                channels = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(body + 2, 2));
                rate = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(body + 4, 4));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(body + 14, 2));
                // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID
                if (format == 0xFFFE && size >= 40 && body + 26 <= data.Length) format = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(body + 24, 2));
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (format == 0 || rate != AudioClip.SampleRate16k || channels is < 1 or > 8) return null;
                // streaming recorders leave the size at 0 or 0xFFFFFFFF; a cut file holds less than it says: read what is there
                var available = data.Length - body;
                var length = size == 0 || size > available ? available : (int)size;
                return Decode(data.Slice(body, length), format, channels, bits);
            }
            // a chunk size past the end (found by fuzzing: it overflowed the position) means there is no data chunk to read
            var next = (long)body + size + (size & 1);
            if (next + 8 > data.Length) return null;
            pos = (int)next;
        }
        return null;
    }

    private static AudioClip? Decode(ReadOnlySpan<byte> pcm, int format, int channels, int bits)
    {
        Func<ReadOnlySpan<byte>, float>? read = (format, bits) switch
        {
            (1, 16) => b => BinaryPrimitives.ReadInt16LittleEndian(b) / 32768f,
            (1, 24) => b => ((b[0] | (b[1] << 8) | (b[2] << 16)) << 8 >> 8) / 8388608f,
            (1, 32) => b => BinaryPrimitives.ReadInt32LittleEndian(b) / 2147483648f,
            (3, 32) => b => BinaryPrimitives.ReadSingleLittleEndian(b),
            _ => null,
        };
        if (read is null) return null;
        var width = bits / 8;
        var frames = pcm.Length / (width * channels);
        var samples = new float[frames];
        for (var i = 0; i < frames; i++)
        {
            // several channels: their mean, as ffmpeg's -ac 1 does
            float sum = 0;
            for (var c = 0; c < channels; c++) sum += read(pcm.Slice((i * channels + c) * width, width));
            samples[i] = sum / channels;
        }
        return new AudioClip(samples);
    }
}
