using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace EchoFace.Tests.Inference;

/// <summary>
/// The linux-arm64 build that set-up publishes (artifacts/linux-arm64), run as a board would run it: natively on an ARM64 host,
/// under qemu-user on an x86-64 one. ONNX Runtime reads /proc/cpuinfo to pick its kernels and crashes on an x86 one under
/// emulation, so the command runs in a private mount namespace with an ARM (Cortex-A78AE, Jetson Orin) cpuinfo bound over it.
/// </summary>
[Trait("Category", "Slow")]
public class Arm64BuildTests
{
    private static readonly string Build = Path.Combine(TestEnvironment.RepoRoot, "artifacts", "linux-arm64", "echoface");

    [Fact]
    public void The_arm64_build_flushes_denormals_in_fpcr_and_finds_the_same_face_as_x64()
    {
        var models = Arm64("--json", "models");
        Assert.StartsWith("flushed to zero: FZ (FPCR)", models.RootElement.GetProperty("denormals").GetString());
        Assert.All(models.RootElement.GetProperty("models").EnumerateArray(), m => Assert.Equal("Ok", m.GetProperty("status").GetString()));

        var photo = TestEnvironment.Data("faces", "photos", "df_angelina_jolie", "img11.jpg");
        var arm = Arm64("--json", "faces", photo).RootElement.GetProperty("faces")[0];
        var x64 = new Cli.CliRunner().Run("--json", "faces", photo).Json.GetProperty("faces")[0];
        Assert.Equal(Numbers(x64.GetProperty("box")), Numbers(arm.GetProperty("box")));
        Assert.Equal(x64.GetProperty("liveness").GetDouble(), arm.GetProperty("liveness").GetDouble(), 4);
        var (a5, x5) = (arm.GetProperty("points5").EnumerateArray().SelectMany(Numbers), x64.GetProperty("points5").EnumerateArray().SelectMany(Numbers));
        Assert.All(a5.Zip(x5), p => Assert.Equal(p.Second, p.First, 2));
        Assert.Equal(x64.GetProperty("quality").GetProperty("yaw").GetDouble(), arm.GetProperty("quality").GetProperty("yaw").GetDouble(), 2);
    }

    private static IEnumerable<double> Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToList();

    private static JsonDocument Arm64(params string[] args)
    {
        if (!File.Exists(Build)) throw new InvalidOperationException($"{Build} is missing: run {TestEnvironment.SetupCommand}");
        var data = TestEnvironment.TempDirectory();
        string[] command = [Build, "--data", data, "--models", TestEnvironment.ModelsDirectory, .. args];
        ProcessStartInfo start;
        if (RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64) start = new ProcessStartInfo(Build, command[1..]);
        else
        {
            const string qemu = "/usr/bin/qemu-aarch64-static";
            if (!File.Exists(qemu)) throw new InvalidOperationException($"{qemu} is missing (Debian qemu-user-static): run {TestEnvironment.SetupCommand}");
            var cpuinfo = Path.Combine(data, "cpuinfo");
            File.WriteAllText(cpuinfo, string.Concat(Enumerable.Range(0, 2).Select(i =>
                $"processor\t: {i}\nBogoMIPS\t: 62.50\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid " +
                "asimdrdm lrcpc dcpop asimddp uscat ilrcpc flagm\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\n" +
                "CPU part\t: 0xd42\nCPU revision\t: 1\n\n")));
            var quoted = string.Join(' ', command.Select(a => $"'{a.Replace("'", "'\\''")}'"));
            start = new ProcessStartInfo("unshare", ["-m", "sh", "-c", $"mount --bind '{cpuinfo}' /proc/cpuinfo && exec {qemu} {quoted}"]);
        }
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(entireProcessTree: true); throw new TimeoutException($"arm64 echoface {string.Join(' ', args)} ran over 5 minutes"); }
        Assert.True(process.ExitCode == 0, $"arm64 echoface {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}");
        return JsonDocument.Parse(stdout);
    }
}
