using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EchoFace.Testing;

/// <summary>
/// A real mosquitto broker for one test or soak run, on 127.0.0.1 and a free port, with its own generated configuration and
/// persistence file (so sessions and queued messages survive a restart, as on a real broker). Stopped with SIGTERM so it saves
/// its state.
/// </summary>
public sealed class Mosquitto : IDisposable
{
    private readonly string _dir;
    private readonly string _config;
    private Process? _process;

    /// <param name="directory">where its configuration, log and persistence go (default: a new temporary folder)</param>
    /// <param name="persistence">false for a benchmark that measures the device's side only</param>
    /// <param name="port">a port chosen before (a client told of the broker before it runs); default a free one</param>
    public Mosquitto(string? extraConfig = null, bool anonymous = true, string? directory = null, bool persistence = true, int? port = null)
    {
        if (!File.Exists("/usr/sbin/mosquitto")) throw new InvalidOperationException("mosquitto is not installed: run ./setup.sh (README)");
        _dir = directory is null
            ? System.IO.Directory.CreateTempSubdirectory("echoface-mosquitto-").FullName
            : System.IO.Directory.CreateDirectory(directory).FullName;
        Port = port ?? FreePort.Next();
        _config = Path.Combine(_dir, "mosquitto.conf");
        File.WriteAllText(_config, $"""
            listener {Port} 127.0.0.1
            allow_anonymous {(anonymous ? "true" : "false")}
            log_dest file {_dir}/mosquitto.log
            persistence {(persistence ? "true" : "false")}
            persistence_location {_dir}/
            autosave_interval 1
            max_queued_messages 0
            max_inflight_messages 0
            user {Environment.UserName}
            {extraConfig}
            """);
        Start();
    }

    public int Port { get; }
    public string Url(bool tls = false) => $"{(tls ? "mqtts" : "mqtt")}://127.0.0.1:{Port}";
    public string Directory => _dir;
    public bool Running => _process is { HasExited: false };

    private bool Accepts()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException) { return false; }
    }

    public void Start()
    {
        _process = Process.Start(new ProcessStartInfo("/usr/sbin/mosquitto", ["-c", _config]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        Eventually.True(Accepts, $"mosquitto listening on port {Port} (config {_config})", TimeSpan.FromSeconds(5), () => _process.HasExited);
    }

    public void Stop()
    {
        if (_process is null || _process.HasExited) return;
        Process.Start("kill", ["-TERM", $"{_process.Id}"])!.WaitForExit();
        if (!_process.WaitForExit(5000)) _process.Kill();
        _process.Dispose();
        _process = null;
    }

    public void Dispose() => Stop();
}
