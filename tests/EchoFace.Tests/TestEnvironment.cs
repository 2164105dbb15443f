using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Voice;

namespace EchoFace.Tests;

/// <summary>Finds the repository, its fetched models and ../shared/data; fails (never skips) with the set-up command when they are missing.</summary>
public static class TestEnvironment
{
    public const string SetupCommand = "./setup.sh (README.md, \"Quick start\")";

    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EchoFace.sln"))) return dir.FullName;
        throw new InvalidOperationException("EchoFace.sln not found above the test binaries");
    }

    public static string ModelsDirectory => Path.Combine(RepoRoot, "models");

    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    public static string Data(params string[] parts)
    {
        var path = Path.Combine([SharedData, .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new InvalidOperationException($"evaluation data {path} is missing: check out ../shared beside the repository, then run {SetupCommand}");
        return path;
    }

    private static readonly Lazy<ModelManifest> LazyManifest = new(() =>
    {
        var manifest = ModelManifest.Load(ModelsDirectory);
        var missing = manifest.Models.Where(m => !m.Optional && manifest.Verify(m) != ModelStatus.Ok).Select(m => m.Id).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"models missing or altered: {string.Join(", ", missing)}. Run {SetupCommand}");
        return manifest;
    });

    public static ModelManifest Manifest => LazyManifest.Value;

    public static InferenceSessionFactory Factory() => new(Manifest);

    public static FacePipeline Pipeline(FaceOptions? options = null) => new(Factory(), options);

    public static VoicePipeline Voice(VoiceOptions? options = null) => new(Factory(), options ?? new VoiceOptions());

    /// <summary>The recordings of one LibriSpeech test-other speaker, in name order.</summary>
    public static string[] Speech(string speaker) =>
        [.. Directory.GetFiles(Data("voice", "librispeech-test-other", speaker)).Order(StringComparer.Ordinal)];

    /// <summary>Runs ffmpeg to make a test file (an m4a from a FLAC, a tone); fails naming the set-up command when ffmpeg is missing.</summary>
    public static string Ffmpeg(string output, params string[] args)
    {
        var run = EchoFace.Media.Ffmpeg.Run([.. args, "-y", output], 1 << 20, TimeSpan.FromSeconds(60));
        if (run.ExitCode != 0) throw new InvalidOperationException($"ffmpeg {string.Join(' ', args)} failed: {run.Errors}. Is ffmpeg installed? Run {SetupCommand}");
        return output;
    }

    /// <summary>
    /// A 640x480 H.264 video showing each photo for <paramref name="seconds"/> at 10 fps, over a blurred copy of itself (CameraFraming.Fill),
    /// with <paramref name="gap"/> seconds of an empty (black) frame after each: one person leaving before the next arrives.
    /// </summary>
    public static string Video(string output, double seconds, double gap, params string[] photos)
    {
        static string S(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var args = new List<string>();
        var parts = new List<string>();
        var chains = new List<string>();
        foreach (var p in photos)
        {
            args.AddRange(["-loop", "1", "-t", S(seconds), "-i", p]);
            var i = parts.Count;
            // each photo's filter labels are its own: the chains of one -filter_complex share a namespace
            chains.Add($"[{args.Count(a => a == "-i") - 1}]{CameraFraming.Fill(640, 480).Replace("fill_", $"p{i}_")},setsar=1,fps=10[v{i}]");
            parts.Add($"[v{i}]");
            if (gap <= 0) continue;
            args.AddRange(["-f", "lavfi", "-t", S(gap), "-i", "color=black:s=640x480:r=10"]);
            chains.Add($"[{args.Count(a => a == "-i") - 1}]setsar=1,format=yuv420p[g{i}]");
            parts.Add($"[g{i}]");
        }
        args.AddRange(["-filter_complex", $"{string.Join(";", chains)};{string.Concat(parts)}concat=n={parts.Count}:v=1[out]", "-map", "[out]", "-c:v", "libx264", "-pix_fmt", "yuv420p"]);
        return Ffmpeg(output, [.. args]);
    }

    /// <summary>A 10 fps video of the first <paramref name="count"/> NUAA test-split frames of one subject, live or a printed photo of them; null when there are none.</summary>
    public static string? NuaaVideo(string output, string label, string subject, int count)
    {
        var root = Data("faces", "nuaa-subset");
        var frames = File.ReadLines(Path.Combine(root, "manifest.csv")).Skip(1).Select(l => l.Split(','))
            .Where(f => f[1] == label && f[2] == subject && f[6] == "test").Select(f => f[0]).Order(StringComparer.Ordinal).Take(count).ToList();
        if (frames.Count == 0) return null;
        var dir = output + ".frames";
        Directory.CreateDirectory(dir);
        for (var i = 0; i < frames.Count; i++) File.Copy(Path.Combine(root, frames[i]), Path.Combine(dir, $"{i:D3}.jpg"), overwrite: true);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        Ffmpeg(output, "-framerate", "10", "-i", Path.Combine(dir, "%03d.jpg"), "-c:v", "libx264", "-pix_fmt", "yuv420p");
        Directory.Delete(dir, recursive: true);
        return output;
    }

    /// <summary>
    /// A 640x480 H.264 video at 10 fps of replay-a's crops <paramref name="first"/> to first + count - 1 of live/p or spoof/replay, each
    /// 176 px tall in the middle of a black frame: a face at door distance, with the context a crop has (none) read as black.
    /// </summary>
    public static string ReplayVideo(string output, string folder, int first, int count)
    {
        var root = Data("faces", "replay-a", folder);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        return Ffmpeg(output, "-framerate", "10", "-start_number", $"{first}", "-i", Path.Combine(root, "%d.png"), "-frames:v", $"{count}",
            "-vf", "scale=-2:176,pad=640:480:(ow-iw)/2:(oh-ih)/2", "-c:v", "libx264", "-pix_fmt", "yuv420p");
    }

    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "echoface-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>One voice pipeline shared by the tests of a class.</summary>
public sealed class VoiceFixture : IDisposable
{
    public VoicePipeline Pipeline { get; } = TestEnvironment.Voice();
    public void Dispose() => Pipeline.Dispose();
}

/// <summary>One face pipeline shared by the tests of a class (loading the models takes about a second).</summary>
public sealed class PipelineFixture : IDisposable
{
    public PipelineFixture()
    {
        Factory = TestEnvironment.Factory();
        Pipeline = new FacePipeline(Factory);
    }

    /// <summary>The factory the pipeline's models came from, for other models beside them (liveness opinions).</summary>
    public InferenceSessionFactory Factory { get; }
    public FacePipeline Pipeline { get; }
    public void Dispose() => Pipeline.Dispose();
}
