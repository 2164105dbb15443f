using System.Numerics;
using EchoFace.Media;

namespace EchoFace.Face;

/// <summary>How usable a face is for recognition: size, sharpness and head pose, all from the landmarks and the aligned crop.</summary>
public readonly record struct FaceQuality(float EyeDistance, float Sharpness, float Yaw, float Pitch, float Roll, float Score);

public sealed class QualityOptions
{
    /// <summary>Minimum distance between the eye centres, in source pixels.</summary>
    public float MinEyeDistance { get; set; } = 18;
    /// <summary>Minimum variance of the Laplacian of the aligned 112x112 grey crop.</summary>
    public float MinSharpness { get; set; } = 20;
    public float MaxYaw { get; set; } = 45;
    public float MaxPitch { get; set; } = 40;
    /// <summary>Minimum combined score to enrol a face.</summary>
    public float MinEnrolScore { get; set; } = 0.3f;

    public void Validate()
    {
        if (MinEyeDistance < 0) throw new ArgumentException($"Quality.MinEyeDistance must be >= 0, not {MinEyeDistance}");
        if (MaxYaw is <= 0 or > 90 || MaxPitch is <= 0 or > 90) throw new ArgumentException("Quality.MaxYaw and MaxPitch are degrees in (0, 90]");
        if (MinEnrolScore is < 0 or > 1) throw new ArgumentException($"Quality.MinEnrolScore must be in [0, 1], not {MinEnrolScore}");
    }
}

public static class FaceQualityMeter
{
    public static FaceQuality Measure(ReadOnlySpan<Vector2> p68, ReadOnlySpan<Vector2> five, RgbImage aligned, QualityOptions options) =>
        Measure(p68, five, LaplacianVariance(aligned), options);

    /// <summary>Quality with the sharpness already measured (the pipeline reads it off the embedder's input).</summary>
    public static FaceQuality Measure(ReadOnlySpan<Vector2> p68, ReadOnlySpan<Vector2> five, float sharpness, QualityOptions options)
    {
        var eyeL = five[0]; var eyeR = five[1];
        var eyeDistance = Vector2.Distance(eyeL, eyeR);
        var roll = MathF.Atan2(eyeR.Y - eyeL.Y, eyeR.X - eyeL.X) * 180 / MathF.PI;
        // yaw: where the nose tip sits between the jaw ends, in the de-rolled frame
        var rot = -roll * MathF.PI / 180;
        float Rx(Vector2 p) => p.X * MathF.Cos(rot) - p.Y * MathF.Sin(rot);
        float Ry(Vector2 p) => p.X * MathF.Sin(rot) + p.Y * MathF.Cos(rot);
        float left = Rx(p68[30]) - Rx(p68[0]), right = Rx(p68[16]) - Rx(p68[30]);
        var yaw = left + right > 1e-3f ? MathF.Asin(Math.Clamp((left - right) / (left + right), -1, 1)) * 180 / MathF.PI : 90;
        // pitch: the nose tip's height between the eye line and the mouth line; 0.49 on the frontal ArcFace template
        float eyesY = (Ry(eyeL) + Ry(eyeR)) / 2, mouthY = (Ry(five[3]) + Ry(five[4])) / 2;
        var t = mouthY - eyesY > 1e-3f ? (Ry(five[2]) - eyesY) / (mouthY - eyesY) : 0.49f;
        var pitch = Math.Clamp((t - 0.49f) * 150, -90, 90);

        float Ramp(float v, float bad, float good) => Math.Clamp((v - bad) / (good - bad), 0, 1);
        var score = Ramp(eyeDistance, options.MinEyeDistance * 0.5f, options.MinEyeDistance * 2)
                    * Ramp(sharpness, options.MinSharpness * 0.5f, options.MinSharpness * 3)
                    * Ramp(-MathF.Abs(yaw), -options.MaxYaw, -options.MaxYaw / 3)
                    * Ramp(-MathF.Abs(pitch), -options.MaxPitch, -options.MaxPitch / 3);
        return new FaceQuality(eyeDistance, sharpness, yaw, pitch, roll, score);
    }

    /// <summary>Variance of the 4-neighbour Laplacian on the aligned crop's luma: low means blurred.</summary>
    public static float LaplacianVariance(RgbImage image) => LaplacianVariance(Luma(image), image.Width, image.Height);

    /// <summary>The same with the luma written into <paramref name="grey"/> (Width x Height, reused by the caller).</summary>
    public static float LaplacianVariance(RgbImage image, Span<float> grey)
    {
        Luma(image, grey);
        return LaplacianVariance(grey, image.Width, image.Height);
    }

    /// <summary>BT.601 luma of each pixel.</summary>
    public static float[] Luma(RgbImage image)
    {
        var grey = new float[image.Width * image.Height];
        Luma(image, grey);
        return grey;
    }

    public static void Luma(RgbImage image, Span<float> grey)
    {
        for (var i = 0; i < image.Width * image.Height; i++)
            grey[i] = 0.299f * image.Data[3 * i] + 0.587f * image.Data[3 * i + 1] + 0.114f * image.Data[3 * i + 2];
    }

    public static float LaplacianVariance(ReadOnlySpan<float> grey, int w, int h)
    {
        double sum = 0, sq = 0; var n = 0;
        for (var y = 1; y < h - 1; y++)
            for (var x = 1; x < w - 1; x++)
            {
                var i = y * w + x;
                double l = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * grey[i];
                sum += l; sq += l * l; n++;
            }
        var mean = sum / n;
        return (float)(sq / n - mean * mean);
    }
}
