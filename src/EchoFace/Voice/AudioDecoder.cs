using System.Runtime.InteropServices;
using EchoFace.Media;

namespace EchoFace.Voice;

/// <summary>
/// Any recording ffmpeg reads (m4a, mp4, wav, flac, ogg, mp3, ...) to 16 kHz mono float. WAV already at 16 kHz is read in-process;
/// everything else goes through an ffmpeg child. Failures say which file and what was wrong with it.
/// </summary>
public static class AudioDecoder
{
    public static readonly string[] Extensions = [".wav", ".flac", ".m4a", ".mp4", ".mp3", ".ogg", ".oga", ".opus", ".webm", ".aac", ".amr", ".3gp", ".mkv", ".mov"];

    public static bool IsAudio(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    public static AudioClip DecodeFile(string path, AudioLimits? limits = null)
    {
        limits ??= new AudioLimits();
        var info = new FileInfo(path);
        if (!info.Exists) throw new BadInputException(Directory.Exists(path) ? $"{path} is a folder, not an audio file" : $"audio file not found: {path}");
        if (info.Length == 0) throw new BadInputException($"{path}: the file is empty");
        if (info.Length > limits.MaxBytes) throw new BadInputException($"{path}: {info.Length / 1048576.0:F0} MiB is over the {limits.MaxBytes / 1048576.0:F0} MiB audio limit (Audio.MaxBytes)");

        AudioClip? clip = null;
        using (var stream = File.OpenRead(path))
        {
            Span<byte> head = stackalloc byte[12];
            if (stream.ReadAtLeast(head, 12, throwOnEndOfStream: false) == 12 && WavReader.LooksLikeWav(head))
                clip = WavReader.TryRead(File.ReadAllBytes(path));
        }
        clip ??= DecodeWithFfmpeg(path, limits);
        return Check(clip, path, limits);
    }

    /// <summary>Bytes received over the network or a queue: written to a private temporary file (MP4 needs seeking) and decoded.</summary>
    public static AudioClip Decode(byte[] data, string name, AudioLimits? limits = null)
    {
        limits ??= new AudioLimits();
        if (data.Length == 0) throw new BadInputException($"{name}: no audio data");
        if (WavReader.TryRead(data) is { } wav) return Check(wav, name, limits);
        var temp = Path.Combine(Path.GetTempPath(), $"echoface-audio-{Guid.NewGuid():N}{Path.GetExtension(name)}");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var file = new FileStream(temp, options)) file.Write(data);
            return DecodeFile(temp, limits);
        }
        catch (BadInputException e) { throw new BadInputException(e.Message.Replace(temp, name), e); }
        finally { File.Delete(temp); }
    }

    private static AudioClip DecodeWithFfmpeg(string path, AudioLimits limits)
    {
        var maxBytes = (long)((limits.MaxSeconds + 1) * AudioClip.SampleRate16k * sizeof(float));
        // first audio stream only, no video decoding, mixed to mono and resampled by ffmpeg (swresample)
        var run = Ffmpeg.Run(["-i", path, "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"],
            maxBytes, TimeSpan.FromSeconds(120));
        if (run.OutputTruncated)
            throw new BadInputException($"{path}: longer than {limits.MaxSeconds:F0} s (Audio.MaxSeconds); cut it to the utterance");
        if (run.ExitCode != 0)
        {
            if (run.Errors.Contains("matches no streams", StringComparison.Ordinal) || run.Errors.Contains("does not contain any stream", StringComparison.Ordinal))
                throw new BadInputException($"{path}: has no audio stream");
            throw new BadInputException($"{path}: not a readable audio file (ffmpeg: {run.FirstError})");
        }
        var samples = new float[run.Output.Length / sizeof(float)];
        MemoryMarshal.Cast<byte, float>(run.Output.AsSpan(0, samples.Length * sizeof(float))).CopyTo(samples);
        return new AudioClip(samples);
    }

    private static AudioClip Check(AudioClip clip, string source, AudioLimits limits)
    {
        if (clip.Samples.Length == 0) throw new BadInputException($"{source}: holds no audio samples");
        if (clip.Seconds > limits.MaxSeconds + 1e-9)
            throw new BadInputException($"{source}: {clip.Seconds:F0} s is longer than {limits.MaxSeconds:F0} s (Audio.MaxSeconds); cut it to the utterance");
        foreach (var s in clip.Samples)
            if (!float.IsFinite(s)) throw new BadInputException($"{source}: holds samples that are not numbers (a corrupt float WAV)");
        return clip;
    }
}
