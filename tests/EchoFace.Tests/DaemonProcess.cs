using System.Diagnostics;
using System.Text;

namespace EchoFace.Tests.Sync;

/// <summary>`echoface run` as a child process linked to a test broker; killed at the end of the test whatever happened.</summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly StringBuilder _log = new();
    private readonly ManualResetEventSlim _connected = new();

    public DaemonProcess(Mosquitto broker, string data, string device, IDictionary<string, string>? environment = null, string camera = "none")
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "echoface.dll"), "run", "--camera", camera, "--door", "simulated",
                     "--health", "http://127.0.0.1:0", "--data", data, "--models", TestEnvironment.ModelsDirectory })
            start.ArgumentList.Add(a);
        foreach (var (k, v) in new[] { ("Enabled", "true"), ("Broker", broker.Url()), ("Site", "lab"), ("DeviceId", device) })
            start.Environment[$"ECHOFACE__Fleet__{k}"] = v;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        Process = Process.Start(start)!;
        Process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); if (e.Data?.Contains("Fleet link connected") == true) _connected.Set(); };
        Process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.BeginErrorReadLine();
        Process.BeginOutputReadLine();
    }

    public Process Process { get; }
    public string Log { get { lock (_log) return _log.ToString(); } }

    public void WaitConnected()
    {
        if (!_connected.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException($"the daemon did not connect to the broker:\n{Log}");
    }

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
