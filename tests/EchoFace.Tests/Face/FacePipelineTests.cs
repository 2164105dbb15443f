using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Tests.Face;

[Trait("Category", "Integration")]
public class FacePipelineTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>
{
    private readonly FacePipeline _pipeline = fixture.Pipeline;

    private static RgbImage Photo(string identity, string file) => ImageDecoder.DecodeFile(TestEnvironment.Data("faces", "photos", identity, file));

    [Fact]
    public void Finds_one_face_with_landmarks_inside_its_box_and_a_unit_embedding()
    {
        var faces = _pipeline.Analyze(Photo("fr_obama", "tests_test_images_obama3.jpg"));
        var face = Assert.Single(faces);
        Assert.True(face.DetectionScore >= 0.7f);
        Assert.Equal(68, face.Landmarks.Length);
        var box = face.Box.Scale(1.3f);
        Assert.All(face.Points5, p => Assert.True(p.X > box.X1 && p.X < box.X2 && p.Y > box.Y1 && p.Y < box.Y2, $"{p} outside {face.Box}"));
        Assert.True(face.Points5[0].X < face.Points5[1].X, "eyes in image order");
        Assert.True(face.Points5[3].Y > face.Points5[2].Y, "mouth below nose");
        Assert.Equal(512, face.Embedding!.Length);
        Assert.Equal(1f, TensorPrimitives.Norm(face.Embedding), 3);
        Assert.InRange(face.Liveness!.Value, 0f, 1f);
        Assert.True(face.Quality.Score > 0.3f, $"quality {face.Quality}");
    }

    [Fact]
    public void Finds_every_face_in_a_group_photo_largest_first()
    {
        var faces = _pipeline.Analyze(Photo("fr_biden", "examples_knn_examples_train_biden_biden2.jpg"));
        Assert.True(faces.Count >= 2, $"found {faces.Count}");
        Assert.True(faces[0].Box.Area >= faces[1].Box.Area);
    }

    [Fact]
    public void The_same_person_is_closer_than_a_stranger()
    {
        float[] E(string id, string f) => _pipeline.Analyze(Photo(id, f))[0].Embedding!;
        var a1 = E("df_angelina_jolie", "img1.jpg");
        var a2 = E("df_angelina_jolie", "img2.jpg");
        var other = E("df_jeff_bezos", Path.GetFileName(Directory.GetFiles(TestEnvironment.Data("faces", "photos", "df_jeff_bezos"))[0]));
        Assert.True(TensorPrimitives.Dot(a1, a2) > 0.4f, "genuine pair above the verify threshold");
        Assert.True(TensorPrimitives.Dot(a1, other) < 0.3f, "impostor pair well below it");
    }

    [Fact]
    public void A_tight_crop_is_padded_and_its_landmarks_land_on_the_face()
    {
        // Yale B: the face fills the 168x192 frame; on the bare frame the detector boxes an eye
        var image = ImageDecoder.DecodeFile(TestEnvironment.Data("faces", "yaleb", "yb_yaleB01", "yaleB01_P00A+000E-20.pgm"));
        var face = Assert.Single(_pipeline.Analyze(image));
        Assert.True(face.Box.Width > 120, $"box {face.Box} should cover the whole face");
        Assert.InRange(face.Points5[0].X, 20, 60);   // image-left eye near x=37
        Assert.InRange(face.Points5[1].X, 110, 150); // image-right eye near x=131
    }

    [Fact]
    public void An_image_without_a_face_yields_no_face()
    {
        var blank = new RgbImage(320, 240);
        Array.Fill(blank.Data, (byte)200);
        Assert.Empty(_pipeline.Analyze(blank));
    }

    [Fact]
    public void Exif_rotated_camera_frames_are_analysed_upright()
    {
        var faces = _pipeline.Analyze(ImageDecoder.DecodeFile(TestEnvironment.Data("faces", "spoof-samples", "live", "image_T1.jpg")));
        Assert.NotEmpty(faces);
        Assert.True(MathF.Abs(faces[0].Quality.Roll) < 30, $"roll {faces[0].Quality.Roll}");
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_setting_named() =>
        Assert.Contains("Face.DetectionThreshold", Assert.Throws<ArgumentException>(() => new FaceOptions { DetectionThreshold = 1.5f }.Validate()).Message);
}
