using System.Globalization;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Tests.Face;

/// <summary>
/// Head-turn frames for the liveness challenge, made from the shared photos: one person's photos at different yaws framed alike
/// (the face centred at the same size, as one camera would see them), and a frontal one shown as a flat print turned in front of
/// the camera (ffmpeg's perspective filter, a pinhole camera looking at a rotated plane).
/// </summary>
public static class HeadTurnFrames
{
    /// <summary>The photo warped onto a 640x480 frame with its largest face's box centred and 220 pixels high.</summary>
    public static string Framed(FacePipeline pipeline, string photo, string output)
    {
        var image = ImageDecoder.DecodeFile(photo);
        var face = pipeline.Analyze(image, FaceSteps.Detect, out _)[0];
        var scale = face.Box.Height / 220f;
        var c = face.Box.Center;
        var frame = ImageSampler.WarpImage(image, new Affine2(scale, 0, 0, scale, c.X - 320 * scale, c.Y - 240 * scale), 640, 480);
        using var bitmap = ImageEncoder.ToBitmap(frame);
        ImageEncoder.Save(bitmap, output);
        return output;
    }

    /// <summary>
    /// The frame as a flat print turned by <paramref name="degrees"/> about its vertical axis, seen from <paramref name="distance"/>
    /// print widths away (1.2: held close to the lens; perspective is strongest there).
    /// </summary>
    public static string TurnedPrint(string framed, double degrees, double distance, string output)
    {
        const double w = 640, h = 480;
        var t = degrees * Math.PI / 180;
        var f = distance * w;
        var corners = new List<string>();
        foreach (var (x, y) in new[] { (0.0, 0.0), (w, 0), (0, h), (w, h) })
        {
            double X = x - w / 2, Y = y - h / 2, z = f + X * Math.Sin(t);
            corners.Add((f * X * Math.Cos(t) / z + w / 2).ToString("F1", CultureInfo.InvariantCulture));
            corners.Add((f * Y / z + h / 2).ToString("F1", CultureInfo.InvariantCulture));
        }
        return TestEnvironment.Ffmpeg(output, "-v", "error", "-i", framed, "-vf", $"perspective={string.Join(':', corners)}:sense=destination:interpolation=cubic");
    }
}

/// <summary>What the challenge's turn threshold rests on, measured with the real models: real turned heads vs turned prints.</summary>
[Trait("Category", "Slow")]
public class HeadTurnTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>
{
    private readonly string _dir = TestEnvironment.TempDirectory();

    private float Yaw(string path) => fixture.Pipeline.Analyze(ImageDecoder.DecodeFile(path))[0].Quality.Yaw;

    private string Framed(string identity, string file) =>
        HeadTurnFrames.Framed(fixture.Pipeline, TestEnvironment.Data("faces", "photos", identity, file), Path.Combine(_dir, $"{identity}-{file}.png"));

    [Theory]
    [InlineData("df_jack_dorsey", "img17.jpg", "img16.jpg", "img61.jpg")]
    [InlineData("fr_obama", "examples_knn_examples_train_obama_obama.jpg", "examples_knn_examples_test_obama1.jpg", "examples_knn_examples_train_obama_obama2.jpg")]
    public void A_real_head_turn_reads_beyond_the_turn_threshold_and_a_turned_print_stays_well_below_it(string identity, string frontal, string left, string right)
    {
        const float threshold = 14; // Access.ChallengeTurnDegrees
        var front = Framed(identity, frontal);
        var straight = Yaw(front);
        var toLeft = Yaw(Framed(identity, left)) - straight;
        var toRight = Yaw(Framed(identity, right)) - straight;
        Assert.True(toLeft >= threshold + 3, $"{identity} turned to the left reads {toLeft:F1} degrees from frontal");
        Assert.True(toRight <= -threshold - 3, $"{identity} turned to the right reads {toRight:F1} degrees from frontal");

        var worst = 0f;
        foreach (var distance in new[] { 1.2, 2.5 })
            foreach (var degrees in new[] { -60, -45, -30, -15, 15, 30, 45, 60 })
            {
                var print = HeadTurnFrames.TurnedPrint(front, degrees, distance, Path.Combine(_dir, $"{identity}-print{degrees}-{distance}.png"));
                var delta = Yaw(print) - straight;
                if (MathF.Abs(delta) > MathF.Abs(worst)) worst = delta;
            }
        Assert.True(MathF.Abs(worst) <= threshold - 4, $"a print of {identity} turned up to 60 degrees reads {worst:F1} degrees");
    }
}
