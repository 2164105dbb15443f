using System.Runtime.InteropServices;

namespace EchoFace.Inference;

/// <summary>
/// The TensorRT library this machine would load (JetPack's or the CUDA packages'), by its own answer: an engine built by one
/// TensorRT version does not load in another, so the engine cache is keyed by it as well as by ONNX Runtime's version.
/// </summary>
public static class TensorRtLibrary
{
    /// <summary>The sonames ONNX Runtime's TensorRT provider links against, newest first.</summary>
    private static readonly string[] Names = ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"];

    private static readonly Lazy<string?> Found = new(() => Names.Select(VersionOf).FirstOrDefault(v => v is not null));

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int GetInferLibVersion();

    /// <summary>TensorRT's version (e.g. 10.3.0) as found by the dynamic loader's own search, or null where there is none.</summary>
    public static string? Version => Found.Value;

    /// <summary>The version a TensorRT library reports (getInferLibVersion), or null when it cannot be loaded or is not TensorRT.</summary>
    public static string? VersionOf(string nameOrPath)
    {
        if (!NativeLibrary.TryLoad(nameOrPath, out var handle)) return null;
        try
        {
            if (!NativeLibrary.TryGetExport(handle, "getInferLibVersion", out var export)) return null;
            return Decode(Marshal.GetDelegateForFunctionPointer<GetInferLibVersion>(export)());
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }

    /// <summary>NV_TENSORRT_VERSION: major * 10000 + minor * 100 + patch from TensorRT 10 on, major * 1000 + ... before.</summary>
    public static string Decode(int version) => version >= 10_000
        ? $"{version / 10_000}.{version / 100 % 100}.{version % 100}"
        : $"{version / 1000}.{version / 100 % 10}.{version % 100}";
}
