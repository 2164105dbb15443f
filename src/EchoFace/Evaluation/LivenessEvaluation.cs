using System.Numerics;
using System.Diagnostics;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Evaluation;

/// <summary>
/// One image of a presentation-attack set: its label, attack type, split, each opinion's score of its largest face and the milliseconds
/// it took (by opinion name, <see cref="LivenessOpinions.Create"/>).
/// </summary>
public sealed record LivenessSample(string Path, bool Live, string Attack, string? Split, IReadOnlyDictionary<string, float> Scores,
    IReadOnlyDictionary<string, double> Ms, string? Failure)
{
    /// <summary>The key of a sample made from one score (<see cref="Of"/>).</summary>
    public const string Only = "score";

    public float? Score(string opinion) => Scores.TryGetValue(opinion, out var v) ? v : null;

    /// <summary>A sample holding one score under <see cref="Only"/>: a frame's or a presence's, a cue's.</summary>
    public static LivenessSample Of(string path, bool live, string attack, float? score) =>
        new(path, live, attack, null, score is { } v ? new Dictionary<string, float> { [Only] = v } : new Dictionary<string, float>(),
            new Dictionary<string, double>(), null);
}

/// <summary>Error rates of one way of scoring at one threshold (ISO/IEC 30107-3 names): spoofs accepted, live people refused.</summary>
public sealed record PadRates(double Threshold, double Apcer, double Bpcer)
{
    public double Acer => (Apcer + Bpcer) / 2;
}

/// <summary>One video: a presence. Its frame scores (largest face, fed the scorer's configured order) and the presence's own score.</summary>
public sealed record LivenessPresence(string Path, bool Live, string Attack, float[] FrameScores, float? PresenceScore, string? Failure, PresenceCues? Cues = null);

/// <summary>
/// What a presence shows beyond the per-frame model. EyeSwing: the largest minus the smallest eye-open probability (the lower of the
/// two eyes) over the frames, near 1 when the eyes closed and opened again (a blink), near 0 for eyes that never change; null without
/// the eye model. Motion: the median frame-to-frame landmark displacement as a share of the eye distance. NonPlanar: the median share
/// of that displacement an affine map cannot explain (a flat print moved by hand moves affinely, a head does not). Detail: the
/// median contrast-normalised Laplacian energy of the face (print and recapture blur lower it, a screen's moire raises it).
/// </summary>
public sealed record PresenceCues(float? EyeSwing, float Motion, float? NonPlanar = null, float? Detail = null);

/// <summary>Presentation-attack detection over a folder with live/ and spoof/ sub-folders (and, when present, a manifest.csv naming attack types and splits).</summary>
public static class LivenessEvaluation
{
    public static List<(string Path, bool Live, string Attack, string? Split)> ListSamples(string root, string? split = null)
    {
        if (!Directory.Exists(Path.Combine(root, "live")) || !Directory.Exists(Path.Combine(root, "spoof")))
            throw new BadInputException($"{root} must hold live/ and spoof/ folders of images");
        var manifest = ReadManifest(Path.Combine(root, "manifest.csv"));
        var items = new List<(string, bool, string, string?)>();
        foreach (var live in new[] { true, false })
        {
            var dir = Path.Combine(root, live ? "live" : "spoof");
            foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal))
            {
                var rel = Path.GetRelativePath(root, file).Replace('\\', '/');
                manifest.TryGetValue(rel, out var m);
                // without a manifest, spoof/<attack>/... names the attack when the sub-folder is not just a number (a subject)
                var sub = Path.GetRelativePath(dir, file).Split('/')[0];
                var attack = live ? "none" : m.Attack ?? (sub != Path.GetFileName(file) && !sub.All(char.IsDigit) ? sub : "spoof");
                if (split is not null && m.Split != split) continue;
                items.Add((file, live, attack, m.Split));
            }
        }
        if (!items.Any(i => i.Item2) || items.All(i => i.Item2))
            throw new BadInputException($"{root}{(split is null ? "" : $" (split {split})")} needs both live and spoof images (found {items.Count})");
        return items;
    }

    private static Dictionary<string, (string? Attack, string? Split)> ReadManifest(string path)
    {
        var result = new Dictionary<string, (string?, string?)>();
        if (!File.Exists(path)) return result;
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        int rel = Array.IndexOf(header, "relpath"), attack = Array.IndexOf(header, "attack_type"), split = Array.IndexOf(header, "split");
        if (rel < 0) throw new BadInputException($"{path}: no relpath column");
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            if (f.Length != header.Length) throw new BadInputException($"{path}: line `{line}` has {f.Length} fields, the header {header.Length}");
            result[f[rel]] = (attack >= 0 && f[attack] != "none" ? f[attack] : null, split >= 0 ? f[split] : null);
        }
        return result;
    }

    /// <summary>Scores the largest face of each image with every opinion (the pipeline's liveness model when none is given).</summary>
    public static List<LivenessSample> Run(FacePipeline pipeline, IReadOnlyList<(string Path, bool Live, string Attack, string? Split)> items,
        IReadOnlyList<ILivenessOpinion>? opinions = null, IProgress<LivenessSample>? progress = null, ImageLimits? limits = null)
    {
        opinions ??= [pipeline.Liveness];
        var samples = new List<LivenessSample>();
        var none = new Dictionary<string, float>();
        var noMs = new Dictionary<string, double>();
        foreach (var (path, live, attack, split) in items)
        {
            LivenessSample s;
            try
            {
                var image = ImageDecoder.DecodeFile(path, limits);
                var faces = pipeline.Analyze(image, FaceSteps.Detect);
                if (faces.Count == 0) s = new LivenessSample(path, live, attack, split, none, noMs, "no face detected");
                else
                {
                    var scores = new Dictionary<string, float>();
                    var ms = new Dictionary<string, double>();
                    foreach (var opinion in opinions)
                    {
                        var start = Stopwatch.GetTimestamp();
                        scores[opinion.Name] = opinion.Score(image, faces[0].Box, faces[0].TightCrop);
                        ms[opinion.Name] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    }
                    s = new LivenessSample(path, live, attack, split, scores, ms, null);
                }
            }
            catch (BadInputException e) { s = new LivenessSample(path, live, attack, split, none, noMs, e.Message); }
            samples.Add(s);
            progress?.Report(s);
        }
        return samples;
    }

    public static readonly string[] VideoExtensions = [".mp4", ".mkv", ".avi", ".mov", ".webm"];

    /// <summary>Videos under live/ and spoof/ (spoof/ATTACK/... names the attack), one presence each.</summary>
    public static List<(string Path, bool Live, string Attack)> ListVideos(string root)
    {
        if (!Directory.Exists(Path.Combine(root, "live")) || !Directory.Exists(Path.Combine(root, "spoof")))
            throw new BadInputException($"{root} must hold live/ and spoof/ folders of videos");
        var items = new List<(string, bool, string)>();
        foreach (var live in new[] { true, false })
        {
            var dir = Path.Combine(root, live ? "live" : "spoof");
            foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => VideoExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
            {
                var sub = Path.GetRelativePath(dir, file).Split('/')[0];
                items.Add((file, live, live ? "none" : sub != Path.GetFileName(file) ? sub : "spoof"));
            }
        }
        if (!items.Any(i => i.Item2) || items.All(i => i.Item2))
            throw new BadInputException($"{root} needs both live and spoof videos ({string.Join(", ", VideoExtensions)}); found {items.Count}");
        return items;
    }

    /// <summary>
    /// Each video as the daemon sees a presence: frames at 640x480 (up to 300), the largest face's quality and liveness per frame,
    /// and the presence score the policy uses (median over the better-quality half of the faces).
    /// </summary>
    public static List<LivenessPresence> RunVideos(FacePipeline pipeline, IReadOnlyList<(string Path, bool Live, string Attack)> videos, IProgress<LivenessPresence>? progress = null,
        EyeStateScorer? eyes = null)
    {
        const int w = 640, h = 480, maxFrames = 300;
        var result = new List<LivenessPresence>();
        foreach (var (path, live, attack) in videos)
        {
            LivenessPresence p;
            var run = Ffmpeg.Run(["-i", path, "-an", "-vf", CameraFraming.Fill(w, h), "-frames:v", $"{maxFrames}",
                "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"], (long)w * h * 3 * maxFrames + 1, TimeSpan.FromSeconds(120));
            if (run.ExitCode != 0 || run.Output.Length < w * h * 3)
                p = new LivenessPresence(path, live, attack, [], null, $"not a readable video (ffmpeg: {run.FirstError})");
            else
            {
                var faces = new List<Access.FaceObservation>();
                var open = new List<float>();
                var motion = new List<float>();
                var nonPlanar = new List<float>();
                var detail = new List<float>();
                Vector2[]? previous = null;
                for (var f = 0; f + w * h * 3 <= run.Output.Length; f += w * h * 3)
                {
                    var frame = new RgbImage(w, h, run.Output.AsSpan(f, w * h * 3).ToArray());
                    var found = pipeline.Analyze(frame, FaceSteps.Landmarks | FaceSteps.Liveness);
                    if (found.Count == 0 || found[0].Liveness is not { } l) { previous = null; continue; }
                    faces.Add(new Access.FaceObservation([], found[0].Quality.Score, l, found[0].Box));
                    var points = found[0].Landmarks;
                    if (eyes?.Score(frame, points) is { } e) open.Add(Math.Min(e.Left, e.Right));
                    detail.Add(Detail(frame, found[0].Box));
                    if (previous is not null && points.Length == previous.Length && points.Length == 68)
                    {
                        var eyeDistance = Vector2.Distance(points[36], points[45]);
                        var fit = Affine2.Fit(previous, points);
                        float moved = 0, moved2 = 0, residual2 = 0;
                        for (var i = 0; i < points.Length; i++)
                        {
                            moved += Vector2.Distance(points[i], previous[i]);
                            moved2 += Vector2.DistanceSquared(points[i], previous[i]);
                            residual2 += Vector2.DistanceSquared(points[i], fit.Apply(previous[i]));
                        }
                        if (eyeDistance > 1) motion.Add(moved / points.Length / eyeDistance);
                        if (moved2 > 1e-6f) nonPlanar.Add(MathF.Sqrt(residual2 / moved2));
                    }
                    previous = points;
                }
                var cues = new PresenceCues(open.Count >= 2 ? open.Max() - open.Min() : null, motion.Count > 0 ? Access.AccessPolicy.Median(motion)!.Value : 0,
                    Access.AccessPolicy.Median(nonPlanar), Access.AccessPolicy.Median(detail));
                p = faces.Count == 0
                    ? new LivenessPresence(path, live, attack, [], null, "no face in any frame")
                    : new LivenessPresence(path, live, attack, [.. faces.Select(x => x.Liveness!.Value)], Access.AccessPolicy.PresenceLiveness(faces, "track"), null, cues);
            }
            result.Add(p);
            progress?.Report(p);
        }
        return result;
    }

    /// <summary>Laplacian variance over intensity variance of the face box resampled to 112x112 grey: fine detail whatever the lighting.</summary>
    public static float Detail(RgbImage frame, BoxF box)
    {
        var grey = FaceQualityMeter.Luma(ImageSampler.WarpImage(frame, Affine2.BoxToGrid(box, 112, 112), 112, 112));
        double sum = 0, sq = 0;
        foreach (var g in grey) { sum += g; sq += (double)g * g; }
        var variance = sq / grey.Length - (sum / grey.Length) * (sum / grey.Length);
        return (float)(FaceQualityMeter.LaplacianVariance(grey, 112, 112) / (variance + 1));
    }

    /// <summary>Live scores as genuine, spoof scores as impostor: FAR is APCER and 1 - TAR is BPCER.</summary>
    public static VerificationMetrics Metrics(IEnumerable<LivenessSample> samples, Func<LivenessSample, float?> score)
    {
        var scored = samples.Where(s => score(s) is not null).ToList();
        return VerificationMetrics.Compute([.. scored.Where(s => s.Live).Select(s => (double)score(s)!.Value)],
            [.. scored.Where(s => !s.Live).Select(s => (double)score(s)!.Value)], [0.01, 0.05]);
    }

    public static PadRates At(IEnumerable<LivenessSample> samples, Func<LivenessSample, float?> score, double threshold)
    {
        var scored = samples.Where(s => score(s) is not null).ToList();
        var live = scored.Where(s => s.Live).ToList();
        var spoof = scored.Where(s => !s.Live).ToList();
        return new PadRates(threshold,
            spoof.Count == 0 ? 0 : (double)spoof.Count(s => score(s) >= threshold) / spoof.Count,
            live.Count == 0 ? 0 : (double)live.Count(s => score(s) < threshold) / live.Count);
    }
}
