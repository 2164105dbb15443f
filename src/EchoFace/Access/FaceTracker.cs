using EchoFace.Face;

namespace EchoFace.Access;

/// <summary>One good face seen on a track (its yaw is the liveness challenge's starting point).</summary>
public sealed record FaceObservation(float[] Embedding, float Quality, float? Liveness, BoxF Box, float Yaw = 0)
{
    /// <summary>Under Face.Fusion: the other models' embeddings of this face, where they were computed.</summary>
    public float[][]? Others { get; set; }
}

/// <summary>One person in front of the camera, followed from frame to frame until they leave.</summary>
public sealed class Track(int id, BoxF box, DateTimeOffset now)
{
    public int Id { get; } = id;
    public BoxF Box { get; set; } = box;
    public DateTimeOffset FirstSeen { get; } = now;
    public DateTimeOffset LastSeen { get; set; } = now;
    public int Frames { get; set; } = 1;
    public List<FaceObservation> Observations { get; } = [];
    /// <summary>Set once the presence has its decision (or is waiting for the voice step-up): no more analysis for it.</summary>
    public bool Decided { get; set; }
    /// <summary>The presence's best-quality face so far and a copy of its frame: the decision's snapshot.</summary>
    public (Media.RgbImage Frame, FaceResult Face)? Best { get; set; }
    /// <summary>The prompted head turns this presence must make (liveness mode challenge), and the policy's result they would confirm.</summary>
    public (LivenessChallenge Check, PolicyResult Result)? Challenge { get; set; }
    /// <summary>Face.Fusion cascade: the latest face's other embeddings, not computed yet (valid only while its frame is current).</summary>
    public (FaceObservation Face, OtherEmbeddings Others)? Pending { get; set; }
    /// <summary>Face.Fusion cascade: the first model left this presence undecided, so every later face gets the other embeddings.</summary>
    public bool WantsOthers { get; set; }
    /// <summary>Who the presence was decided to be and whether they were let in: the live view's label for it.</summary>
    public (string Text, bool Granted)? Label { get; set; }
}

/// <summary>Greedy IoU tracking of face boxes (faces at a door move little between frames); a track ends when unseen for the timeout.</summary>
public sealed class FaceTracker(float minIoU, TimeSpan timeout)
{
    private readonly List<Track> _tracks = [];
    private int _next = 1;

    /// <summary>Settable so a pushed Access.TrackIoU / TrackTimeoutSeconds takes effect at the next frame.</summary>
    public float MinIoU { get; set; } = minIoU;
    public TimeSpan Timeout { get; set; } = timeout;

    public IReadOnlyList<Track> Tracks => _tracks;

    /// <summary>Matches this frame's boxes to tracks (new tracks for the rest); returns the track of each box, in the boxes' order.</summary>
    public Track[] Update(IReadOnlyList<BoxF> boxes, DateTimeOffset now)
    {
        var result = new Track[boxes.Count];
        var pairs = new List<(float IoU, int Box, Track Track)>();
        for (var b = 0; b < boxes.Count; b++)
            foreach (var t in _tracks)
            {
                var iou = boxes[b].IoU(t.Box);
                if (iou >= MinIoU) pairs.Add((iou, b, t));
            }
        var taken = new HashSet<Track>();
        foreach (var (_, b, t) in pairs.OrderByDescending(p => p.IoU))
        {
            if (result[b] is not null || taken.Contains(t)) continue;
            result[b] = t;
            taken.Add(t);
            t.Box = boxes[b];
            t.LastSeen = now;
            t.Frames++;
        }
        for (var b = 0; b < boxes.Count; b++)
        {
            if (result[b] is not null) continue;
            result[b] = new Track(_next++, boxes[b], now);
            _tracks.Add(result[b]);
        }
        return result;
    }

    /// <summary>Removes and returns the tracks not seen for the timeout: those people have left.</summary>
    public List<Track> Expire(DateTimeOffset now)
    {
        var gone = _tracks.Where(t => now == DateTimeOffset.MaxValue || now - t.LastSeen > Timeout).ToList();
        _tracks.RemoveAll(gone.Contains);
        return gone;
    }
}
