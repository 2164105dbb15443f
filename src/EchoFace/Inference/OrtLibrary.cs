using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Inference;

/// <summary>
/// Which ONNX Runtime native library this process runs, and what it can do. By default the one the NuGet package ships
/// (CPU only on linux-arm64); with Inference.NativeLibrary, a library the user brings, such as JetPack's onnxruntime with
/// CUDA and TensorRT on a Jetson. The choice is made once per process, before the first ONNX Runtime call.
/// </summary>
public static class OrtLibrary
{
    /// <summary>ONNX Runtime's own names of the providers EchoFace can use.</summary>
    public static readonly IReadOnlyDictionary<string, string> ProviderNames = new Dictionary<string, string>
    {
        ["TensorRT"] = "TensorrtExecutionProvider", ["CUDA"] = "CUDAExecutionProvider", ["CPU"] = "CPUExecutionProvider",
    };

    private static readonly Lock Gate = new();
    private static string? _chosen;
    private static IReadOnlyList<string>? _providers;

    /// <summary>
    /// Loads ONNX Runtime from <paramref name="path"/> for the rest of the process (null: the packaged library). A file that is
    /// missing or is not ONNX Runtime is refused with a message naming Inference.NativeLibrary.
    /// </summary>
    public static void Use(string? path)
    {
        if (path is null) return;
        var full = System.IO.Path.GetFullPath(path);
        lock (Gate)
        {
            if (_chosen == full) return;
            if (_chosen is not null)
                throw new BadInputException($"Inference.NativeLibrary: ONNX Runtime is already loaded from {_chosen} in this process; " +
                                            $"restart to use {full}");
            if (!File.Exists(full)) throw new BadInputException($"Inference.NativeLibrary: {full} not found");
            if (Loaded() is { } already && already != full)
                throw new BadInputException($"Inference.NativeLibrary: ONNX Runtime was already loaded from {already} before the " +
                                            "configuration was read");
            if (!NativeLibrary.TryLoad(full, out var handle))
                throw new BadInputException($"Inference.NativeLibrary: {full} is not a shared library this machine can load (another " +
                                            $"architecture, or a missing dependency: `ldd {full}`)");
            if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out _))
            {
                NativeLibrary.Free(handle);
                throw new BadInputException($"Inference.NativeLibrary: {full} is not an ONNX Runtime library (it has no OrtGetApiBase)");
            }
            // the package's own resolver would load its bundled library instead: switch it off, then answer for "onnxruntime" ourselves
            OrtEnv.DisableDllImportResolver = true;
            NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly,
                (name, _, _) => name.Contains("onnxruntime", StringComparison.Ordinal) ? handle : IntPtr.Zero);
            _chosen = full;
        }
    }

    /// <summary>The file ONNX Runtime was loaded from (read from this process's memory map), once a session or query has loaded it.</summary>
    public static string? Loaded() => _chosen ?? (File.Exists("/proc/self/maps")
        ? File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[5].Contains("libonnxruntime", StringComparison.Ordinal)
                        && !f[5].Contains("providers", StringComparison.Ordinal))
            .Select(f => f[5]).FirstOrDefault()
        : null);

    public static string Version => OrtEnv.Instance().GetVersionString();

    /// <summary>The execution providers the loaded library was built with, in ONNX Runtime's names (CPUExecutionProvider, ...).</summary>
    public static IReadOnlyList<string> Providers
    {
        get
        {
            lock (Gate) return _providers ??= OrtEnv.Instance().GetAvailableProviders();
        }
    }

    /// <summary>Whether the loaded library has EchoFace's provider <paramref name="name"/> (TensorRT, CUDA, CPU).</summary>
    public static bool Has(string name) => ProviderNames.TryGetValue(name, out var ort) && Providers.Contains(ort);

    /// <summary>EchoFace's names of the providers the library has (TensorRT, CUDA, CPU).</summary>
    public static string BuiltIn => string.Join(", ", ProviderNames.Where(p => Providers.Contains(p.Value)).Select(p => p.Key));

    /// <summary>What `echoface models` and the logs say of the library: file, version and providers.</summary>
    public static string Describe() => $"ONNX Runtime {Version} from {Loaded() ?? "the package"} (providers: {BuiltIn})" +
        (Has("TensorRT") ? $"; TensorRT {TensorRtLibrary.Version ?? "not found by the loader"}" : "");
}
