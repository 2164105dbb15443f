using EchoFace.Face;
using EchoFace.Recognition;

namespace EchoFace.Tests.Recognition;

/// <summary>Which frames of a clip become templates: poses first, then quality, apart in time, and only the clip's own person.</summary>
[Trait("Category", "Unit")]
public class VideoEnrolmentTests
{
    private static (double, FaceResult) Frame(double seconds, float yaw, float quality, int person = 0)
    {
        var embedding = new float[8];
        embedding[person] = 1;
        embedding[7] = seconds % 1 == 0 ? 0.05f : 0.1f; // frames of one person alike, not identical
        return (seconds, new FaceResult(new BoxF(0, 0, 100, 100), 1, [], [], new FaceQuality(40, 100, yaw, 0, 0, quality), null, embedding));
    }

    [Fact]
    public void The_best_frontal_left_and_right_come_first_then_the_best_of_the_rest_apart_in_time()
    {
        List<(double, FaceResult)> frames =
        [
            Frame(0.0, 0, 0.90f), Frame(0.2, 1, 0.95f), Frame(0.4, 2, 0.94f), Frame(1.0, -20, 0.70f), Frame(1.2, -25, 0.75f),
            Frame(2.0, 18, 0.60f), Frame(3.0, 3, 0.85f), Frame(4.0, -1, 0.80f),
        ];
        var chosen = VideoEnrolment.Choose(frames, new VideoEnrolOptions { Frames = 5, MinGapSeconds = 0.5 }, 0.5f, out var other);
        Assert.Equal(0, other);
        // 0.2 s is the best frontal; 0.0 and 0.4 are too close to it; 1.2 s the best left, 2.0 s the only right, then 3.0 and 4.0
        Assert.Equal([0.2, 1.2, 2.0, 3.0, 4.0], chosen.Select(c => c.Seconds));
        Assert.Equal(["frontal", "left", "right", "frontal", "frontal"], chosen.Select(c => c.Pose));
    }

    [Fact]
    public void Someone_else_passing_through_the_clip_is_left_out_even_in_sharper_frames()
    {
        List<(double, FaceResult)> frames =
        [
            Frame(0, 0, 0.80f), Frame(1, 0, 0.82f), Frame(2, 0, 0.81f), Frame(3, 0, 0.99f, person: 1), Frame(4, 0, 0.98f, person: 1),
        ];
        var chosen = VideoEnrolment.Choose(frames, new VideoEnrolOptions { Frames = 5 }, 0.5f, out var other);
        Assert.Equal(2, other);
        Assert.Equal([0.0, 1.0, 2.0], chosen.Select(c => c.Seconds));
        Assert.Empty(VideoEnrolment.Choose([], new VideoEnrolOptions(), 0.5f, out _));
    }

    [Fact]
    public void Out_of_range_options_are_refused_naming_them()
    {
        Assert.Contains("--frames", Assert.Throws<BadInputException>(() => new VideoEnrolOptions { Frames = 0 }.Validate()).Message);
        Assert.Throws<BadInputException>(() => new VideoEnrolOptions { Fps = 0 }.Validate());
    }
}
