using EchoFace.Inference;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Tests.Inference;

[Trait("Category", "Integration")]
public class ProviderFallbackTests
{
    [Fact]
    public void Default_order_falls_back_from_TensorRT_and_CUDA_to_CPU_and_says_why()
    {
        var factory = new InferenceSessionFactory(TestEnvironment.Manifest);
        using var session = factory.Create("fr_detect");
        Assert.Equal("CPU", session.Provider);
        Assert.Contains("TensorRT", factory.ProviderFailures.Keys);
        Assert.Contains("CUDA", factory.ProviderFailures.Keys);
        Assert.All(factory.ProviderFailures.Values, reason => Assert.False(string.IsNullOrWhiteSpace(reason)));
    }

    private sealed class BrokenProvider(string name) : IExecutionProvider
    {
        public string Name => name;
        public void Append(SessionOptions options, InferenceOptions settings) => throw new NotSupportedException($"{name} driver not installed");
    }

    [Fact]
    public void A_provider_that_fails_to_load_is_skipped_once_and_reported()
    {
        var factory = new InferenceSessionFactory(TestEnvironment.Manifest, providers: [new BrokenProvider("Fake"), new CpuProvider()]);
        using var a = factory.Create("fr_landmark");
        using var b = factory.Create("fr_detect");
        Assert.Equal("CPU", a.Provider);
        Assert.Equal("Fake driver not installed", factory.ProviderFailures["Fake"]);
        Assert.Single(factory.ProviderFailures);
    }

    [Fact]
    public void When_no_provider_loads_the_error_lists_every_reason()
    {
        var factory = new InferenceSessionFactory(TestEnvironment.Manifest, providers: [new BrokenProvider("A"), new BrokenProvider("B")]);
        var e = Assert.Throws<ModelException>(() => factory.Create("fr_detect"));
        Assert.Contains("A: A driver not installed", e.Message);
        Assert.Contains("B: B driver not installed", e.Message);
    }

    [Fact]
    public void An_unknown_provider_name_is_a_configuration_error() =>
        Assert.Throws<ArgumentException>(() => new InferenceSessionFactory(TestEnvironment.Manifest, new InferenceOptions { Providers = ["OpenVINO-typo"] }));
}
