using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Inference;

public sealed class InferenceOptions
{
    /// <summary>Execution providers tried in this order; the first that loads is used.</summary>
    public List<string> Providers { get; set; } = ["TensorRT", "CUDA", "CPU"];
    /// <summary>Threads per session; 1 keeps one face pipeline on one core so several stages or cameras can run side by side.</summary>
    public int IntraOpThreads { get; set; } = 1;
    public int DeviceId { get; set; }
    /// <summary>
    /// Where TensorRT keeps the engines it builds (minutes each on an Orin) and its timing cache, one folder per model file and
    /// ONNX Runtime version so a changed model or runtime builds afresh; relative paths are under the data directory.
    /// </summary>
    public string TensorRtEngineCache { get; set; } = "tensorrt";
    /// <summary>Lets TensorRT pick fp16 kernels where they are faster (trt_fp16_enable); the accepted fp16 variants are used either way.</summary>
    public bool TensorRtFp16 { get; set; } = true;
    /// <summary>TensorRT's builder workspace (trt_max_workspace_size); a Jetson shares it with the CPU's memory.</summary>
    public int TensorRtWorkspaceMiB { get; set; } = 1024;
    /// <summary>A Jetson's deep-learning accelerator core (0 or 1 on an Orin), layers it lacks falling back to the GPU; null: none.</summary>
    public int? TensorRtDlaCore { get; set; }
    /// <summary>
    /// auto: on CUDA or TensorRT the fp16 variant, on the CPU the faster of int8 and opt (PRelu rewritten), each only when
    /// `models quantize` accepted it, else the float model; float: never a variant; int8, fp16 or opt: that variant on every
    /// provider wherever one was made, accepted or not.
    /// </summary>
    public string Precision { get; set; } = "auto";
    /// <summary>
    /// Flush denormal floats to zero on every thread that runs a model (docs/performance.md: 10-20x on hosts that trap them, the same
    /// scores). Off only to measure what it saves.
    /// </summary>
    public bool FlushDenormals { get; set; } = true;
    /// <summary>
    /// An ONNX Runtime library to load instead of the packaged one (CPU only on linux-arm64): JetPack's or a self-built
    /// libonnxruntime.so with CUDA and TensorRT on a Jetson (docs/jetson.md). Null: the packaged library.
    /// </summary>
    public string? NativeLibrary { get; set; }

    public void Validate()
    {
        if (NativeLibrary is { } lib && !File.Exists(lib)) throw new ArgumentException($"Inference.NativeLibrary: {lib} not found");
        if (TensorRtWorkspaceMiB is < 64 or > 65536)
            throw new ArgumentException($"Inference.TensorRtWorkspaceMiB must be 64..65536, not {TensorRtWorkspaceMiB}");
        if (TensorRtDlaCore is < 0 or > 7) throw new ArgumentException($"Inference.TensorRtDlaCore must be 0..7 (or absent), not {TensorRtDlaCore}");
        if (string.IsNullOrWhiteSpace(TensorRtEngineCache)) throw new ArgumentException("Inference.TensorRtEngineCache must name a folder");
        if (Precision is not ("auto" or "float" or "int8" or "fp16" or "opt")) throw new ArgumentException($"Inference.Precision must be auto, float, int8, fp16 or opt, not '{Precision}'");
    }
}

/// <summary>Creates every ONNX Runtime session: tries the configured providers in order, logs each failure once, reports the provider used.</summary>
public sealed class InferenceSessionFactory
{
    private readonly ModelManifest _manifest;
    private readonly InferenceOptions _options;
    private readonly IReadOnlyList<IExecutionProvider> _providers;
    private readonly IReadOnlyList<string> _notBuiltIn;
    private readonly ILogger _logger;
    private static int _saidWhatIsBuiltIn;
    private readonly ConcurrentDictionary<string, string> _failures = new();
    private readonly ConcurrentDictionary<string, string> _unusable = new();

    /// <param name="dataDirectory">where relative cache folders (TensorRT's engines) go</param>
    public InferenceSessionFactory(ModelManifest manifest, InferenceOptions? options = null, ILogger? logger = null,
        IReadOnlyList<IExecutionProvider>? providers = null, string? dataDirectory = null)
    {
        _manifest = manifest;
        _options = options ?? new InferenceOptions();
        _logger = logger ?? NullLogger.Instance;
        _providers = providers ?? _options.Providers.Select(p => ByName(p, dataDirectory)).ToList();
        if (_providers.Count == 0) throw new ArgumentException("Inference.Providers is empty: list at least CPU");
        if (_options.IntraOpThreads < 0) throw new ArgumentException($"Inference.IntraOpThreads must be >= 0 (0 = all cores), not {_options.IntraOpThreads}");
        _options.Validate();
        OrtLibrary.Use(_options.NativeLibrary);
        // a provider the library was built without is not tried (no warning per model): one line says so, once per process
        var all = _providers;
        // (EchoFace's own providers only: one a test or an integrator adds is always tried)
        _notBuiltIn = [.. all.Where(p => (p is TensorRtProvider or CudaProvider or CpuProvider) && !OrtLibrary.Has(p.Name)).Select(p => p.Name)];
        _providers = [.. all.Where(p => !_notBuiltIn.Contains(p.Name))];
        foreach (var name in _notBuiltIn) _failures.TryAdd(name, $"not in this ONNX Runtime build (it has {OrtLibrary.BuiltIn})");
        if (_notBuiltIn.Count > 0 && _providers.Count > 0 && Interlocked.Exchange(ref _saidWhatIsBuiltIn, 1) == 0)
            _logger.LogInformation("{Library} has no {Missing}: models run on {Provider} (Inference.NativeLibrary names a build that has them)",
                OrtLibrary.Describe(), string.Join(" or ", _notBuiltIn), _providers[0].Name);
    }

    public static bool IsGpu(string provider) => provider is "CUDA" or "TensorRT";

    /// <summary>The entry <see cref="Create"/> loads for a model id on a provider under Inference.Precision (a variant id is loaded as it is).</summary>
    public ModelEntry Resolve(string modelId, string provider = "CPU")
    {
        var model = _manifest.Get(modelId);
        if (model.Variant is not null || _options.Precision == "float") return model;
        // auto: the GPU's fp16, or on the CPU the fastest accepted of int8 and opt (the PRelu rewrite)
        string[] wanted = _options.Precision == "auto" ? IsGpu(provider) ? ["fp16"] : ["int8", "opt"] : [_options.Precision];
        var variant = _manifest.VariantsOf(modelId)
            .Where(v => wanted.Contains(v.Variant!.Precision)
                        && (_options.Precision != "auto" || v.Variant.Accepted && (!IsEmbedder(model) || v.Variant.SharesTemplates)))
            .OrderBy(v => v.Variant!.Ms).FirstOrDefault();
        return variant is not null && _manifest.Verify(variant) == ModelStatus.Ok ? variant : model;
    }

    // an embedder's variant is only swapped in unasked when the gallery's templates still match it
    private static bool IsEmbedder(ModelEntry model) => model.Task is "face-embed" or "speaker-embed";

    public ModelManifest Manifest => _manifest;

    /// <summary>Provider name -> the reason it failed to load, for `echoface models` and telemetry.</summary>
    public IReadOnlyDictionary<string, string> ProviderFailures => _failures;

    public static IExecutionProvider ByName(string name, string? dataDirectory = null) => name.ToLowerInvariant() switch
    {
        "tensorrt" or "trt" => new TensorRtProvider(dataDirectory),
        "cuda" => new CudaProvider(),
        "cpu" => new CpuProvider(),
        _ => throw new ArgumentException($"unknown execution provider '{name}': use TensorRT, CUDA or CPU"),
    };

    public sealed record Warmed(string Model, string Loaded, string Provider, double Ms);

    /// <summary>
    /// Loads each model as the daemon will, so that whatever is built on first load (TensorRT's engines: minutes each on a Jetson)
    /// is built and cached now, before a start has to wait for it.
    /// </summary>
    public IReadOnlyList<Warmed> Warm(IEnumerable<string> modelIds, Action<string>? progress = null) => [.. modelIds.Select(id =>
    {
        progress?.Invoke(id);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var session = Create(id);
        return new Warmed(id, session.ModelId, session.Provider, Math.Round(watch.Elapsed.TotalMilliseconds, 1));
    })];

    private readonly Dictionary<string, ModelSession> _shared = [];

    /// <summary>
    /// A handle on the model's one shared session (loaded on first use, freed with its last handle): what the API's pipelines take,
    /// so a second worker costs its buffers, not a second copy of every model (docs/faults.md).
    /// </summary>
    public ModelSession CreateShared(string modelId)
    {
        lock (_shared)
        {
            if (_shared.TryGetValue(modelId, out var live) && live.Share() is { } handle) return handle;
            var first = Create(modelId);
            _shared[modelId] = first;
            return first;
        }
    }

    public ModelSession Create(string modelId)
    {
        if (_providers.Count == 0)
            throw new ModelException($"Inference.Providers lists {string.Join(", ", _notBuiltIn)}, but {OrtLibrary.Describe()}: set Inference.NativeLibrary " +
                "to an ONNX Runtime built with them, or add CPU to Inference.Providers");
        var errors = new List<string>();
        foreach (var provider in _providers)
        {
            // a provider that could not even be added (its library or driver is missing) fails the same way for every model
            if (_unusable.TryGetValue(provider.Name, out var known))
            {
                errors.Add($"{provider.Name}: {known}");
                continue;
            }
            // each provider gets its own precision: fp16 where a GPU runs it, int8 or float on the CPU
            var entry = Resolve(modelId, provider.Name);
            var path = _manifest.RequireVerified(entry.Id);
            var templates = entry.Variant is { SharesTemplates: true } v ? v.Of : entry.Id;
            var options = new SessionOptions
            {
                IntraOpNumThreads = _options.IntraOpThreads,
                InterOpNumThreads = 1,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                // the packaged graphs list their initializers as inputs: ORT warns once per weight, which buries real messages
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            };
            // ORT's pool threads (IntraOpThreads != 1); the calling thread is ModelSession's to set
            if (_options.FlushDenormals) options.AddSessionConfigEntry(DenormalFlush.SessionConfigKey, "1");
            try
            {
                if (provider is TensorRtProvider trt && !trt.HasEngines(_options, entry))
                    _logger.LogInformation("Building the TensorRT engine of {Model} (none cached for this model file and runtime yet): minutes on a " +
                        "Jetson; `echoface models warmup` builds them ahead", entry.Id);
                try { provider.Append(options, _options, entry); }
                catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException)
                {
                    _unusable.TryAdd(provider.Name, e.Message.Split('\n')[0]);
                    throw;
                }
                var session = new InferenceSession(path, options);
                var spec = entry.Variant is { } of ? _manifest.Get(of.Of) : entry;
                return new ModelSession(entry.Id, provider.Name, session, templates, _options.FlushDenormals, spec);
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException or InvalidOperationException)
            {
                var reason = e.Message.Split('\n')[0];
                errors.Add($"{provider.Name}: {reason}");
                if (_failures.TryAdd(provider.Name, reason))
                    _logger.LogWarning("Execution provider {Provider} is not available, trying the next one: {Reason}", provider.Name, reason);
            }
            finally
            {
                options.Dispose();
            }
        }
        throw new ModelException($"model '{modelId}' could not be loaded by any execution provider: {string.Join("; ", errors)}");
    }
}
