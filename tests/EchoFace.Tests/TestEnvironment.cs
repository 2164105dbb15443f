using EchoFace.Face;
using EchoFace.Inference;

namespace EchoFace.Tests;

/// <summary>Finds the repository, its fetched models and ../shared/data; fails (never skips) with the set-up command when they are missing.</summary>
public static class TestEnvironment
{
    public const string SetupCommand = "./setup.sh (README.md, \"Set-up\")";

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

    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "echoface-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>One face pipeline shared by the tests of a class (loading the models takes about a second).</summary>
public sealed class PipelineFixture : IDisposable
{
    public FacePipeline Pipeline { get; } = TestEnvironment.Pipeline();
    public void Dispose() => Pipeline.Dispose();
}
