using EchoFace.Inference;

namespace EchoFace.Tests.Inference;

[Trait("Category", "Integration")]
public class ModelManifestTests
{
    [Fact]
    public void Every_model_has_an_id_a_hash_a_source_and_a_licence()
    {
        var manifest = ModelManifest.Load(TestEnvironment.ModelsDirectory);
        Assert.Contains(manifest.Models, m => m.Id == "fr_detect");
        foreach (var m in manifest.Fetchable)
        {
            Assert.Matches("^[0-9a-f]{64}$", m.Sha256);
            Assert.NotEmpty(m.Sources);
            Assert.False(string.IsNullOrWhiteSpace(m.Licence), $"{m.Id} has no licence");
            Assert.False(string.IsNullOrWhiteSpace(m.Task), $"{m.Id} has no task");
        }
    }

    [Fact]
    public void Fetched_models_match_their_hashes() =>
        Assert.All(TestEnvironment.Manifest.Models.Where(m => !m.Optional), m => Assert.Equal(ModelStatus.Ok, TestEnvironment.Manifest.Verify(m)));

    private static string ManifestWith(string dir, string id, string file, string sha, string sourcePath)
    {
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        File.WriteAllText(Path.Combine(dir, "models", "manifest.json"), $$"""
            { "version": 1, "models": [ { "id": "{{id}}", "task": "test", "file": "{{file}}", "sha256": "{{sha}}", "licence": "MIT",
              "sources": [ { "path": "{{sourcePath}}" } ] } ] }
            """);
        return Path.Combine(dir, "models");
    }

    [Fact]
    public async Task Fetch_copies_a_path_source_and_checks_its_hash()
    {
        var dir = TestEnvironment.TempDirectory();
        var source = Path.Combine(dir, "weights.onnx");
        File.Copy(Path.Combine(TestEnvironment.ModelsDirectory, "fr_landmark.onnx"), source);
        var manifest = ModelManifest.Load(ManifestWith(dir, "lm", "lm.onnx", ModelManifest.Sha256Of(source), "weights.onnx"));
        var result = await new ModelFetcher(manifest).FetchAsync(manifest.Get("lm"));
        Assert.True(result.Fetched, result.Error);
        Assert.Equal(ModelStatus.Ok, manifest.Verify(manifest.Get("lm")));
    }

    [Fact]
    public async Task A_source_with_the_wrong_hash_is_refused_and_nothing_is_left_in_place()
    {
        var dir = TestEnvironment.TempDirectory();
        File.WriteAllText(Path.Combine(dir, "weights.onnx"), "not the model");
        var manifest = ModelManifest.Load(ManifestWith(dir, "lm", "lm.onnx", new string('a', 64), "weights.onnx"));
        var result = await new ModelFetcher(manifest).FetchAsync(manifest.Get("lm"));
        Assert.False(result.Fetched);
        Assert.Contains("does not match", result.Error);
        Assert.False(File.Exists(manifest.PathOf(manifest.Get("lm"))));
        Assert.Empty(Directory.GetFiles(manifest.Directory, "*.part"));
    }

    [Fact]
    public void A_missing_or_altered_model_is_an_error_naming_it_and_the_setup_command()
    {
        var dir = TestEnvironment.TempDirectory();
        var manifest = ModelManifest.Load(ManifestWith(dir, "lm", "lm.onnx", new string('b', 64), "nowhere.onnx"));
        var missing = Assert.Throws<ModelException>(() => manifest.RequireVerified("lm"));
        Assert.Contains("'lm' is missing", missing.Message);
        Assert.Contains("setup.sh", missing.Message);

        File.WriteAllText(manifest.PathOf(manifest.Get("lm")), "tampered");
        var altered = Assert.Throws<ModelException>(() => manifest.RequireVerified("lm"));
        Assert.Contains("wrong sha256", altered.Message);
        Assert.Throws<ModelException>(() => manifest.Get("nope"));
    }
}
