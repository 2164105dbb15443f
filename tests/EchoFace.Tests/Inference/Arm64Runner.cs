using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace EchoFace.Tests.Inference;

/// <summary>
/// Runs an arm64 echoface as a board would: natively on an ARM64 host, under qemu-user on an x86-64 one, in a private mount
/// namespace with an ARM (Cortex-A78AE, Jetson Orin) /proc/cpuinfo bound over the host's: ONNX Runtime reads it to pick its
/// kernels and crashes on an x86 one under emulation.
/// </summary>
public static class Arm64Runner
{
    public static JsonDocument Json(string binary, string models, params string[] args)
    {
        var (code, stdout, stderr) = Run(binary, models, args);
        Assert.True(code == 0, $"arm64 echoface {string.Join(' ', args)} exited {code}: {stderr}");
        return JsonDocument.Parse(stdout);
    }

    public static (int Code, string Stdout, string Stderr) Run(string binary, string models, params string[] args) =>
        RunIn(TestEnvironment.TempDirectory(), binary, models, args);

    /// <summary>With <paramref name="data"/> as its data directory (commands that build on each other: enroll, then identify).</summary>
    public static (int Code, string Stdout, string Stderr) RunIn(string data, string binary, string models, params string[] args)
    {
        if (!File.Exists(binary)) throw new InvalidOperationException($"{binary} is missing: run {TestEnvironment.SetupCommand}");
        string[] command = [binary, "--data", data, "--models", models, .. args];
        ProcessStartInfo start;
        if (RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64)
            start = new ProcessStartInfo(binary, command[1..]);
        else
        {
            const string qemu = "/usr/bin/qemu-aarch64-static";
            if (!File.Exists(qemu)) throw new InvalidOperationException($"{qemu} is missing (Debian qemu-user-static): run {TestEnvironment.SetupCommand}");
            var cpuinfo = Path.Combine(TestEnvironment.TempDirectory(), "cpuinfo");
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
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"arm64 echoface {string.Join(' ', args)} ran over 5 minutes");
        }
        return (process.ExitCode, stdout, stderr.Result);
    }
}
