using System.Diagnostics;
using System.Text.Json;

namespace EchoFace.Tests.Inference;

/// <summary>
/// Inference.NativeLibrary and the providers a library has, through `echoface models` in a process of its own (the choice of
/// library is made once per process, before ONNX Runtime's first call; this test process has long made it).
/// </summary>
[Trait("Category", "Integration")]
public class NativeLibraryTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();

    /// <summary>The packaged library, as the tests' build holds it (the file a user would copy or replace).</summary>
    private static string Packaged => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime.so");

    private (int Code, string Stdout, string Stderr) Models(object inference, params string[] extra)
    {
        var config = Path.Combine(_dir, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new { Inference = inference }));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args = [Path.Combine(AppContext.BaseDirectory, "echoface.dll"), "models", "--config", config, "--data", _dir,
            "--models", TestEnvironment.ModelsDirectory, .. extra];
        foreach (var a in args) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        Assert.True(child.WaitForExit(120_000), "echoface models did not finish in 2 minutes");
        return (child.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void The_packaged_CPU_build_runs_every_model_on_the_CPU_without_a_warning()
    {
        var (code, stdout, stderr) = Models(new { }, "--json");
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("warn", stderr);
        var ort = JsonDocument.Parse(stdout).RootElement.GetProperty("onnxRuntime");
        Assert.EndsWith("libonnxruntime.so", ort.GetProperty("library").GetString());
        Assert.Equal(["CPUExecutionProvider"], ort.GetProperty("providers").EnumerateArray().Select(p => p.GetString()!).ToArray());
        Assert.Matches(@"^\d+\.\d+\.\d+$", ort.GetProperty("version").GetString());
    }

    [Fact]
    public void Warmup_loads_every_model_the_daemon_uses_as_the_daemon_will()
    {
        var cli = new Cli.CliRunner();
        var r = cli.Run("--json", "models", "warmup");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var warmed = r.Json.GetProperty("models").EnumerateArray().ToList();
        var config = new EchoFace.Configuration.EchoFaceConfig();
        Assert.Equal(config.ModelsInUse, warmed.Select(w => w.GetProperty("model").GetString()!).ToArray());
        Assert.All(warmed, w => Assert.Equal("CPU", w.GetProperty("provider").GetString()));
        // the embedder loads as the daemon loads it: its accepted CPU variant where set-up made one
        var embedder = warmed.Single(w => w.GetProperty("model").GetString() == config.Face.Embedder);
        Assert.Equal(new EchoFace.Inference.InferenceSessionFactory(TestEnvironment.Manifest).Resolve(config.Face.Embedder).Id,
            embedder.GetProperty("loaded").GetString());
    }

    [Fact]
    public void A_library_the_user_brings_is_the_one_loaded_and_reported()
    {
        var own = Path.Combine(_dir, "libonnxruntime-own.so");
        File.Copy(Packaged, own);
        var (code, stdout, stderr) = Models(new { NativeLibrary = own }, "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(own, json.GetProperty("onnxRuntime").GetProperty("library").GetString());
        Assert.All(json.GetProperty("models").EnumerateArray().Where(m => m.GetProperty("status").GetString() == "Ok"),
            m => Assert.Equal("CPU", m.GetProperty("provider").GetString()));
    }

    /// <summary>The x64 GPU build of ONNX Runtime (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux, restored with the tests): CUDA and TensorRT.</summary>
    private static string GpuLibrary => Path.Combine(typeof(NativeLibraryTests).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false).Cast<System.Reflection.AssemblyMetadataAttribute>()
        .Single(a => a.Key == "OnnxRuntimeGpuLinux").Value!, "runtimes", "linux-x64", "native", "libonnxruntime.so");

    [Fact]
    public void The_GPU_build_on_a_machine_without_a_GPU_falls_back_to_the_CPU_saying_why_once_per_provider()
    {
        Assert.True(File.Exists(GpuLibrary), $"{GpuLibrary} missing: the tests' restore brings it (run {TestEnvironment.SetupCommand})");
        var (code, stdout, stderr) = Models(new { NativeLibrary = GpuLibrary }, "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        var providers = json.GetProperty("onnxRuntime").GetProperty("providers").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.Contains("TensorrtExecutionProvider", providers);
        Assert.Contains("CUDAExecutionProvider", providers);
        Assert.All(json.GetProperty("models").EnumerateArray().Where(m => m.GetProperty("status").GetString() == "Ok"),
            m => Assert.Equal("CPU", m.GetProperty("provider").GetString()));
        // the library has them, so they were tried: each failure is kept with its reason and logged once, not once per model
        var failures = json.GetProperty("providerFailures");
        Assert.False(string.IsNullOrWhiteSpace(failures.GetProperty("TensorRT").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(failures.GetProperty("CUDA").GetString()));
        Assert.DoesNotContain("not in this ONNX Runtime build", failures.ToString());
        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(stderr, "Execution provider TensorRT is not available"));
        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(stderr, "Execution provider CUDA is not available"));
    }

    [Fact]
    public void A_library_that_is_missing_or_is_not_ONNX_Runtime_is_refused_by_name()
    {
        var missing = Models(new { NativeLibrary = Path.Combine(_dir, "nope.so") });
        Assert.Equal(2, missing.Code);
        Assert.Contains("Inference.NativeLibrary", missing.Stderr);
        Assert.Contains("not found", missing.Stderr);

        var zlib = Directory.GetFiles("/usr/lib/x86_64-linux-gnu", "libz.so.1*").First();
        var notOrt = Models(new { NativeLibrary = zlib });
        Assert.Equal(2, notOrt.Code);
        Assert.Contains("Inference.NativeLibrary", notOrt.Stderr);
        Assert.Contains("is not an ONNX Runtime library", notOrt.Stderr);

        var text = Path.Combine(_dir, "libonnxruntime.so");
        File.WriteAllText(text, "not a library");
        var notElf = Models(new { NativeLibrary = text });
        Assert.Equal(2, notElf.Code);
        Assert.Contains("is not a shared library this machine can load", notElf.Stderr);
    }

    [Fact]
    public void Providers_the_library_lacks_are_named_with_the_two_settings_that_fix_it()
    {
        var (code, _, stderr) = Models(new { Providers = new[] { "CUDA" } });
        Assert.NotEqual(0, code);
        Assert.Contains("Inference.Providers lists CUDA", stderr);
        Assert.Contains("Inference.NativeLibrary", stderr);
        Assert.Contains("(providers: CPU)", stderr);
    }
}
