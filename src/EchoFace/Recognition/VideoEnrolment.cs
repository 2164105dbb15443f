using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Recognition;

/// <summary>How a clip is read and which of its frames become templates (`enroll ID clip.mp4`).</summary>
public sealed record VideoEnrolOptions
{
    /// <summary>Templates to take from one clip.</summary>
    public int Frames { get; init; } = 5;
    /// <summary>Frames read per second of video (up to MaxSeconds of it).</summary>
    public double Fps { get; init; } = 5;
    public double MaxSeconds { get; init; } = 60;
    /// <summary>Chosen frames are at least this far apart, so that five templates are not five copies of one moment.</summary>
    public double MinGapSeconds { get; init; } = 0.5;
    /// <summary>Yaw (degrees) beyond which a face counts as turned left or right: one of each is taken when the clip has one.</summary>
    public float TurnedYaw { get; init; } = 12;

    public void Validate()
    {
        if (Frames is < 1 or > 20) throw new BadInputException($"--frames must be 1 to 20, not {Frames}");
        if (Fps is <= 0 or > 30 || MaxSeconds is <= 0 or > 600 || MinGapSeconds < 0)
            throw new BadInputException($"a clip is read at 0-30 fps for up to 600 s, frames at least 0 s apart (not {Fps}, {MaxSeconds}, {MinGapSeconds})");
    }
}

/// <summary>One frame chosen from a clip: when, its face, and the pose it stands for (frontal, left, right).</summary>
public sealed record ChosenFrame(double Seconds, FaceResult Face, string Pose)
{
    public string Source(string path) => $"{path}#t={Seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>What a clip held: frames read, those with one face in focus, those of enrolment quality, those of another face, the choice.</summary>
public sealed record VideoChoice(string Path, int FramesRead, int OneFace, int EnrolQuality, int OtherFace, IReadOnlyList<ChosenFrame> Chosen)
{
    /// <summary>The chosen frames as enrolment sources: one face each, named by the clip and the frame's time.</summary>
    public IReadOnlyList<(string Source, IReadOnlyList<FaceResult> Faces)> Sources =>
        [.. Chosen.Select(c => (c.Source(Path), (IReadOnlyList<FaceResult>)[c.Face]))];
}

/// <summary>
/// Enrolment from a clip of one person: every frame analysed as the door would see it, frames holding exactly one face in focus, of
/// enrolment quality, kept; faces unlike the one most frames show dropped (someone else walked through); then the best frontal
/// frame, the best turned left and the best turned right, then the best of the rest, each MinGapSeconds from the others. Turned
/// means within the quality floor, which refuses profiles: profile templates raise the false accepts 13x (docs/pose.md).
/// </summary>
public static class VideoEnrolment
{
    /// <summary>Reads and chooses; <paramref name="name"/> names the clip in sources and errors (an upload's file name; default the path).</summary>
    public static VideoChoice Analyse(FacePipeline pipeline, string path, int width, int height, VideoEnrolOptions options, float sameFace,
        string? name = null)
    {
        name ??= path;
        options.Validate();
        var read = 0;
        var oneFace = 0;
        var candidates = new List<(double Seconds, FaceResult Face)>();
        foreach (var (seconds, frame) in VideoFrames.Read(path, width, height, options.Fps, (int)Math.Ceiling(options.Fps * options.MaxSeconds), name))
        {
            read++;
            var faces = pipeline.Analyze(frame);
            // one face in focus: a blurred bystander behind the person is not a second person in the clip (Face.FocusRatio)
            if (FacePipeline.InFocus(faces, pipeline.Options.FocusRatio) != 1) continue;
            oneFace++;
            var face = faces[0];
            if (face.Quality.Score < pipeline.Options.Quality.MinEnrolScore) continue;
            // the frame is filled again next time: the other models' embeddings are taken now, not from the image later
            if (face.Others is { } others) face = face with { Others = OtherEmbeddings.Of(others.Get()) };
            candidates.Add((seconds, face));
        }
        var chosen = Choose(candidates, options, sameFace, out var otherFace);
        if (chosen.Count == 0)
            throw new BadInputException($"{name}: no frame holds one face of enrolment quality ({read} frames read, {oneFace} with one face, " +
                $"none at quality {pipeline.Options.Quality.MinEnrolScore:F2} or more): film the person alone, facing the camera, in good light");
        return new VideoChoice(name, read, oneFace, candidates.Count, otherFace, chosen);
    }

    /// <summary>The choice among frames already analysed (one face each, of enrolment quality), in time order.</summary>
    public static List<ChosenFrame> Choose(IReadOnlyList<(double Seconds, FaceResult Face)> candidates, VideoEnrolOptions options, float sameFace,
        out int otherFace)
    {
        otherFace = 0;
        if (candidates.Count == 0) return [];
        // the clip's person is the face most frames agree with (the best quality among those), whoever else passed through
        bool Same((double, FaceResult Face) a, (double, FaceResult Face) b) =>
            TensorPrimitives.CosineSimilarity(a.Face.Embedding!, b.Face.Embedding!) >= sameFace;
        var anchor = candidates.MaxBy(c => (candidates.Count(o => Same(c, o)), c.Face.Quality.Score));
        var same = candidates.Where(c => Same(anchor, c)).ToList();
        otherFace = candidates.Count - same.Count;
        var byQuality = same.OrderByDescending(c => c.Face.Quality.Score).ToList();
        var chosen = new List<ChosenFrame>();
        void Take(IEnumerable<(double Seconds, FaceResult Face)> pool)
        {
            foreach (var c in pool)
            {
                if (chosen.Count >= options.Frames) return;
                if (chosen.Any(x => x.Seconds == c.Seconds || Math.Abs(x.Seconds - c.Seconds) < options.MinGapSeconds - 1e-9)) continue;
                chosen.Add(new ChosenFrame(c.Seconds, c.Face, PoseOf(c.Face, options.TurnedYaw)));
                return;
            }
        }
        foreach (var pose in new[] { "frontal", "left", "right" }) Take(byQuality.Where(c => PoseOf(c.Face, options.TurnedYaw) == pose));
        while (chosen.Count < options.Frames)
        {
            var before = chosen.Count;
            Take(byQuality);
            if (chosen.Count == before) break;
        }
        return [.. chosen.OrderBy(c => c.Seconds)];
    }

    /// <summary>Frontal within TurnedYaw either way; left is negative yaw, as FaceQuality measures it.</summary>
    public static string PoseOf(FaceResult face, float turnedYaw) =>
        face.Quality.Yaw <= -turnedYaw ? "left" : face.Quality.Yaw >= turnedYaw ? "right" : "frontal";
}
