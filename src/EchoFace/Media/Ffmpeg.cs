using System.Diagnostics;

namespace EchoFace.Media;

/// <summary>The outcome of one ffmpeg run: its exit code, everything it wrote to stdout and its error text.</summary>
public sealed partial record FfmpegRun(int ExitCode, byte[] Output, string Errors, bool OutputTruncated)
{
    /// <summary>ffmpeg's first error line without its "[demuxer @ 0x...]" prefix.</summary>
    public string FirstError => Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(l => ContextPrefix().Replace(l, "")).FirstOrDefault() ?? $"exit code {ExitCode}";

    [System.Text.RegularExpressions.GeneratedRegex(@"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*")]
    private static partial System.Text.RegularExpressions.Regex ContextPrefix();
}

/// <summary>
/// Runs the system ffmpeg as a child process (Debian `ffmpeg`, installed by set-up). Own code, not FFMpegCore: we need the exit
/// status and stderr to tell corrupt input from a missing tool, and a cap on what a hostile file can make it write.
/// </summary>
public static class Ffmpeg
{
    public const string SetupHint = "install it with the set-up command in README.md (./setup.sh), or `apt-get install ffmpeg`";

    /// <summary>Path of the ffmpeg executable: ECHOFACE_FFMPEG, else `ffmpeg` on PATH.</summary>
    public static string Executable => Environment.GetEnvironmentVariable("ECHOFACE_FFMPEG") is { Length: > 0 } p ? p : "ffmpeg";

    /// <param name="maxOutputBytes">stdout beyond this is not read: ffmpeg is stopped and <see cref="FfmpegRun.OutputTruncated"/> set.</param>
    public static FfmpegRun Run(IEnumerable<string> args, long maxOutputBytes, TimeSpan timeout)
    {
        using (var process = Start(args))
        {
            var errors = process.StandardError.ReadToEndAsync();
            var reading = Task.Run(() => ReadCapped(process, maxOutputBytes));
            if (!reading.Wait(timeout) || !process.WaitForExit(timeout))
            {
                Stop(process);
                throw new ToolException($"ffmpeg did not finish within {timeout.TotalSeconds:F0} s");
            }
            var (output, truncated) = reading.Result;
            return new FfmpegRun(process.ExitCode, output, errors.Result.Trim(), truncated);
        }
    }

    /// <summary>Starts ffmpeg quietly with stdout and stderr redirected; a missing executable is a <see cref="ToolException"/> naming the set-up.</summary>
    public static Process Start(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // -nostdin: otherwise ffmpeg reads the terminal for its key commands
        foreach (var a in new[] { "-nostdin", "-hide_banner", "-loglevel", "error" }.Concat(args)) start.ArgumentList.Add(a);
        try { return Process.Start(start) ?? throw new ToolException($"ffmpeg could not be started: {SetupHint}"); }
        catch (System.ComponentModel.Win32Exception e) { throw new ToolException($"ffmpeg not found ({Executable}): {SetupHint}", e); }
    }

    private static (byte[], bool) ReadCapped(Process process, long max)
    {
        var stream = process.StandardOutput.BaseStream;
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + n > max)
            {
                Stop(process);
                return (buffer.ToArray(), true);
            }
            buffer.Write(chunk, 0, n);
        }
        return (buffer.ToArray(), false);
    }

    private static void Stop(Process process)
    {
        try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already gone */ }
    }
}
