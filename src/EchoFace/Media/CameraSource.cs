using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace EchoFace.Media;

public sealed class CameraOptions
{
    /// <summary>v4l2:/dev/video0, rtsp://host/stream, file:PATH (video or image), or none.</summary>
    public string Source { get; set; } = "none";
    public int Width { get; set; } = 640;
    public int Height { get; set; } = 480;
    public double Fps { get; set; } = 15;
    /// <summary>Files play at their own speed (as a camera would deliver them); false reads them as fast as they decode.</summary>
    public bool Realtime { get; set; } = true;
    /// <summary>A video file plays again from its start when it ends (a kiosk's loop, a soak test), instead of ending the stream.</summary>
    public bool Loop { get; set; }
    /// <summary>Frames waiting for the pipeline; when full the oldest is dropped, so the daemon never lags behind real time.</summary>
    public int QueueFrames { get; set; } = 2;
    public double RestartMinSeconds { get; set; } = 1;
    public double RestartMaxSeconds { get; set; } = 30;

    public void Validate()
    {
        CameraSource.Describe(Source);
        if (Width is < 64 or > 4096 || Height is < 64 or > 4096) throw new ArgumentException($"Camera.Width and Height must be 64..4096 (got {Width}x{Height})");
        if (Fps is <= 0 or > 120) throw new ArgumentException($"Camera.Fps must be in (0, 120], not {Fps}");
        if (QueueFrames is < 1 or > 64) throw new ArgumentException($"Camera.QueueFrames must be 1..64, not {QueueFrames}");
        if (RestartMinSeconds <= 0 || RestartMaxSeconds < RestartMinSeconds) throw new ArgumentException("Camera.RestartMinSeconds must be > 0 and RestartMaxSeconds >= it");
    }
}

/// <summary>A frame from the camera, in a pooled buffer: give it back with <see cref="CameraSource.Return"/> when done.</summary>
public sealed record CameraFrame(long Sequence, DateTimeOffset CapturedAt, RgbImage Image);

/// <summary>
/// Raw RGB frames from an ffmpeg child reading a V4L2 device, an RTSP stream or a file. Frames land in a small pool of preallocated
/// buffers and travel through a bounded channel that drops the oldest; when ffmpeg dies or the device goes away the source restarts
/// with doubling back-off and reports each fault.
/// </summary>
public sealed class CameraSource
{
    private readonly CameraOptions _o;
    private readonly ILogger _log;
    private readonly TimeProvider _clock;
    private readonly ConcurrentBag<RgbImage> _free = [];
    private readonly Channel<CameraFrame> _frames;
    private long _sequence, _dropped, _restarts;
    private volatile FfmpegProcess? _current;
    private volatile string _source;
    private volatile bool _switched;
    private volatile bool _capturing;

    public CameraSource(CameraOptions options, ILogger logger, TimeProvider? clock = null)
    {
        _o = options;
        _source = options.Source;
        _log = logger;
        _clock = clock ?? TimeProvider.System;
        // one frame in the pipeline, one being read, the rest queued
        for (var i = 0; i < options.QueueFrames + 2; i++) _free.Add(new RgbImage(options.Width, options.Height));
        _frames = Channel.CreateBounded<CameraFrame>(new BoundedChannelOptions(options.QueueFrames)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true,
        }, dropped => { Interlocked.Increment(ref _dropped); Return(dropped); });
    }

    public ChannelReader<CameraFrame> Frames => _frames.Reader;
    public long Dropped => Interlocked.Read(ref _dropped);
    public long Restarts => Interlocked.Read(ref _restarts);
    public long Captured => Interlocked.Read(ref _sequence);
    /// <summary>The running ffmpeg's process id (tests kill it to check the restart).</summary>
    public int? ProcessId => _current?.Id;
    public string? LastFault { get; private set; }
    /// <summary>Raised on each fault (ffmpeg died, device gone) with what happened; the daemon records it as an event.</summary>
    public event Action<string>? Fault;

    public void Return(CameraFrame frame) => _free.Add(frame.Image);

    /// <summary>The source being read now (the configured one, or the last <see cref="Switch"/>).</summary>
    public string Source => _source;

    /// <summary>
    /// Moves to another source without a restart (a pushed Camera.Source): the running ffmpeg is stopped and the next one opens the new
    /// source at once, with no fault and no back-off. False when this source is not capturing (it started as "none", or has ended);
    /// frame size and rate stay as started (the buffers are sized for them).
    /// </summary>
    public bool Switch(string source)
    {
        Describe(source);
        if (source == "none") throw new ArgumentException("a running camera cannot switch to none: stop the daemon or restart it with Camera.Source none");
        if (!_capturing) return false;
        if (source == _source) return true;
        _source = source;
        _switched = true;
        _current?.Dispose();
        _log.LogInformation("Camera switching to {Source}", Describe(source));
        return true;
    }

    public static string Describe(string source) => source switch
    {
        "none" => "no camera",
        _ when source.StartsWith("v4l2:", StringComparison.Ordinal) && source.Length > 5 => $"V4L2 device {source[5..]}",
        _ when source.StartsWith("rtsp://", StringComparison.Ordinal) || source.StartsWith("rtsps://", StringComparison.Ordinal) => "RTSP stream",
        _ when source.StartsWith("file:", StringComparison.Ordinal) && source.Length > 5 => $"file {source[5..]}",
        _ => throw new ArgumentException($"Camera.Source '{source}' is not v4l2:/dev/videoN, rtsp://..., file:PATH or none"),
    };

    private List<string> Arguments()
    {
        var s = _source;
        var fps = _o.Fps.ToString(System.Globalization.CultureInfo.InvariantCulture);
        List<string> input = s switch
        {
            _ when s.StartsWith("v4l2:", StringComparison.Ordinal) => ["-f", "v4l2", "-framerate", fps, "-video_size", $"{_o.Width}x{_o.Height}", "-i", s[5..]],
            _ when s.StartsWith("rtsp", StringComparison.Ordinal) => ["-rtsp_transport", "tcp", "-timeout", "5000000", "-i", s],
            _ when FaceImage(s[5..]) => [.. Realtime(), "-loop", "1", "-framerate", fps, "-i", s[5..]],
            _ => [.. Realtime(), .. _o.Loop ? new[] { "-stream_loop", "-1" } : [], "-i", s[5..]],
        };
        var fit = s.StartsWith("file:", StringComparison.Ordinal)
            ? CameraFraming.Fill(_o.Width, _o.Height)
            : CameraFraming.Cover(_o.Width, _o.Height);
        var filter = $"fps={fps},{fit}";
        return [.. input, "-an", "-sn", "-vf", filter, "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"];
        IEnumerable<string> Realtime() => _o.Realtime ? ["-re"] : [];
        static bool FaceImage(string path) => ImageDecoder.IsImage(path);
    }

    /// <summary>Reads until cancelled, restarting ffmpeg as needed; with <paramref name="once"/> a file source ends the stream at its end.</summary>
    public async Task RunAsync(bool once, CancellationToken stop)
    {
        if (_o.Source == "none") { _frames.Writer.TryComplete(); return; }
        if (_o.Source.StartsWith("file:", StringComparison.Ordinal) && !File.Exists(_o.Source[5..]))
        {
            _frames.Writer.TryComplete(new BadInputException($"camera file not found: {_o.Source[5..]}"));
            return;
        }
        var backoff = TimeSpan.FromSeconds(_o.RestartMinSeconds);
        var frameBytes = _o.Width * _o.Height * 3;
        var scratch = new byte[frameBytes];
        _capturing = true;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var started = _clock.GetUtcNow();
                long frames = 0;
                using (var ffmpeg = new FfmpegProcess(Arguments()))
                {
                    _current = ffmpeg;
                    using var cancel = stop.Register(ffmpeg.Dispose);
                    while (!stop.IsCancellationRequested)
                    {
                        var target = _free.TryTake(out var buffer) ? buffer : null;
                        int read;
                        try { read = await ffmpeg.Output.ReadAtLeastAsync((target?.Data ?? scratch).AsMemory(0, frameBytes), frameBytes, false, CancellationToken.None); }
                        catch (Exception e) when (e is ObjectDisposedException or IOException or InvalidOperationException)
                        {
                            // the pipe went away under the read: a stop disposing ffmpeg, or ffmpeg dying; the code below tells which
                            read = 0;
                        }
                        if (read < frameBytes)
                        {
                            if (target is not null) _free.Add(target);
                            break;
                        }
                        frames++;
                        var seq = Interlocked.Increment(ref _sequence);
                        if (target is null) { Interlocked.Increment(ref _dropped); continue; } // every buffer busy: the pipeline is behind
                        _frames.Writer.TryWrite(new CameraFrame(seq, _clock.GetUtcNow(), target));
                    }
                    _current = null;
                    if (stop.IsCancellationRequested) break;
                    if (_switched)
                    {
                        // stopped on purpose for a new source: open it now
                        _switched = false;
                        backoff = TimeSpan.FromSeconds(_o.RestartMinSeconds);
                        continue;
                    }
                    var source = _source;
                    var isFile = source.StartsWith("file:", StringComparison.Ordinal);
                    if (isFile && frames == 0 && once)
                    {
                        _frames.Writer.TryComplete(new BadInputException($"{source[5..]}: no video frames could be read (ffmpeg: {ffmpeg.LastError})"));
                        return;
                    }
                    var ended = isFile && frames > 0 && ffmpeg.WaitForExit(TimeSpan.FromSeconds(2)) == 0;
                    if (ended && once) break;
                    if (!ended) Report($"{Describe(source)} stopped after {frames} frames: {ffmpeg.LastError}");
                }
                // a source that ran a while before failing gets a fresh back-off
                if (_clock.GetUtcNow() - started > TimeSpan.FromSeconds(30)) backoff = TimeSpan.FromSeconds(_o.RestartMinSeconds);
                Interlocked.Increment(ref _restarts);
                _log.LogWarning("Camera source restarting in {Seconds:F0} s", backoff.TotalSeconds);
                try { await Task.Delay(backoff, _clock, stop); } catch (OperationCanceledException) { break; }
                backoff = TimeSpan.FromSeconds(Math.Min(_o.RestartMaxSeconds, backoff.TotalSeconds * 2));
            }
        }
        finally
        {
            _capturing = false;
            _frames.Writer.TryComplete();
        }
    }

    private void Report(string fault)
    {
        LastFault = fault;
        _log.LogWarning("Camera fault: {Fault}", fault);
        Fault?.Invoke(fault);
    }
}
