using System.Diagnostics;
using System.Net;
using System.Text.Json;
using EchoFace.Storage;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Robustness;

/// <summary>
/// A board's storage filling up under a running daemon: its data directory on a 6 MiB tmpfs in a mount namespace of its own
/// (torn down with the process), filled while it decides. The door keeps deciding, snapshots stop, the fault is an event and
/// health says 503, enrolment is refused whole, the database stays intact, and it all resumes by itself when space returns.
/// </summary>
[Trait("Category", "Slow")]
public sealed class StorageFullTests : IDisposable
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private readonly List<IDisposable> _cleanup = [];

    public void Dispose()
    {
        foreach (var c in _cleanup) c.Dispose();
    }

    [Theory]
    [InlineData(13, StorageState.Full)]
    [InlineData(10, StorageState.Failing)]
    [InlineData(8, StorageState.Failing)]
    [InlineData(19, null)]
    public void SQLite_errors_are_told_apart(int code, StorageState? expected) =>
        Assert.Equal(expected, StorageGuard.Classify(new Microsoft.Data.Sqlite.SqliteException("x", code)));

    /// <summary>Switches libfiu's failure points for file writes and syncs in the daemon (fiu-ctrl, through fiu-run's control pipes).</summary>
    /// <param name="errno">5 (EIO: a failing card) or 30 (EROFS: what every write meets once the kernel has remounted it read-only)</param>
    private static void Fiu(Process daemon, string control, string verb, int errno)
    {
        var start = new ProcessStartInfo("fiu-ctrl") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add(control);
        foreach (var point in new[] { "posix/io/rw/pwrite", "posix/io/rw/pwrite64", "posix/io/sync/fsync", "posix/io/sync/fdatasync" })
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(verb == "enable" ? $"enable name={point},failinfo={errno}" : $"disable name={point}");
        }
        start.ArgumentList.Add($"{daemon.Id}");
        using var p = Process.Start(start)!;
        var error = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0 && error.Length == 0, $"fiu-ctrl {verb}: {error}");
    }

    [Fact]
    public void Disk_errors_are_told_apart()
    {
        Assert.Equal(StorageState.Full, StorageGuard.Classify(new IOException("No space left on device : '/data/x'", 28)));
        Assert.Equal(StorageState.Failing, StorageGuard.Classify(new IOException("Input/output error", 5)));
        Assert.Null(StorageGuard.Classify(new IOException("The process cannot access the file")));
    }

    /// <summary>A command run in the daemon's mount namespace (it sees the daemon's tmpfs); its output.</summary>
    private static (int Code, string Out) Inside(Process daemon, params string[] command)
    {
        var start = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-t", $"{daemon.Id}", "-m", "--" }.Concat(command)) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    /// <param name="fault">
    /// full: filled, with a 1 MiB reserve (the outbox stores on in the room it gives); full-no-reserve: events wait in memory;
    /// eio: every file write and sync fails with EIO (libfiu's POSIX preload, switched on and off under the running daemon by fiu-ctrl);
    /// erofs: the same with EROFS, as after the kernel remounted the card read-only
    /// </param>
    [Theory]
    [InlineData("full")]
    [InlineData("full-no-reserve")]
    [InlineData("eio")]
    [InlineData("erofs")]
    public void The_door_keeps_deciding_while_the_storage_fails_and_everything_resumes_when_it_is_back(string fault)
    {
        var reserve = fault == "full" ? 1 : 0;
        var state = fault is "eio" or "erofs" ? "failing" : "full";
        var errno = fault == "erofs" ? 30 : 5; // a remount under open files is refused (busy): the writes' EROFS is injected instead
        Assert.True(File.Exists("/usr/bin/fiu-run"), "libfiu's fiu-run is missing: run ./setup.sh (it installs fiu-utils)");
        var control = Path.Combine(_dir, "fiu");
        var staging = new CliRunner();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, staging.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        var video = TestEnvironment.Video(Path.Combine(_dir, "door.mp4"), 2, 1, jolie[2], CliRunner.Photos("df_jeff_bezos")[0]);
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        var port = FreePort.Next();
        var daemon = new DaemonProcess(null, data, "door-full", new Dictionary<string, string>
        {
            ["ECHOFACE__Storage__MinFreeMegabytes"] = "1", ["ECHOFACE__Storage__ReserveMegabytes"] = $"{reserve}", ["ECHOFACE__Camera__Loop"] = "true",
            ["ECHOFACE__Access__Policy"] = "face", ["ECHOFACE__Access__ReentrySeconds"] = "1", ["ECHOFACE__Access__TrackTimeoutSeconds"] = "0.5",
            ["ECHOFACE__Access__MaxFailures"] = "100000",
        }, camera: $"file:{video}", health: $"http://127.0.0.1:{port}",
            wrapper: ["unshare", "-m", "--propagation", "private", "sh", "-c",
                $"mount -t tmpfs -o size=6m tmpfs '{data}' && cp -a '{staging.DataDirectory}/.' '{data}/' && " +
                $"exec fiu-run -x -f '{control}' \"$0\" \"$@\""]);
        _cleanup.Add(daemon);
        // a health answer slower than 10 s on a loaded host is asked again (within the wait's own limit), not waited on for 100 s
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        JsonElement Health(out HttpStatusCode code)
        {
            var r = http.GetAsync("/healthz").GetAwaiter().GetResult();
            code = r.StatusCode;
            return JsonDocument.Parse(r.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement;
        }
        long Granted() => Health(out _).GetProperty("granted").GetInt64();
        string Sql(string query) => Inside(daemon.Process, "sqlite3", Path.Combine(data, "echoface.db"), query).Out.Trim();
        int Snapshots() => Inside(daemon.Process, "ls", Path.Combine(data, "snapshots")).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        daemon.Until(() =>
        {
            try { return Granted() >= 1; }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
        }, "a first grant");
        daemon.Until(() => Snapshots() > 0, "a first snapshot");

        if (fault is "eio" or "erofs") Fiu(daemon.Process, control, "enable", errno);
        else Inside(daemon.Process, "dd", "if=/dev/zero", $"of={Path.Combine(data, "filler")}", "bs=64k");
        daemon.Until(() => Health(out var c).GetProperty("storage").GetString() == state && c == HttpStatusCode.ServiceUnavailable,
            $"health 503, storage {state}");
        var (granted, snapshots) = (Granted(), Snapshots());
        daemon.Until(() => Granted() >= granted + 2, "grants go on while the storage is full");
        if (reserve == 0) daemon.Until(() => Health(out _).GetProperty("outboxHeld").GetInt32() > 0, "events held in memory");
        Assert.Equal(snapshots, Snapshots());

        var refused = Inside(daemon.Process, "dotnet", Path.Combine(AppContext.BaseDirectory, "echoface.dll"), "enroll", "bezos",
            CliRunner.Photos("df_jeff_bezos")[1], "--data", data, "--models", TestEnvironment.ModelsDirectory);
        Assert.True(refused.Code == 2, refused.Out);
        Assert.Contains("refused, nothing changed", refused.Out);
        Assert.Equal("1", Sql("SELECT COUNT(*) FROM identities"));
        Assert.Equal("ok", Sql("PRAGMA integrity_check"));

        if (fault is "eio" or "erofs") Fiu(daemon.Process, control, "disable", errno);
        else Inside(daemon.Process, "rm", Path.Combine(data, "filler"));
        daemon.Until(() => Health(out var c).GetProperty("storage").GetString() == "ok" && c == HttpStatusCode.OK, "storage ok again");
        daemon.Until(() => Snapshots() > snapshots, "snapshots again");
        Assert.Equal($"storage_{state}\nstorage_recovered", Sql("SELECT json_extract(payload, '$.type') FROM outbox WHERE kind = 'fault' ORDER BY seq"));
        // every decision counted in health while full is a stored event: nothing was reported that was not kept
        var stored = long.Parse(Sql("SELECT COUNT(*) FROM outbox WHERE kind = 'access' AND json_extract(payload, '$.outcome') = 'granted'"));
        Assert.True(stored >= granted + 2, $"{stored} granted events stored");
        Assert.Equal(0, Health(out _).GetProperty("outboxHeld").GetInt32());
        var ids = Sql("SELECT id FROM outbox ORDER BY seq").Split('\n');
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.Equal("ok", Sql("PRAGMA integrity_check"));
        Assert.True(daemon.Stop(), daemon.Log);
    }
}
