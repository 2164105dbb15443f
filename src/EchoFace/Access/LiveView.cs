using EchoFace.Face;
using EchoFace.Media;
using SkiaSharp;

namespace EchoFace.Access;

/// <summary>
/// The camera as the web console shows it: the latest analysed frame with its faces boxed and named. It costs nothing while nobody
/// watches: frames are copied only for a few seconds after someone asked for a picture, and drawn only when asked.
/// </summary>
public sealed class LiveView(TimeProvider clock)
{
    private readonly long _watchTicks = clock.TimestampFrequency * 5;
    private readonly Lock _gate = new();
    private long _wantedUntil;
    private RgbImage? _frame;
    private FaceLabel[] _faces = [];
    private DateTimeOffset _at;

    /// <summary>Someone asked for a picture in the last few seconds (monotonic: a clock set back does not keep it alive).</summary>
    public bool Wanted => clock.GetTimestamp() < Volatile.Read(ref _wantedUntil);

    /// <summary>Nobody watches: the frame loop calls this instead of <see cref="Offer"/>, and the copy kept is dropped.</summary>
    public void Idle()
    {
        if (_frame is not null) lock (_gate) _frame = null;
    }

    /// <summary>While <see cref="Wanted"/>, the door's frame loop offers each analysed frame with its faces' labels.</summary>
    public void Offer(RgbImage image, FaceLabel[] labels, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_frame is null || _frame.Width != image.Width || _frame.Height != image.Height) _frame = new RgbImage(image.Width, image.Height);
            image.Data.AsSpan(0, image.Width * image.Height * 3).CopyTo(_frame.Data);
            (_faces, _at) = (labels, at);
        }
    }

    /// <summary>The latest frame as JPEG with when it was taken, or null before one has come (the first ask starts the copying).</summary>
    public (byte[] Jpeg, DateTimeOffset At)? Picture()
    {
        Volatile.Write(ref _wantedUntil, clock.GetTimestamp() + _watchTicks);
        lock (_gate)
        {
            if (_frame is null) return null;
            using var bitmap = FaceAnnotator.Render(_frame, _faces, crops: false);
            return (ImageEncoder.Encode(bitmap, SKEncodedImageFormat.Jpeg), _at);
        }
    }
}
