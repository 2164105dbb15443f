using System.Buffers.Binary;
using EchoFace.Voice;

namespace EchoFace.Tests.Voice;

/// <summary>Decoding recordings to 16 kHz mono float: the in-process WAV reader against ffmpeg, other codecs, and every kind of bad file.</summary>
[Trait("Category", "Integration")]
public class AudioDecoderTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private static readonly string Flac = TestEnvironment.Speech("1688")[0];

    private static float MaxDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0f;
        for (var i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    [Fact]
    public void A_16_kHz_wav_read_in_process_equals_the_flac_decoded_by_ffmpeg()
    {
        var fromFlac = AudioDecoder.DecodeFile(Flac);
        Assert.Equal(15.0, fromFlac.Seconds, 2); // ffprobe: 15.00 s
        var wav = TestEnvironment.Ffmpeg(Path.Combine(_dir, "a.wav"), "-i", Flac, "-c:a", "pcm_s16le");
        Assert.NotNull(WavReader.TryRead(File.ReadAllBytes(wav)));
        Assert.Equal(0f, MaxDifference(fromFlac.Samples, AudioDecoder.DecodeFile(wav).Samples));
    }

    [Theory]
    [InlineData("pcm_s24le", 1)]
    [InlineData("pcm_f32le", 1)]
    [InlineData("pcm_s32le", 1)]
    [InlineData("pcm_s16le", 2)]
    public void Other_wav_encodings_and_stereo_read_in_process_give_the_source_samples(string codec, int channels)
    {
        // pan copies the channel as is (ffmpeg's -ac 2 would lower each copy by 3 dB)
        var wav = TestEnvironment.Ffmpeg(Path.Combine(_dir, $"{codec}-{channels}.wav"), "-i", Flac, "-t", "3",
            "-af", channels == 2 ? "pan=stereo|c0=c0|c1=c0" : "anull", "-c:a", codec);
        var inProcess = WavReader.TryRead(File.ReadAllBytes(wav));
        Assert.NotNull(inProcess);
        // stereo made of two copies averages back to the source
        var source = AudioDecoder.DecodeFile(Flac).Samples[..48000];
        Assert.True(MaxDifference(source, inProcess.Samples) < 1e-6f);
    }

    [Fact]
    public void A_44_kHz_stereo_wav_is_resampled_by_ffmpeg_to_the_same_length()
    {
        var wav = TestEnvironment.Ffmpeg(Path.Combine(_dir, "cd.wav"), "-i", Flac, "-t", "2", "-ac", "2", "-ar", "44100");
        Assert.Null(WavReader.TryRead(File.ReadAllBytes(wav)));
        var clip = AudioDecoder.DecodeFile(wav);
        Assert.Equal(AudioClip.SampleRate16k, clip.SampleRate);
        Assert.InRange(clip.Samples.Length, 31_900, 32_100);
    }

    [Theory]
    [InlineData(".m4a", "aac")]
    [InlineData(".mp4", "aac")]
    [InlineData(".ogg", "libvorbis")]
    [InlineData(".mp3", "libmp3lame")]
    public void Phone_and_compressed_formats_decode_to_16_kHz_mono(string extension, string codec)
    {
        var file = TestEnvironment.Ffmpeg(Path.Combine(_dir, "phone" + extension), "-i", Flac, "-t", "4", "-ar", "44100", "-ac", "2", "-c:a", codec);
        var clip = AudioDecoder.DecodeFile(file);
        Assert.InRange(clip.Seconds, 3.9, 4.2); // encoders add a few ms of priming
        // from bytes, as the HTTP API and MQTT receive them
        var fromBytes = AudioDecoder.Decode(File.ReadAllBytes(file), "upload" + extension);
        Assert.Equal(clip.Samples.Length, fromBytes.Samples.Length);
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "missing", "not found" },
        { "empty", "empty" },
        { "random", "not a readable audio file" },
        { "truncated-m4a", "not a readable audio file" },
        { "video-only", "no audio stream" },
        { "text-as-mp3", "not a readable audio file" },
        { "nan-float-wav", "not numbers" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_files_are_refused_with_a_message_that_says_what_is_wrong(string kind, string expected)
    {
        var path = Path.Combine(_dir, kind);
        switch (kind)
        {
            case "missing": break;
            case "empty": File.WriteAllBytes(path += ".wav", []); break;
            case "random": File.WriteAllBytes(path += ".flac", [.. Enumerable.Range(0, 4000).Select(i => (byte)(i * 7919 % 251))]); break;
            case "truncated-m4a":
                var m4a = TestEnvironment.Ffmpeg(Path.Combine(_dir, "whole.m4a"), "-i", Flac, "-c:a", "aac");
                File.WriteAllBytes(path += ".m4a", File.ReadAllBytes(m4a)[..3000]);
                break;
            case "video-only": TestEnvironment.Ffmpeg(path += ".mp4", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1"); break;
            case "text-as-mp3": File.WriteAllText(path += ".mp3", "this is not audio at all\n"); break;
            case "nan-float-wav": File.WriteAllBytes(path += ".wav", FloatWav([0.1f, float.NaN, 0.2f])); break;
        }
        var e = Assert.Throws<BadInputException>(() => AudioDecoder.DecodeFile(path));
        Assert.Contains(expected, e.Message);
        if (kind != "missing") Assert.Contains(Path.GetFileName(path), e.Message);
    }

    [Fact]
    public void A_recording_longer_than_the_limit_is_refused_not_cut()
    {
        var e = Assert.Throws<BadInputException>(() => AudioDecoder.DecodeFile(Flac, new AudioLimits { MaxSeconds = 5 }));
        Assert.Contains("longer than 5 s", e.Message);
    }

    [Fact]
    public void A_missing_ffmpeg_is_a_tool_error_naming_the_set_up_command()
    {
        var m4a = TestEnvironment.Ffmpeg(Path.Combine(_dir, "x.m4a"), "-i", Flac, "-t", "2", "-c:a", "aac");
        Environment.SetEnvironmentVariable("ECHOFACE_FFMPEG", "/nonexistent/ffmpeg");
        try
        {
            var e = Assert.Throws<ToolException>(() => AudioDecoder.DecodeFile(m4a));
            Assert.Contains("setup.sh", e.Message);
        }
        finally { Environment.SetEnvironmentVariable("ECHOFACE_FFMPEG", null); }
    }

    /// <summary>A 16 kHz mono 32-bit float WAV, written by hand so it can hold values no encoder would.</summary>
    private static byte[] FloatWav(float[] samples)
    {
        var data = new byte[44 + samples.Length * 4];
        "RIFF"u8.CopyTo(data);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4), data.Length - 8);
        "WAVEfmt "u8.CopyTo(data.AsSpan(8));
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(16), 16);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(20), 3);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(22), 1);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(24), 16000);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(28), 64000);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(32), 4);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(34), 32);
        "data"u8.CopyTo(data.AsSpan(36));
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(40), samples.Length * 4);
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(44 + i * 4), samples[i]);
        return data;
    }
}
