using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Inference;

/// <summary>One execution provider: how to add it to session options. Tests add providers that fail on purpose.</summary>
public interface IExecutionProvider
{
    string Name { get; }
    void Append(SessionOptions options, InferenceOptions settings);
    /// <summary>For the session of <paramref name="model"/> (a provider that caches per model needs to know which).</summary>
    void Append(SessionOptions options, InferenceOptions settings, ModelEntry model) => Append(options, settings);
}

/// <summary>TensorRT as it runs in production: engines and timing cache persisted per model file, fp16, workspace, DLA.</summary>
public sealed class TensorRtProvider(string? dataDirectory = null) : IExecutionProvider
{
    public string Name => "TensorRT";
    public void Append(SessionOptions options, InferenceOptions settings) =>
        throw new InvalidOperationException("TensorRT sessions are made per model: call Append with the model");

    public void Append(SessionOptions options, InferenceOptions settings, ModelEntry model)
    {
        using var trt = new OrtTensorRTProviderOptions();
        var cache = CacheFolder(settings, model, OrtLibrary.Version, TensorRtLibrary.Version);
        Directory.CreateDirectory(cache);
        trt.UpdateOptions(Settings(settings, cache));
        options.AppendExecutionProvider_Tensorrt(trt);
    }

    /// <summary>
    /// One folder per model file, ONNX Runtime version and TensorRT version: a changed model, runtime or TensorRT (a JetPack
    /// upgrade) never loads a stale engine. ONNX Runtime's own engine names carry the GPU's compute capability.
    /// </summary>
    public string CacheFolder(InferenceOptions settings, ModelEntry model, string ortVersion, string? trtVersion)
    {
        var root = Path.IsPathRooted(settings.TensorRtEngineCache) ? settings.TensorRtEngineCache
            : Path.Combine(dataDirectory ?? Directory.GetCurrentDirectory(), settings.TensorRtEngineCache);
        return Path.Combine(root, $"{model.Id}-{model.ShortHash}-ort{ortVersion}-trt{trtVersion ?? "none"}");
    }

    /// <summary>Whether an engine for this model file and runtime is cached (else the next session builds one).</summary>
    public bool HasEngines(InferenceOptions settings, ModelEntry model)
    {
        var folder = CacheFolder(settings, model, OrtLibrary.Version, TensorRtLibrary.Version);
        return Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*.engine").Any();
    }

    /// <summary>ONNX Runtime's TensorRT options for one model's cache folder.</summary>
    public static Dictionary<string, string> Settings(InferenceOptions settings, string cache)
    {
        var values = new Dictionary<string, string>
        {
            ["device_id"] = settings.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["trt_engine_cache_enable"] = "1", ["trt_engine_cache_path"] = cache,
            ["trt_timing_cache_enable"] = "1", ["trt_timing_cache_path"] = cache,
            ["trt_fp16_enable"] = settings.TensorRtFp16 ? "1" : "0",
            ["trt_max_workspace_size"] = ((long)settings.TensorRtWorkspaceMiB << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (settings.TensorRtDlaCore is { } dla)
        {
            values["trt_dla_enable"] = "1";
            values["trt_dla_core"] = dla.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return values;
    }
}

public sealed class CudaProvider : IExecutionProvider
{
    public string Name => "CUDA";
    public void Append(SessionOptions options, InferenceOptions settings) => options.AppendExecutionProvider_CUDA(settings.DeviceId);
}

public sealed class CpuProvider : IExecutionProvider
{
    public string Name => "CPU";
    public void Append(SessionOptions options, InferenceOptions settings) { }
}
