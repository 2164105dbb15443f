using System.Diagnostics;

namespace EchoFace.Testing;

/// <summary>
/// A real PostgreSQL cluster for one test or benchmark: initdb in a temporary folder, the server on 127.0.0.1 and a free port with
/// its socket in that folder, trust authentication for the postgres role. PostgreSQL refuses to run as root, so as root (CI) the
/// cluster belongs to the postgres user (runuser). Stopped and removed on Dispose.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    // Debian installs each major version beside the others; the newest one present is used
    private static readonly string Bin = Directory.Exists("/usr/lib/postgresql")
        ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).FirstOrDefault() ?? ""
        : "";
    private readonly string _dir;
    private readonly bool _root = Environment.UserName == "root";

    /// <param name="durable">false turns fsync off: for tests, where a power cut is not what is tested</param>
    public PostgresCluster(bool durable = false)
    {
        if (!File.Exists($"{Bin}/initdb"))
            throw new InvalidOperationException($"PostgreSQL is not installed ({Bin}/initdb): run ./setup.sh (README)");
        _dir = Directory.CreateTempSubdirectory("echoface-pg-").FullName;
        Durable = durable;
        if (_root) Run("chown", ["postgres:postgres", _dir]);
        Port = FreePort.Next();
        Postgres("initdb", ["-D", DataDirectory, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        Start();
    }

    public int Port { get; }
    public bool Durable { get; }
    public string DataDirectory => Path.Combine(_dir, "data");
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=5;Command Timeout=30";
    public string Log => File.Exists(Path.Combine(_dir, "server.log")) ? File.ReadAllText(Path.Combine(_dir, "server.log")) : "";

    public void Start()
    {
        var settings = $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c max_connections=200{(Durable ? "" : " -c fsync=off")}";
        Postgres("pg_ctl", ["-D", DataDirectory, "-l", Path.Combine(_dir, "server.log"), "-o", settings, "-w", "-t", "30", "start"]);
    }

    /// <summary>Stops the server: "fast" closes sessions cleanly, "immediate" is a crash (recovery at the next start).</summary>
    public void Stop(string mode = "fast") => Postgres("pg_ctl", ["-D", DataDirectory, "-m", mode, "-w", "-t", "30", "stop"]);

    private void Postgres(string tool, string[] args)
    {
        if (_root) Run("runuser", ["-u", "postgres", "--", $"{Bin}/{tool}", .. args]);
        else Run($"{Bin}/{tool}", args);
    }

    private void Run(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) p.Kill();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {error.Result}{output.Result}\n{Log}");
    }

    public void Dispose()
    {
        try { Stop("immediate"); }
        catch (InvalidOperationException) { }
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
