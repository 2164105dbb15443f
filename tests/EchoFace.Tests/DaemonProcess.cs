using System.Diagnostics;
using System.Text;

using EchoFace.Tests.Sync;

namespace EchoFace.Tests;

/// <summary>`echoface run` as a child process (linked to a test broker when given one); killed at the end of the test whatever happened.</summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly StringBuilder _log = new();
    private readonly string _health;

    /// <param name="camera">given on the command line, where it outranks the fleet's configuration; null leaves it to the configuration.</param>
    /// <param name="program">what runs echoface with the arguments that follow (default: dotnet and this build's echoface.dll; the
    /// arm64 build under qemu-user: <see cref="Inference.Arm64Runner.Command"/>).</param>
    public DaemonProcess(Mosquitto? broker, string data, string device, IDictionary<string, string>? environment = null, string? camera = "none",
        string health = "http://127.0.0.1:0", string? models = null, string[]? wrapper = null, (string Program, string[] Arguments)? program = null)
    {
        _health = health;
        var (exe, first) = program ?? ("dotnet", [Path.Combine(AppContext.BaseDirectory, "echoface.dll")]);
        // a wrapper runs the daemon inside it (e.g. unshare + mount for a filesystem of its own); it must exec the rest
        var start = new ProcessStartInfo(wrapper?[0] ?? exe) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var w in wrapper?.Skip(1).Append(exe) ?? []) start.ArgumentList.Add(w);
        foreach (var a in first.Concat(["run", "--door", "simulated", "--health", health, "--data", data, "--models",
                     models ?? TestEnvironment.ModelsDirectory]))
            start.ArgumentList.Add(a);
        if (camera is not null)
        {
            start.ArgumentList.Add("--camera");
            start.ArgumentList.Add(camera);
        }
        if (broker is not null)
            foreach (var (k, v) in new[] { ("Enabled", "true"), ("Broker", broker.Url()), ("Site", "lab"), ("DeviceId", device) })
                start.Environment[$"ECHOFACE__Fleet__{k}"] = v;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        Process = Process.Start(start)!;
        Process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.BeginErrorReadLine();
        Process.BeginOutputReadLine();
    }

    public Process Process { get; }
    public string Log { get { lock (_log) return _log.ToString(); } }

    public void WaitConnected() => WaitFor("Fleet link connected", "the daemon did not connect to the broker");

    /// <summary>
    /// Waits for "Ready in", then for the plain-HTTP listener given as health to answer: READY comes from the host's start, and Kestrel
    /// may bind a moment later (a request before that is refused).
    /// </summary>
    public void WaitListening()
    {
        WaitFor("Ready in", "the daemon did not start");
        using var probe = new HttpClient { BaseAddress = new Uri(_health) };
        Until(() =>
        {
            try { using var _ = probe.Send(new HttpRequestMessage(HttpMethod.Get, "/healthz")); return true; }
            catch (HttpRequestException) { return false; }
        }, $"the listener on {_health} answering");
    }

    /// <summary>Waits up to a minute for <paramref name="text"/> in the daemon's log.</summary>
    public void WaitFor(string text, string failure) => Until(() => Log.Contains(text, StringComparison.Ordinal), failure);

    /// <summary>Waits for a condition on the daemon, giving up if it exits; the log goes into the failure.</summary>
    public void Until(Func<bool> done, string what, TimeSpan? limit = null) =>
        Eventually.True(done, what, limit, abandon: () => Process.HasExited, context: () => Log);

    /// <summary>SIGTERM and wait: true when it stopped in time with exit code 0.</summary>
    public bool Stop()
    {
        if (Process.HasExited) return Process.ExitCode == 0;
        System.Diagnostics.Process.Start("kill", ["-TERM", $"{Process.Id}"])!.WaitForExit();
        return Process.WaitForExit(20_000) && Process.ExitCode == 0;
    }

    public void Dispose()
    {
        try { if (!Process.HasExited) Process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        Process.Dispose();
    }
}
