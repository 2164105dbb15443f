using System.Diagnostics;

namespace EchoFace.Media;

/// <summary>A long-running ffmpeg child (camera, microphone): its stdout to read from, and its last error lines for logs and health.</summary>
public sealed class FfmpegProcess : IDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _errors = new();
    private readonly Lock _gate = new();

    public FfmpegProcess(IEnumerable<string> args)
    {
        _process = Ffmpeg.Start(args);
        _process.ErrorDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            lock (_gate)
            {
                _errors.Enqueue(e.Data.Trim());
                if (_errors.Count > 20) _errors.Dequeue();
            }
        };
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public Stream Output => _process.StandardOutput.BaseStream;
    public bool Exited => _process.HasExited;
    /// <summary>Exit code after a clean end (stdout closes a moment before the process is gone), or null if it has not ended.</summary>
    public int? WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout) ? _process.ExitCode : null;

    /// <summary>The last thing ffmpeg said on stderr, or its exit code.</summary>
    public string LastError
    {
        get
        {
            lock (_gate)
                if (_errors.Count > 0) return _errors.Last();
            return _process.HasExited ? $"ffmpeg exited with code {_process.ExitCode}" : "ffmpeg stopped sending data";
        }
    }

    private int _disposed;

    /// <summary>Stops ffmpeg; safe to call twice (a cancellation and the owner's using both do).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(2000);
        }
        catch (InvalidOperationException) { /* already gone */ }
        _process.Dispose();
    }
}
