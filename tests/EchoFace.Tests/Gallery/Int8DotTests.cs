using System.Runtime.Intrinsics.X86;
using EchoFace.Gallery;

namespace EchoFace.Tests.Gallery;

/// <summary>The int8 scan's kernels against the scalar reference (the ARM one runs under qemu in Arm64BuildTests).</summary>
[Trait("Category", "Unit")]
public class Int8DotTests
{
    [Fact]
    public void Every_kernel_this_CPU_runs_equals_the_scalar_dot_product_and_the_best_one_is_in_use()
    {
        var checks = Int8Dot.Check(pairs: 500);
        Assert.All(checks, c => Assert.True(c.Equal, $"{c.Kernel} differs from the scalar reference"));
        Assert.Contains(checks, c => c.Kernel == Int8Dot.PortableKernel);
        Assert.Equal(Avx2.IsSupported ? Int8Dot.Avx2Kernel : Int8Dot.PortableKernel, Int8Dot.Kernel);
        Assert.Single(checks, c => c.InUse);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(128)]
    [InlineData(544)]
    public void The_dispatched_kernel_is_exact_at_every_padded_length(int n)
    {
        var random = new Random(n);
        var (a, b) = (new sbyte[n], new sbyte[n]);
        for (var round = 0; round < 50; round++)
        {
            for (var i = 0; i < n; i++) (a[i], b[i]) = ((sbyte)random.Next(-127, 128), (sbyte)random.Next(-127, 128));
            Assert.Equal(Int8Dot.DotScalar(a, b), Int8Dot.Dot(ref a[0], ref b[0], n));
            Assert.Equal(Int8Dot.DotScalar(a, b), Int8Dot.DotPortable(ref a[0], ref b[0], n));
        }
    }
}
