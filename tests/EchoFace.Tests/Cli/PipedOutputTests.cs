using System.Diagnostics;

namespace EchoFace.Tests.Cli;

/// <summary>The CLI as a log or a file sees it: stdout not a terminal, no COLUMNS.</summary>
[Trait("Category", "Integration")]
public class PipedOutputTests
{
    [Fact]
    public async Task A_wide_table_piped_to_a_file_keeps_each_row_on_one_line()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args = [Path.Combine(AppContext.BaseDirectory, "echoface.dll"), "eval", "liveness", TestEnvironment.Data("faces", "spoof-samples"),
            "--data", TestEnvironment.TempDirectory(), "--models", TestEnvironment.ModelsDirectory];
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("COLUMNS");
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await child.WaitForExitAsync(limit.Token);
        Assert.True(child.ExitCode == 0, await stderr);
        var lines = (await stdout).Split('\n');
        // at 80 columns the header's cells wrap onto several lines and no line holds both its first and its last column
        Assert.Contains(lines, l => l.Contains("opinion") && l.Contains("ms p50"));
        Assert.Contains(lines, l => l.Contains("fused (Face.LivenessFusion)"));
    }
}
