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

    /// <summary>
    /// The program and its first arguments that run <paramref name="binary"/> as an ARM64 board would: itself on an ARM64 host;
    /// on an x86-64 one, unshare + a bind mount of an ARM cpuinfo + qemu-aarch64, which exec the binary with the arguments that follow.
    /// </summary>
    public static (string Program, string[] Arguments) Command(string binary)
    {
        if (!File.Exists(binary)) throw new InvalidOperationException($"{binary} is missing: run {TestEnvironment.SetupCommand}");
        if (RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64) return (binary, []);
        const string qemu = "/usr/bin/qemu-aarch64-static";
        if (!File.Exists(qemu))
            throw new InvalidOperationException($"{qemu} is missing (Debian qemu-user-static): run {TestEnvironment.SetupCommand}");
        var cpuinfo = Path.Combine(TestEnvironment.TempDirectory(), "cpuinfo");
        File.WriteAllText(cpuinfo, string.Concat(Enumerable.Range(0, 2).Select(i =>
            $"processor\t: {i}\nBogoMIPS\t: 62.50\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid " +
            "asimdrdm lrcpc dcpop asimddp uscat ilrcpc flagm\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\n" +
            "CPU part\t: 0xd42\nCPU revision\t: 1\n\n")));
        // sh -c SCRIPT sh ARGS...: "$@" is the binary and its arguments, passed through without quoting
        return ("unshare", ["-m", "sh", "-c", $"mount --bind '{cpuinfo}' /proc/cpuinfo && exec {qemu} \"$@\"", "sh", binary]);
    }

    public static (int Code, string Stdout, string Stderr) Run(string binary, string models, params string[] args) =>
        RunIn(TestEnvironment.TempDirectory(), binary, models, args);

    /// <summary>With <paramref name="data"/> as its data directory (commands that build on each other: enroll, then identify).</summary>
    public static (int Code, string Stdout, string Stderr) RunIn(string data, string binary, string models, params string[] args)
    {
        var (program, rest) = Command(binary);
        var start = new ProcessStartInfo(program);
        foreach (var a in rest.Concat(["--data", data, "--models", models, .. args])) start.ArgumentList.Add(a);
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
