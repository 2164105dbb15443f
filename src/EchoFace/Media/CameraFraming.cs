namespace EchoFace.Media;

/// <summary>
/// How a source of another shape becomes a W x H frame without black bars: liveness models read a face's surroundings, and a black
/// border there is what a phone's screen looks like (MiniFASNetV2 called letterboxed press photos spoofs, the same photos over a
/// blurred copy of themselves live; docs/liveness.md).
/// </summary>
public static class CameraFraming
{
    /// <summary>A camera: scaled to cover the frame and cropped about the centre, nothing made up (16:9 in a 4:3 frame loses its sides).</summary>
    public static string Cover(int w, int h) => $"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}";

    /// <summary>
    /// A file (a photo or a video of any shape, the simulated door): the whole picture, fitted, over a blurred copy of itself that
    /// covers the frame. One input, one output: usable as -vf or as one chain of a -filter_complex (with [in] and [out] labels added).
    /// </summary>
    public static string Fill(int w, int h) =>
        $"split[fill_bg][fill_fg];[fill_bg]{Cover(w, h)},boxblur=20[fill_blur];" +
        $"[fill_fg]scale={w}:{h}:force_original_aspect_ratio=decrease[fill_pic];" +
        "[fill_blur][fill_pic]overlay=(W-w)/2:(H-h)/2";
}
