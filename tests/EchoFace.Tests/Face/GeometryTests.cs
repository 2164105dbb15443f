using System.Numerics;
using EchoFace.Face;

namespace EchoFace.Tests.Face;

[Trait("Category", "Unit")]
public class GeometryTests
{
    [Fact]
    public void Similarity_recovers_a_known_rotation_scale_and_shift()
    {
        var angle = 0.3f; var scale = 1.7f;
        var truth = new Affine2(scale * MathF.Cos(angle), -scale * MathF.Sin(angle), scale * MathF.Sin(angle), scale * MathF.Cos(angle), 12, -5);
        var src = FaceEmbedder.Template;
        var dst = src.Select(truth.Apply).ToArray();
        var fit = Affine2.Similarity(src, dst);
        foreach (var p in src) Assert.True(Vector2.Distance(truth.Apply(p), fit.Apply(p)) < 1e-3f);
        var back = fit.Inverse();
        foreach (var p in src) Assert.True(Vector2.Distance(p, back.Apply(fit.Apply(p))) < 1e-3f);
    }

    [Fact]
    public void IoU_of_boxes()
    {
        var a = new BoxF(0, 0, 10, 10);
        Assert.Equal(1f, a.IoU(a));
        Assert.Equal(0f, a.IoU(new BoxF(20, 20, 30, 30)));
        Assert.Equal(25f / 175f, a.IoU(new BoxF(5, 5, 15, 15)), 5);
    }

    [Fact]
    public void Nms_keeps_the_best_of_overlapping_boxes_and_every_separate_one()
    {
        var kept = FaceDetector.NonMaximumSuppression(
        [
            new(new BoxF(0, 0, 10, 10), 0.8f), new(new BoxF(1, 1, 11, 11), 0.9f), new(new BoxF(50, 50, 60, 60), 0.75f),
        ], 0.3f);
        Assert.Equal(2, kept.Count);
        Assert.Equal(0.9f, kept[0].Score);
        Assert.Equal(0.75f, kept[1].Score);
    }

    [Fact]
    public void Affine_fit_recovers_a_shear_exactly_and_leaves_a_non_planar_move_as_residual()
    {
        var known = new Affine2(1.1f, 0.3f, -0.2f, 0.9f, 5, -7);
        Vector2[] src = [new(0, 0), new(10, 0), new(0, 10), new(7, 3), new(-4, 6)];
        var dst = src.Select(known.Apply).ToArray();
        var fit = Affine2.Fit(src, dst);
        foreach (var p in src) Assert.True(Vector2.Distance(known.Apply(p), fit.Apply(p)) < 1e-3f);
        dst[3] += new Vector2(2, 0); // one point moves on its own, as a nose does when a head turns
        fit = Affine2.Fit(src, dst);
        Assert.True(Vector2.Distance(dst[3], fit.Apply(src[3])) > 0.5f);
        Assert.Throws<InvalidOperationException>(() => Affine2.Fit([new(0, 0), new(1, 1), new(2, 2)], [new(0, 0), new(1, 1), new(2, 2)]));
    }
}
