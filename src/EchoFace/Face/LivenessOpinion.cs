using System.Globalization;
using EchoFace.Inference;
using EchoFace.Media;

namespace EchoFace.Face;

/// <summary>One opinion on whether a face is live: a liveness model's probability or a screen cue's measure.</summary>
public interface ILivenessOpinion : IDisposable
{
    /// <summary>The spec it was made from (<see cref="LivenessOpinions.Create"/>): how reports and the fusion weights name it.</summary>
    string Name { get; }
    /// <param name="tightCrop">the image is a face crop (found through Face.PadOnMiss), not a camera frame with context around the face</param>
    float Score(RgbImage image, in BoxF box, bool tightCrop = false);
}

/// <summary>Makes opinions from their specs and turns their scores into what fusion weighs.</summary>
public static class LivenessOpinions
{
    public const float Limit = 1e-4f;

    /// <summary>
    /// "screen:KIND" (<see cref="ScreenCue.Kinds"/>) or a liveness model's manifest id with optional changes to its manifest crop, for
    /// measuring them: "MODEL[:rgb|:bgr][:scale=S][:fit=clamp|shift|pad][:square]".
    /// </summary>
    public static ILivenessOpinion Create(string spec, Func<string, ModelSession> load)
    {
        if (spec.StartsWith(ScreenCue.Prefix, StringComparison.Ordinal)) return new ScreenCue(spec[ScreenCue.Prefix.Length..]) { Name = spec };
        var parts = spec.Split(':');
        var changes = new List<Action<LivenessScorer>>();
        // every change is read before the model loads: a wrong spec in the configuration fails at once, naming itself
        foreach (var part in parts.Skip(1))
        {
            var (key, value) = part.IndexOf('=') is var i and >= 0 ? (part[..i], part[(i + 1)..]) : (part, "");
            changes.Add(key switch
            {
                "rgb" => x => x.Channels = ChannelOrder.Rgb,
                "bgr" => x => x.Channels = ChannelOrder.Bgr,
                "square" => x => x.Square = true,
                "scale" when float.TryParse(value, CultureInfo.InvariantCulture, out var s) && s is >= 0.5f and <= 6 => x => x.CropScale = s,
                "fit" when LivenessCropSpec.Fits.Contains(value) => x => x.Fit = value,
                "tight" when LivenessCropSpec.Fits.Contains(value) => x => x.TightCropFit = value,
                _ => throw new ArgumentException($"liveness opinion '{spec}': '{part}' is not rgb, bgr, square, scale=0.5..6, fit=FIT or tight=FIT " +
                                                 $"(FIT: {string.Join("|", LivenessCropSpec.Fits)})"),
            });
        }
        var scorer = new LivenessScorer(load(ModelOf(spec)!)) { Name = spec };
        foreach (var change in changes) change(scorer);
        return scorer;
    }

    /// <summary>The manifest id of the model an opinion spec runs, or null for a screen cue (which runs none).</summary>
    public static string? ModelOf(string spec) => spec.StartsWith(ScreenCue.Prefix, StringComparison.Ordinal) ? null : spec.Split(':')[0];

    /// <summary>
    /// What fusion weighs: a model's log-odds (held off 0 and 1, so one saturated model cannot outvote the rest without bound), a cue's value.
    /// </summary>
    public static float Feature(string name, float score)
    {
        if (name.StartsWith(ScreenCue.Prefix, StringComparison.Ordinal)) return score;
        var q = Math.Clamp(score, Limit, 1 - Limit);
        return MathF.Log(q / (1 - q));
    }

    public static float Sigmoid(float z) => 1 / (1 + MathF.Exp(-z));
}
