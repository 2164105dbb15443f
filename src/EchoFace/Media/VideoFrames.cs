namespace EchoFace.Media;

/// <summary>
/// A video file's frames as the door's camera would frame them (Cover-cropped to width x height), at a fixed rate, read from ffmpeg
/// one at a time so that a long clip never sits in memory.
/// </summary>
public static class VideoFrames
{
    public static readonly string[] Extensions = [".mp4", ".mkv", ".avi", ".mov", ".webm"];

    public static bool IsVideo(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>
    /// Each frame with its time in seconds, up to <paramref name="maxFrames"/>. The same image is filled again for every frame: a
    /// caller keeps what it measured, not the image. A file that is missing or holds no readable frame is a <see cref="BadInputException"/>
    /// naming <paramref name="name"/> (an upload's file name; default the path).
    /// </summary>
    public static IEnumerable<(double Seconds, RgbImage Frame)> Read(string path, int width, int height, double fps, int maxFrames, string? name = null)
    {
        name ??= path;
        if (!File.Exists(path)) throw new BadInputException($"{name} does not exist");
        if (width < 16 || height < 16 || fps <= 0 || maxFrames < 1)
            throw new ArgumentException($"frames of {width}x{height} at {fps} fps, up to {maxFrames}: not a valid reading");
        return ReadChecked(path, width, height, fps, maxFrames, name);
    }

    private static IEnumerable<(double Seconds, RgbImage Frame)> ReadChecked(string path, int width, int height, double fps, int maxFrames, string name)
    {
        var rate = fps.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        using var ffmpeg = new FfmpegProcess(["-i", path, "-an", "-sn", "-vf", $"fps={rate},{CameraFraming.Cover(width, height)}",
            "-frames:v", $"{maxFrames}", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]);
        var frame = new RgbImage(width, height);
        var read = 0;
        while (read < maxFrames && Fill(ffmpeg.Output, frame.Data))
            yield return (read++ / fps, frame);
        if (read == 0) throw new BadInputException($"{name}: not a readable video (ffmpeg: {ffmpeg.LastError.Replace(path, name, StringComparison.Ordinal)})");
    }

    private static bool Fill(Stream stream, byte[] buffer)
    {
        var at = 0;
        while (at < buffer.Length)
        {
            var n = stream.Read(buffer, at, buffer.Length - at);
            if (n == 0) return false;
            at += n;
        }
        return true;
    }
}
