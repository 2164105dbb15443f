using System.Runtime.InteropServices;

namespace EchoFace.Inference;

/// <summary>
/// Flushes denormal (subnormal) floats to zero on the calling thread: FTZ + DAZ in the x86-64 MXCSR, FZ in the ARM64 FPCR.
/// PFLD and fr_feature produce denormals; on hosts that trap them to microcode a landmark pass took 60 ms instead of 2.7
/// (docs/performance.md). ONNX Runtime's own `session.set_denormal_as_zero` reaches only its pool threads, and with one intra-op
/// thread the caller computes, so every <see cref="ModelSession"/> run checks the caller's thread first.
/// </summary>
/// <remarks>
/// Through the C library's fegetenv/fesetenv (glibc copies MXCSR and FPCR whole from the fenv_t): .NET has no API for either
/// register, and this needs no native helper shipped per architecture.
/// </remarks>
public static class DenormalFlush
{
    // glibc's fenv_t: x86-64 is the 28-byte x87 environment then MXCSR (offset 28); aarch64 is { fpcr, fpsr }
    private const int X64MxcsrOffset = 28, X64Bits = 0x8040; // FTZ (bit 15) | DAZ (bit 6)
    private const int Arm64FpcrOffset = 0, Arm64Bits = 1 << 24;   // FZ
    private const int EnvBytes = 64;                              // larger than either fenv_t

    /// <summary>The ONNX Runtime session option that flushes denormals on its intra-op pool threads.</summary>
    public const string SessionConfigKey = "session.set_denormal_as_zero";

    /// <summary>For sessions made outside <see cref="InferenceSessionFactory"/>: ORT's pool threads and the calling thread.</summary>
    public static void ForSession(Microsoft.ML.OnnxRuntime.SessionOptions options)
    {
        options.AddSessionConfigEntry(SessionConfigKey, "1");
        EnsureOnThisThread();
    }

    private static readonly (int Offset, int Bits)? Register = RuntimeInformation.ProcessArchitecture switch
    {
        _ when !OperatingSystem.IsLinux() => null,
        Architecture.X64 => (X64MxcsrOffset, X64Bits),
        Architecture.Arm64 => (Arm64FpcrOffset, Arm64Bits),
        _ => null,
    };

    /// <summary>What flushes denormals on this platform, or why nothing does (for `echoface models`).</summary>
    public static string Mechanism => Register switch
    {
        null => $"not supported on {RuntimeInformation.OSDescription} {RuntimeInformation.ProcessArchitecture}",
        { Offset: X64MxcsrOffset } => "FTZ+DAZ (MXCSR) on every thread that runs a model",
        _ => "FZ (FPCR) on every thread that runs a model",
    };

    /// <summary>Whether denormals are flushed on the calling thread.</summary>
    public static unsafe bool IsOnThisThread
    {
        get
        {
            if (Register is not { } r) return false;
            var env = stackalloc byte[EnvBytes];
            return fegetenv(env) == 0 && (*(int*)(env + r.Offset) & r.Bits) == r.Bits;
        }
    }

    /// <summary>Turns flushing on for the calling thread unless it is on already (a read of the register: tens of nanoseconds).</summary>
    public static unsafe void EnsureOnThisThread()
    {
        if (Register is not { } r) return;
        var env = stackalloc byte[EnvBytes];
        if (fegetenv(env) != 0) return;
        var word = (int*)(env + r.Offset);
        if ((*word & r.Bits) == r.Bits) return;
        *word |= r.Bits;
        fesetenv(env);
    }

    private static float _denormal = 1e-39f; // a field, so the JIT cannot fold the product below

    /// <summary>
    /// Turns flushing on in a new thread, reads the register back and multiplies a denormal: whether this machine (or its
    /// emulator) really flushes, for `echoface models`.
    /// </summary>
    public static bool TakesEffect()
    {
        var on = false;
        var thread = new Thread(() => { EnsureOnThisThread(); on = IsOnThisThread && Volatile.Read(ref _denormal) * 1.5f == 0; });
        thread.Start();
        thread.Join();
        return on;
    }

    /// <summary>Turns flushing off for the calling thread (tests and the before/after benchmark only).</summary>
    public static unsafe void TurnOffOnThisThread()
    {
        if (Register is not { } r) return;
        var env = stackalloc byte[EnvBytes];
        if (fegetenv(env) != 0) return;
        *(int*)(env + r.Offset) &= ~r.Bits;
        fesetenv(env);
    }

    [DllImport("libm.so.6")] private static extern unsafe int fegetenv(byte* env);
    [DllImport("libm.so.6")] private static extern unsafe int fesetenv(byte* env);
}
