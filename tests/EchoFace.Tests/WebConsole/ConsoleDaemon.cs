using EchoFace.Tests.Cli;

namespace EchoFace.Tests.WebConsole;

/// <summary>
/// A real daemon for the console's browser tests: nobody enrolled, a file camera looping a door video (Jolie, then Bezos, each
/// followed by an empty second), the simulated door, keys of each role. Shared by the tests of one class; each works on its own people.
/// </summary>
public sealed class ConsoleDaemon : IDisposable
{
    public ConsoleDaemon()
    {
        Cli = new CliRunner();
        (Admin, Enrol, Read) = (Key("admin"), Key("enrol"), Key("read"));
        var dir = TestEnvironment.TempDirectory();
        Jolie = CliRunner.Photos("df_angelina_jolie");
        Bezos = CliRunner.Photos("df_jeff_bezos");
        var video = TestEnvironment.Video(Path.Combine(dir, "door.mp4"), 2, 1, Jolie[2], Bezos[0]);
        var port = FreePort.Next();
        Process = new DaemonProcess(null, Cli.DataDirectory, "console-1", new Dictionary<string, string>
        {
            ["ECHOFACE__Camera__Loop"] = "true", ["ECHOFACE__Access__ReentrySeconds"] = "1", ["ECHOFACE__Access__TrackTimeoutSeconds"] = "0.5",
            ["ECHOFACE__Access__MaxFailures"] = "100000", ["ECHOFACE__Media__MaxBytes"] = $"{MaxBytes}",
        }, camera: $"file:{video}", health: $"http://127.0.0.1:{port}", models: Cli.ModelsDirectory);
        At = new Uri($"http://127.0.0.1:{port}");
        Process.WaitListening();
    }

    /// <summary>Media.MaxBytes: 3 MiB, above the largest photo the tests enrol (2.2 MB)</summary>
    public const int MaxBytes = 3 << 20;

    public CliRunner Cli { get; }
    public DaemonProcess Process { get; }
    public Uri At { get; }
    public string Admin { get; }
    public string Enrol { get; }
    public string Read { get; }
    public string[] Jolie { get; }
    public string[] Bezos { get; }

    public string Key(string role) =>
        Cli.Run("api-key", "create", "--role", role, "--name", $"{role} test", "--json").Json.GetProperty("key").GetString()!;

    /// <summary>The people the daemon's gallery holds (over the API, as any integrator would ask).</summary>
    public IReadOnlyList<string> People()
    {
        using var http = Api.HttpApiTests.Client(At, Read);
        var body = http.GetStringAsync("/v1/people").GetAwaiter().GetResult();
        return [.. System.Text.Json.JsonDocument.Parse(body).RootElement.EnumerateArray().Select(p => p.GetProperty("id").GetString()!)];
    }

    public void Dispose() => Process.Dispose();
}
