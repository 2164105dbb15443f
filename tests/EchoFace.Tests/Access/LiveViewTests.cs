using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Media;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.Access;

/// <summary>The console's live picture costs nothing while nobody watches: no copy, no labels, no drawing.</summary>
[Trait("Category", "Unit")]
public class LiveViewTests
{
    private static readonly FaceResult Face = new(new BoxF(10, 10, 50, 60), 0.9f, [], [], default, 0.9f, null);

    [Fact]
    public void Frames_are_copied_only_while_someone_asked_in_the_last_seconds()
    {
        var clock = new FakeTimeProvider();
        var live = new LiveView(clock);
        var frame = new RgbImage(64, 48);
        FaceLabel[] labels = [new FaceLabel(Face, "jolie granted", true)];

        Assert.False(live.Wanted); // the frame loop copies nothing
        Assert.Null(live.Picture()); // the first ask: nothing kept yet, copying starts
        Assert.True(live.Wanted);

        frame.Data.AsSpan().Fill(200);
        live.Offer(frame, labels, clock.GetUtcNow());
        frame.Data.AsSpan().Fill(0); // the camera reuses its buffer: the view kept a copy
        var (jpeg, at) = live.Picture()!.Value;
        Assert.Equal(clock.GetUtcNow(), at);
        Assert.Equal((64, 48), (ImageDecoder.Decode(jpeg, "live").Width, ImageDecoder.Decode(jpeg, "live").Height)); // no crop strip

        var decoded = ImageDecoder.Decode(jpeg, "live");
        Assert.InRange(decoded.Data[decoded.Data.Length / 2], 180, 220);

        // the viewer has gone: the frame loop stops offering, and the copy kept is dropped
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.False(live.Wanted);
        live.Idle();
        Assert.Null(live.Picture());
    }
}
