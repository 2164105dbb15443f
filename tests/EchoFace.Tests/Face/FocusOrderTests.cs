using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Tests.Face;

/// <summary>The main face of a photo is the largest in focus: a larger bystander far out of focus comes after the subject.</summary>
[Trait("Category", "Unit")]
public class FocusOrderTests
{
    private static FaceResult Face(float side, float sharpness) =>
        new(new BoxF(0, 0, side, side), 1, [], [], new FaceQuality(side / 3, sharpness, 0, 0, 0, 1), null, null);

    [Fact]
    public void Faces_far_out_of_focus_move_last_and_each_part_keeps_its_size_order()
    {
        List<FaceResult> faces = [Face(400, 100), Face(300, 1500), Face(200, 90), Face(100, 800)];
        FacePipeline.PutOutOfFocusLast(faces, 0.25f);
        Assert.Equal([300f, 100f, 400f, 200f], faces.Select(f => f.Box.Width));
    }

    [Fact]
    public void Faces_alike_in_focus_and_ratio_zero_keep_largest_first()
    {
        List<FaceResult> faces = [Face(400, 1000), Face(300, 1500), Face(200, 400)];
        FacePipeline.PutOutOfFocusLast(faces, 0.25f);
        Assert.Equal([400f, 300f, 200f], faces.Select(f => f.Box.Width));
        List<FaceResult> blurred = [Face(400, 10), Face(300, 1500)];
        FacePipeline.PutOutOfFocusLast(blurred, 0);
        Assert.Equal([400f, 300f], blurred.Select(f => f.Box.Width));
    }
}

/// <summary>On a real photo: George Clooney in focus, a larger, blurred bystander's face behind him (docs/fusion.md).</summary>
[Trait("Category", "Integration")]
public class FocusOrderPhotoTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>
{
    [Fact]
    public void The_subject_in_focus_comes_before_a_larger_blurred_bystander()
    {
        var image = ImageDecoder.DecodeFile(Path.Combine(TestEnvironment.Data("faces", "photos"), "df_george_clooney", "img41.jpg"));
        var faces = fixture.Pipeline.Analyze(image, FaceSteps.Landmarks);
        Assert.Equal(2, faces.Count);
        Assert.True(faces[0].Box.Area < faces[1].Box.Area, "the bystander's box is the larger one, so size alone would pick it");
        Assert.True(faces[0].Quality.Sharpness > 4 * faces[1].Quality.Sharpness,
            $"sharpness {faces[0].Quality.Sharpness:F0} first, {faces[1].Quality.Sharpness:F0} second");
        using var sizeOnly = TestEnvironment.Pipeline(new FaceOptions { FocusRatio = 0 });
        Assert.Equal(faces[1].Box, sizeOnly.Analyze(image, FaceSteps.Landmarks)[0].Box);
    }
}
