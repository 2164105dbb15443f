using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EchoFace.Gallery;

/// <summary>One int8 dot-product kernel checked against the scalar reference: equal on every pair, and its time per dot.</summary>
public sealed record KernelCheck(string Kernel, bool InUse, int Pairs, bool Equal, double NsPerDot);

/// <summary>
/// The int8 dot product of the 1:N scans (in-memory gallery and sealed collection codes), in the kernel this CPU has: AVX2 on
/// x86-64, the ARM dot-product instruction (SDOT, every Jetson Orin and Cortex-A75 or later) on ARM64, else a portable
/// Vector128 kernel (SSE2 or AdvSimd). Lengths are multiples of 32 (the codes are padded).
/// </summary>
public static class Int8Dot
{
    public const string Avx2Kernel = "avx2", ArmDotProductKernel = "arm-dotprod", PortableKernel = "vector128";

    /// <summary>The kernel <see cref="Dot"/> runs on this CPU.</summary>
    public static string Kernel { get; } = Avx2.IsSupported ? Avx2Kernel : Dp.IsSupported ? ArmDotProductKernel : PortableKernel;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot(ref sbyte a, ref sbyte b, int n)
    {
        if (Avx2.IsSupported) return DotAvx2(ref a, ref b, n);
        if (Dp.IsSupported) return DotArm(ref a, ref b, n);
        return DotPortable(ref a, ref b, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DotAvx2(ref sbyte a, ref sbyte b, int n)
    {
        var acc = Vector256<int>.Zero;
        for (var i = 0; i < n; i += 32)
        {
            var (alo, ahi) = Vector256.Widen(Vector256.LoadUnsafe(ref a, (nuint)i));
            var (blo, bhi) = Vector256.Widen(Vector256.LoadUnsafe(ref b, (nuint)i));
            acc = Avx2.Add(acc, Avx2.Add(Avx2.MultiplyAddAdjacent(alo, blo), Avx2.MultiplyAddAdjacent(ahi, bhi)));
        }
        return Vector256.Sum(acc);
    }

    /// <summary>SDOT: four int8 products summed into each int32 lane, 16 bytes per instruction; two accumulators hide its latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DotArm(ref sbyte a, ref sbyte b, int n)
    {
        Vector128<int> acc0 = Vector128<int>.Zero, acc1 = Vector128<int>.Zero;
        for (var i = 0; i < n; i += 32)
        {
            acc0 = Dp.DotProduct(acc0, Vector128.LoadUnsafe(ref a, (nuint)i), Vector128.LoadUnsafe(ref b, (nuint)i));
            acc1 = Dp.DotProduct(acc1, Vector128.LoadUnsafe(ref a, (nuint)(i + 16)), Vector128.LoadUnsafe(ref b, (nuint)(i + 16)));
        }
        return Vector128.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DotPortable(ref sbyte a, ref sbyte b, int n)
    {
        var sum = Vector128<int>.Zero;
        for (var i = 0; i < n; i += 16)
        {
            var (alo, ahi) = Vector128.Widen(Vector128.LoadUnsafe(ref a, (nuint)i));
            var (blo, bhi) = Vector128.Widen(Vector128.LoadUnsafe(ref b, (nuint)i));
            sum += WidenDot(alo, blo) + WidenDot(ahi, bhi);
        }
        return Vector128.Sum(sum);
    }

    private static Vector128<int> WidenDot(Vector128<short> x, Vector128<short> y)
    {
        var (x0, x1) = Vector128.Widen(x);
        var (y0, y1) = Vector128.Widen(y);
        return x0 * y0 + x1 * y1;
    }

    public static int DotScalar(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b)
    {
        var sum = 0;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    private delegate int Kernel32(ref sbyte a, ref sbyte b, int n);

    // the kernels inline into the scans; measured on their own, each is inlined into an optimized wrapper (a delegate to the
    // kernel itself would time tier-0 code)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TimedAvx2(ref sbyte a, ref sbyte b, int n) => DotAvx2(ref a, ref b, n);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TimedArm(ref sbyte a, ref sbyte b, int n) => DotArm(ref a, ref b, n);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TimedPortable(ref sbyte a, ref sbyte b, int n) => DotPortable(ref a, ref b, n);

    /// <summary>Every kernel this CPU can run, against the scalar reference on random codes and the extremes (-127, 127).</summary>
    public static IReadOnlyList<KernelCheck> Check(int pairs = 2_000, int dimension = 512, int seed = 1)
    {
        var kernels = new List<(string Name, Kernel32 Run)> { (PortableKernel, TimedPortable) };
        if (Avx2.IsSupported) kernels.Add((Avx2Kernel, TimedAvx2));
        if (Dp.IsSupported) kernels.Add((ArmDotProductKernel, TimedArm));
        var random = new Random(seed);
        var codes = new sbyte[pairs * 2][];
        for (var i = 0; i < codes.Length; i++)
        {
            codes[i] = new sbyte[dimension];
            for (var j = 0; j < dimension; j++) codes[i][j] = (sbyte)random.Next(-127, 128);
        }
        // the extremes: the largest sums either way
        Array.Fill(codes[0], (sbyte)127);
        Array.Fill(codes[1], (sbyte)-127);
        Array.Fill(codes[2], (sbyte)127);
        Array.Fill(codes[3], (sbyte)127);
        var expected = Enumerable.Range(0, pairs).Select(p => DotScalar(codes[2 * p], codes[2 * p + 1])).ToArray();
        return [.. kernels.Select(k =>
        {
            var equal = true;
            for (var p = 0; p < pairs; p++) equal &= k.Run(ref codes[2 * p][0], ref codes[2 * p + 1][0], dimension) == expected[p];
            var watch = Stopwatch.StartNew();
            var rounds = 0;
            var sink = 0;
            do
            {
                for (var p = 0; p < pairs; p++) sink += k.Run(ref codes[2 * p][0], ref codes[2 * p + 1][0], dimension);
                rounds++;
            } while (watch.ElapsedMilliseconds < 200);
            GC.KeepAlive(sink);
            return new KernelCheck(k.Name, k.Name == Kernel, pairs, equal, Math.Round(watch.Elapsed.TotalNanoseconds / (rounds * (double)pairs), 1));
        })];
    }
}
