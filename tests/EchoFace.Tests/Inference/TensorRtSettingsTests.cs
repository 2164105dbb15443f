using EchoFace.Inference;

namespace EchoFace.Tests.Inference;

/// <summary>What the TensorRT provider asks ONNX Runtime for (no GPU here: the options themselves, and where the engines go).</summary>
[Trait("Category", "Unit")]
public class TensorRtSettingsTests
{
    private static ModelEntry Model(string sha) => new() { Id = "fr_feature", Task = "face-embed", File = "fr_feature.onnx", Sha256 = sha };

    [Fact]
    public void Engines_and_the_timing_cache_persist_per_model_file_and_runtime_under_the_data_directory()
    {
        var trt = new TensorRtProvider("/var/lib/echoface");
        var settings = new InferenceOptions();
        var folder = trt.CacheFolder(settings, Model(new string('a', 64)), "1.31.1", "10.3.0");
        Assert.Equal("/var/lib/echoface/tensorrt/fr_feature-aaaaaaaaaaaa-ort1.31.1-trt10.3.0", folder);
        // a new model file, a new runtime or a new TensorRT (a JetPack upgrade) never loads a stale engine
        Assert.NotEqual(folder, trt.CacheFolder(settings, Model(new string('b', 64)), "1.31.1", "10.3.0"));
        Assert.NotEqual(folder, trt.CacheFolder(settings, Model(new string('a', 64)), "1.32.0", "10.3.0"));
        Assert.NotEqual(folder, trt.CacheFolder(settings, Model(new string('a', 64)), "1.31.1", "10.7.0"));
        var elsewhere = new InferenceOptions { TensorRtEngineCache = "/mnt/ssd/trt" };
        Assert.StartsWith("/mnt/ssd/trt/", trt.CacheFolder(elsewhere, Model(new string('a', 64)), "1.31.1", null));

        var values = TensorRtProvider.Settings(settings, folder);
        Assert.Equal("1", values["trt_engine_cache_enable"]);
        Assert.Equal(folder, values["trt_engine_cache_path"]);
        Assert.Equal("1", values["trt_timing_cache_enable"]);
        Assert.Equal(folder, values["trt_timing_cache_path"]);
        Assert.Equal("1", values["trt_fp16_enable"]);
        Assert.Equal($"{1024L << 20}", values["trt_max_workspace_size"]);
        Assert.False(values.ContainsKey("trt_dla_enable"));
    }

    [Fact]
    public void The_Jetson_options_reach_the_provider_and_bad_values_are_refused_by_name()
    {
        var jetson = new InferenceOptions { TensorRtDlaCore = 1, TensorRtFp16 = false, TensorRtWorkspaceMiB = 256, DeviceId = 0 };
        var values = TensorRtProvider.Settings(jetson, "/c");
        Assert.Equal(("1", "1"), (values["trt_dla_enable"], values["trt_dla_core"]));
        Assert.Equal("0", values["trt_fp16_enable"]);
        Assert.Equal($"{256L << 20}", values["trt_max_workspace_size"]);
        Assert.Contains("TensorRtDlaCore", Assert.Throws<ArgumentException>(() => new InferenceOptions { TensorRtDlaCore = 9 }.Validate()).Message);
        var tiny = new InferenceOptions { TensorRtWorkspaceMiB = 1 };
        Assert.Contains("TensorRtWorkspaceMiB", Assert.Throws<ArgumentException>(tiny.Validate).Message);
    }

    [Theory]
    [InlineData(100300, "10.3.0")]
    [InlineData(101100, "10.11.0")]
    [InlineData(8601, "8.6.1")]
    [InlineData(8503, "8.5.3")]
    public void TensorRt_versions_are_read_in_both_numberings(int raw, string version) => Assert.Equal(version, TensorRtLibrary.Decode(raw));

    /// <summary>
    /// The version is asked of the library itself: a shared object with TensorRT's getInferLibVersion export (built here with gcc,
    /// as no TensorRT can be installed on this machine) answers it; one without the export, or no file, gives no version.
    /// </summary>
    [Fact]
    public void The_version_comes_from_the_librarys_own_answer_and_none_is_found_on_this_gpu_less_machine()
    {
        var dir = TestEnvironment.TempDirectory();
        string Build(string name, string source)
        {
            var c = Path.Combine(dir, name + ".c");
            File.WriteAllText(c, source);
            var so = Path.Combine(dir, name);
            using var gcc = System.Diagnostics.Process.Start("gcc", ["-shared", "-fPIC", "-o", so, c])!;
            gcc.WaitForExit();
            Assert.Equal(0, gcc.ExitCode);
            return so;
        }
        Assert.Equal("10.3.0", TensorRtLibrary.VersionOf(Build("libnvinfer.so.10", "int getInferLibVersion(void) { return 100300; }")));
        Assert.Null(TensorRtLibrary.VersionOf(Build("libother.so", "int something(void) { return 1; }")));
        Assert.Null(TensorRtLibrary.VersionOf(Path.Combine(dir, "absent.so")));
        Assert.Null(TensorRtLibrary.Version); // no TensorRT on the loader's path here: the cache key says trtnone
    }
}
