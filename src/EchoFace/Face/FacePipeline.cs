using System.Diagnostics;
using System.Numerics;
using EchoFace.Inference;
using EchoFace.Media;

namespace EchoFace.Face;

public sealed class FaceOptions
{
    /// <summary>A copy to change without changing the configuration (the door's, which never pads camera frames).</summary>
    public FaceOptions Copy()
    {
        var copy = (FaceOptions)MemberwiseClone();
        copy.Fusion = Fusion.Copy();
        copy.LivenessFusion = LivenessFusion.Copy();
        return copy;
    }

    public string Detector { get; set; } = "fr_detect";
    /// <summary>pfld_68 by default: with the refinement pass it takes Yale B from 2.65% EER (fr_landmark) to 0.15% (docs/face.md).</summary>
    public string Landmarks { get; set; } = "pfld_68";
    public string Embedder { get; set; } = "fr_feature";
    public string Liveness { get; set; } = "fr_liveness";
    /// <summary>The opinions (models on their crops, screen cues) whose weighed sum replaces Liveness alone (docs/liveness.md).</summary>
    public LivenessFusionOptions LivenessFusion { get; set; } = new();
    public float DetectionThreshold { get; set; } = 0.7f;
    public float NmsIoU { get; set; } = 0.3f;
    /// <summary>For tight crops and ID photos (nothing found, a small image, or a face spilling past the frame): pad by this fraction of the larger side on every side and look again. 0 turns it off.</summary>
    public float PadOnMiss { get; set; } = 0.5f;
    /// <summary>Run the landmarks a second time on a square box around the first pass's points, this much larger than them (1.25 measured best; 0 turns it off).</summary>
    public float RefineScale { get; set; } = 1.25f;
    public QualityOptions Quality { get; set; } = new();
    /// <summary>
    /// Faces less sharp than this fraction of the image's sharpest face come after the others: a face far out of focus is a
    /// bystander behind the subject, whatever its box (docs/fusion.md). 0 keeps plain largest-first order.
    /// </summary>
    public float FocusRatio { get; set; } = 0.25f;
    public FusionOptions Fusion { get; set; } = new();
    /// <summary>Embed the aligned face and its mirror image and sum the two (measured in docs/fusion.md).</summary>
    public bool FlipTest { get; set; }
    /// <summary>Milliseconds per face for embedding: above 0, the most accurate choice that fits replaces Embedder, Fusion.Mode and FlipTest.</summary>
    public double Budget { get; set; }

    public void Validate()
    {
        if (DetectionThreshold is <= 0 or >= 1) throw new ArgumentException($"Face.DetectionThreshold must be in (0, 1), not {DetectionThreshold}");
        if (NmsIoU is <= 0 or >= 1) throw new ArgumentException($"Face.NmsIoU must be in (0, 1), not {NmsIoU}");
        if (PadOnMiss is < 0 or > 2) throw new ArgumentException($"Face.PadOnMiss must be in [0, 2], not {PadOnMiss}");
        if (FocusRatio is < 0 or >= 1) throw new ArgumentException($"Face.FocusRatio must be in [0, 1), not {FocusRatio}");
        if (RefineScale is < 0 or > 3) throw new ArgumentException($"Face.RefineScale must be 0 (off) or up to 3, not {RefineScale}");
        Quality.Validate();
        Fusion.Validate();
        LivenessFusion.Validate();
        if (Budget is < 0 or > 10_000) throw new ArgumentException($"Face.Budget is milliseconds per face, 0 (off) to 10000, not {Budget}");
        if (Fusion.Mode != "off" && Fusion.Embedders[0] != Embedder)
            throw new ArgumentException($"Face.Fusion.Embedders must start with Face.Embedder ('{Embedder}'), not '{Fusion.Embedders[0]}'");
    }
}

/// <summary>One face found in an image, in the image's own pixel coordinates.</summary>
public sealed record FaceResult(
    BoxF Box, float DetectionScore, Vector2[] Landmarks, Vector2[] Points5, FaceQuality Quality, float? Liveness, float[]? Embedding)
{
    /// <summary>Under Face.Fusion: the face's embeddings by the other fused models (computed at analysis under sum, on first use under cascade).</summary>
    public OtherEmbeddings? Others { get; init; }
    /// <summary>Found through the tight-crop retry (Face.PadOnMiss): the image is a face crop, without the context a camera frame has.</summary>
    public bool TightCrop { get; init; }
}

/// <summary>
/// The other fused models' embeddings of one face, computed once on first use. Under cascade that is after the analysis: the
/// image it was analysed in must not change until then (the pipeline's own lock keeps the models' buffers safe).
/// </summary>
public sealed class OtherEmbeddings(Func<float[][]> compute)
{
    private float[][]? _values;

    public bool Computed => _values is not null;

    public float[][] Get() => _values ??= compute();

    public static OtherEmbeddings Of(float[][] values) => new(() => values);
}

/// <summary>Milliseconds spent per stage, summed over the faces of one call.</summary>
public record struct StageTimings(double Detect, double Landmarks, double Align, double Liveness, double Embed)
{
    public readonly double Total => Detect + Landmarks + Align + Liveness + Embed;
}

[Flags]
public enum FaceSteps { Detect = 0, Landmarks = 1, Liveness = 2, Embed = 4, All = Landmarks | Liveness | Embed }

/// <summary>
/// detect -> landmarks -> 5-point similarity alignment to 112x112 -> quality -> liveness -> embedding.
/// Holds preallocated tensors: one instance per thread.
/// </summary>
public sealed class FacePipeline : IDisposable
{
    private readonly FaceDetector _detector;
    private readonly Landmarker _landmarker;
    private FaceEmbedder _embedder;
    private readonly List<FaceEmbedder> _others = [];
    private readonly LivenessScorer _liveness;
    private readonly LivenessFusion? _livenessFusion;
    // Analyze and a cascade's later embedding share the models' preallocated buffers
    private readonly Lock _gate = new();
    private readonly FaceOptions _options;
    // per-face scratch, reused frame to frame (one pipeline per thread)
    private readonly Vector2[] _firstPass = new Vector2[68];
    private readonly RgbImage _aligned = new(FaceEmbedder.CropSize, FaceEmbedder.CropSize);
    private readonly float[] _grey = new float[FaceEmbedder.CropSize * FaceEmbedder.CropSize];

    /// <param name="shareSessions">take the factory's shared sessions (the API's workers), not models of this pipeline's own</param>
    public FacePipeline(InferenceSessionFactory factory, FaceOptions? options = null, bool shareSessions = false)
    {
        _options = options ?? new FaceOptions();
        _options.Validate();
        Func<string, ModelSession> load = shareSessions ? factory.CreateShared : factory.Create;
        _detector = new FaceDetector(load(_options.Detector)) { ScoreThreshold = _options.DetectionThreshold, NmsIoU = _options.NmsIoU };
        _landmarker = new Landmarker(load(_options.Landmarks));
        _embedder = new FaceEmbedder(load(_options.Embedder)) { FlipTest = _options.FlipTest };
        var livenessModel = load(_options.Liveness);
        _liveness = new LivenessScorer(livenessModel);
        if (_options.LivenessFusion.Enabled)
        {
            // an opinion on Face.Liveness's own model (fr_liveness on a square box) takes another handle on it, not a second copy
            ModelSession LoadOpinion(string id) => id == _options.Liveness ? livenessModel.Share() ?? load(id) : load(id);
            var opinions = new List<ILivenessOpinion>();
            try
            {
                foreach (var spec in _options.LivenessFusion.Opinions) opinions.Add(EchoFace.Face.LivenessOpinions.Create(spec, LoadOpinion));
            }
            catch
            {
                foreach (var o in opinions) o.Dispose();
                throw;
            }
            _livenessFusion = new LivenessFusion(opinions, _options.LivenessFusion);
        }
        if (_options.Fusion.Mode == "off") return;
        var norms = _options.Fusion.Embedders.Select(id => factory.Manifest.Get(id).ScoreNorm
            ?? throw new ModelException($"model '{id}' has no scoreNorm in the manifest: it cannot be fused")).ToList();
        Fusion = new ScoreFusion(norms, _options.Fusion.Weights);
        foreach (var id in _options.Fusion.Embedders.Skip(1)) _others.Add(new FaceEmbedder(load(id)) { FlipTest = _options.FlipTest });
    }

    /// <summary>Set when Face.Fusion.Mode is sum or cascade: how the fused models' scores combine.</summary>
    public ScoreFusion? Fusion { get; }
    /// <summary>The fused models after Face.Embedder (empty when fusion is off).</summary>
    public IReadOnlyList<FaceEmbedder> OtherEmbedders => _others;

    public FaceOptions Options => _options;
    public FaceDetector Detector => _detector;
    public Landmarker Landmarker => _landmarker;
    public LivenessScorer Liveness => _liveness;
    /// <summary>Set when Face.LivenessFusion names opinions: what a face's Liveness is then.</summary>
    public LivenessFusion? LivenessFusion => _livenessFusion;
    /// <summary>Every opinion behind a face's Liveness: the fused ones, or Face.Liveness alone.</summary>
    public IReadOnlyList<ILivenessOpinion> LivenessOpinions => _livenessFusion?.Opinions ?? [_liveness];
    public FaceEmbedder Embedder => _embedder;

    /// <summary>Puts another face embedder in place (a live model switch); the caller makes sure no Analyze runs meanwhile.</summary>
    public void UseEmbedder(FaceEmbedder embedder)
    {
        var old = _embedder;
        _embedder = embedder;
        old.Dispose();
    }
    public string EmbedderModelId => _embedder.ModelId;
    public int EmbeddingDimension => _embedder.Dimension;
    public string Provider => _embedder.Provider;

    /// <summary>Every face in the image, largest first, faces far out of focus last (Face.FocusRatio; boxes alone: largest first).</summary>
    public List<FaceResult> Analyze(RgbImage image, FaceSteps steps = FaceSteps.All) => Analyze(image, steps, out _);

    public List<FaceResult> Analyze(RgbImage image, FaceSteps steps, out StageTimings timings)
    {
        lock (_gate) return AnalyzeLocked(image, steps, out timings);
    }

    private List<FaceResult> AnalyzeLocked(RgbImage image, FaceSteps steps, out StageTimings timings)
    {
        timings = default;
        var clock = Stopwatch.StartNew();
        var detections = _detector.Detect(image);
        var work = image;
        var offset = 0;
        if (_options.PadOnMiss > 0 && MayBeTightCrop(detections, image))
        {
            offset = (int)MathF.Round(_options.PadOnMiss * Math.Max(image.Width, image.Height));
            var padded = image.Pad(offset, ImageSampler.Border);
            // a tight crop holds one face: take the best candidate, at half the usual threshold (the padding is unlike any training frame)
            var retry = _detector.Detect(padded, _options.DetectionThreshold / 2).Take(1).ToList();
            // keep the padded answer when it sees a larger face than the frame did (the frame's answer is then an eye or a cheek)
            if (retry.Count > 0 && (detections.Count == 0 || retry[0].Box.Area > 1.2f * detections.Max(d => d.Box.Area)))
                (work, detections) = (padded, retry);
            else offset = 0;
        }
        timings.Detect = Lap(clock);
        detections.Sort((a, b) => b.Box.Area.CompareTo(a.Box.Area));

        var faces = new List<FaceResult>(detections.Count);
        foreach (var d in detections)
        {
            if (steps == FaceSteps.Detect)
            {
                faces.Add(new FaceResult(d.Box.Offset(-offset, -offset), d.Score, [], [], default, null, null) { TightCrop = offset != 0 });
                continue;
            }
            var p68 = new Vector2[68];
            if (_options.RefineScale > 0)
            {
                _landmarker.Detect(work, d.Box, _firstPass);
                _landmarker.Detect(work, BoxF.Around(_firstPass).Scale(_options.RefineScale, square: true), p68);
            }
            else _landmarker.Detect(work, d.Box, p68);
            var five = Landmarker.FivePoints(p68);
            timings.Landmarks += Lap(clock);

            // Sharpness stays on its own one-sample byte crop: read off the embedder's supersampled input it measured 0.59x (photos)
            // and 0.65x (Yale B) of that, which would move every quality threshold, to save 0.6 ms of a 68 ms face (docs/performance.md).
            FaceEmbedder.AlignedCrop(work, five, _aligned);
            var quality = FaceQualityMeter.Measure(p68, five, FaceQualityMeter.LaplacianVariance(_aligned, _grey), _options.Quality);
            timings.Align += Lap(clock);

            float? live = null;
            if (steps.HasFlag(FaceSteps.Liveness))
            {
                // on the image itself: a tight crop's missing context is the opinions' to handle (LivenessScorer.TightCropFit)
                var box = d.Box.Offset(-offset, -offset);
                live = _livenessFusion?.Score(image, box, offset != 0) ?? _liveness.Score(image, box, offset != 0);
                timings.Liveness += Lap(clock);
            }
            float[]? embedding = null;
            OtherEmbeddings? others = null;
            if (steps.HasFlag(FaceSteps.Embed))
            {
                embedding = _embedder.Embed(work, five);
                if (_others.Count > 0) others = OthersOf(work, [.. five]);
                if (_options.Fusion.Mode == "sum") others?.Get();
                timings.Embed += Lap(clock);
            }

            if (offset != 0)
            {
                var shift = new Vector2(offset, offset);
                for (var i = 0; i < p68.Length; i++) p68[i] -= shift;
                for (var i = 0; i < five.Length; i++) five[i] -= shift;
            }
            faces.Add(new FaceResult(d.Box.Offset(-offset, -offset), d.Score, p68, five, quality, live, embedding)
            {
                Others = others, TightCrop = offset != 0,
            });
        }
        if (steps != FaceSteps.Detect) PutOutOfFocusLast(faces, _options.FocusRatio);
        return faces;
    }

    /// <summary>How many faces are in focus: at least <paramref name="ratio"/> of the sharpest face's sharpness (0: all of them).</summary>
    public static int InFocus(IReadOnlyList<FaceResult> faces, float ratio)
    {
        if (faces.Count == 0) return 0;
        var sharpest = faces.Max(f => f.Quality.Sharpness);
        return faces.Count(f => f.Quality.Sharpness >= ratio * sharpest);
    }

    /// <summary>Moves the faces less sharp than <paramref name="ratio"/> of the sharpest to the end, each part keeping its order.</summary>
    public static void PutOutOfFocusLast(List<FaceResult> faces, float ratio)
    {
        if (ratio <= 0 || faces.Count < 2) return;
        var sharpest = 0f;
        foreach (var f in faces) sharpest = Math.Max(sharpest, f.Quality.Sharpness);
        for (int i = 0, seen = 0, count = faces.Count; seen < count; seen++)
        {
            if (faces[i].Quality.Sharpness >= ratio * sharpest)
            {
                i++;
                continue;
            }
            var blurred = faces[i];
            faces.RemoveAt(i);
            faces.Add(blurred);
        }
    }

    private OtherEmbeddings OthersOf(RgbImage work, Vector2[] five) => new(() =>
    {
        lock (_gate) return [.. _others.Select(e => e.Embed(work, five))];
    });

    /// <summary>
    /// Nothing found, an image no larger than a face crop, or a face that fills the frame and spills past its edges: an ID photo or
    /// a cropped data set. The detector boxes such faces badly (on Yale B a third of the boxes were an eye or a cheek), so pad and look again.
    /// </summary>
    private static bool MayBeTightCrop(List<Detection> detections, RgbImage image)
    {
        if (detections.Count == 0 || Math.Max(image.Width, image.Height) <= CropSizedImage) return true;
        var b = detections.MaxBy(d => d.Box.Area).Box;
        var spill = Math.Max(Math.Max(-b.X1, -b.Y1), Math.Max(b.X2 - image.Width, b.Y2 - image.Height));
        return b.Area > 0.4f * image.Width * image.Height && spill > 0.02f * Math.Max(b.Width, b.Height);
    }

    /// <summary>Longest side at or below which an image is taken for a crop rather than a camera frame.</summary>
    private const int CropSizedImage = 400;

    private static double Lap(Stopwatch clock)
    {
        var ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        return ms;
    }

    public void Dispose()
    {
        _detector.Dispose();
        _landmarker.Dispose();
        _embedder.Dispose();
        _liveness.Dispose();
        _livenessFusion?.Dispose();
        foreach (var e in _others) e.Dispose();
    }
}
