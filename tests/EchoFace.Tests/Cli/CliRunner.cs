using System.Text.Json;
using EchoFace.Cli;
using Spectre.Console;

namespace EchoFace.Tests.Cli;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;
}

/// <summary>Runs `echoface` in-process with a fresh data directory and the repository's models, capturing what it prints.</summary>
public sealed class CliRunner
{
    public string DataDirectory { get; init; } = TestEnvironment.TempDirectory();
    /// <summary>The repository's models unless a test works on a copy (one that writes variants).</summary>
    public string ModelsDirectory { get; init; } = TestEnvironment.ModelsDirectory;

    public CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        string[] full = [.. args, "--data", DataDirectory, "--models", ModelsDirectory];
        var code = EchoFaceCli.RunAsync(full, new Output(console, stdout, stderr)).GetAwaiter().GetResult();
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    public static string Photo(string identity, string file) => TestEnvironment.Data("faces", "photos", identity, file);

    public static string[] Photos(string identity) =>
        [.. Directory.GetFiles(TestEnvironment.Data("faces", "photos", identity)).Order(StringComparer.Ordinal)];
}
