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
        var folder = trt.CacheFolder(settings, Model(new string('a', 64)), "1.31.1");
        Assert.Equal("/var/lib/echoface/tensorrt/fr_feature-aaaaaaaaaaaa-ort1.31.1", folder);
        // a new model file or a new runtime never loads a stale engine
        Assert.NotEqual(folder, trt.CacheFolder(settings, Model(new string('b', 64)), "1.31.1"));
        Assert.NotEqual(folder, trt.CacheFolder(settings, Model(new string('a', 64)), "1.32.0"));
        var elsewhere = new InferenceOptions { TensorRtEngineCache = "/mnt/ssd/trt" };
        Assert.StartsWith("/mnt/ssd/trt/", trt.CacheFolder(elsewhere, Model(new string('a', 64)), "1.31.1"));

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
}
