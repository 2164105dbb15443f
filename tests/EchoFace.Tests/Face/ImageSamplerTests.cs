using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Tests.Face;

[Trait("Category", "Unit")]
public class ImageSamplerTests
{
    /// <summary>
    /// The one-tap path (the detector's input on every frame) skips per-tap bounds checks inside the image: it must give the very
    /// floats the checked bilinear sampler gives, edges and outside included.
    /// </summary>
    [Theory]
    [InlineData(0f, 0f, 320, 240)]       // 640x480 -> 320x240, the detector's map
    [InlineData(-40.3f, 17.7f, 112, 112)] // a crop hanging off the top-left corner
    [InlineData(600.5f, 450.25f, 64, 64)] // off the bottom-right
    public void The_fast_bilinear_path_equals_the_checked_one(float x1, float y1, int w, int h)
    {
        var random = new Random(7);
        var image = new RgbImage(640, 480);
        random.NextBytes(image.Data);
        var box = new BoxF(x1, y1, x1 + 1.9f * w, y1 + 1.7f * h); // under 2x: one tap per pixel
        var map = Affine2.BoxToGrid(box, w, h);
        var fast = new float[3 * w * h];
        ImageSampler.WarpChw(image, map, w, h, fast, 1f / 128, -127f / 128);
        var plane = w * h;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                float gx = x + 0.5f, gy = y + 0.5f;
                var (r, g, b) = Checked(image, map.A * gx + map.B * gy + map.Tx - 0.5f, map.C * gx + map.D * gy + map.Ty - 0.5f);
                var o = y * w + x;
                Assert.Equal(r * (1f / 128) + -127f / 128, fast[o]);
                Assert.Equal(g * (1f / 128) + -127f / 128, fast[plane + o]);
                Assert.Equal(b * (1f / 128) + -127f / 128, fast[2 * plane + o]);
            }
    }

    /// <summary>Bilinear with every tap checked, taps outside the image reading as the border (0).</summary>
    private static (float R, float G, float B) Checked(RgbImage src, float x, float y)
    {
        float r = 0, g = 0, b = 0;
        if (x <= -1 || y <= -1 || x >= src.Width || y >= src.Height) return (0, 0, 0);
        var x0 = (int)MathF.Floor(x); var y0 = (int)MathF.Floor(y);
        float fx = x - x0, fy = y - y0;
        void Tap(int tx, int ty, float weight)
        {
            if (weight == 0 || (uint)tx >= (uint)src.Width || (uint)ty >= (uint)src.Height) return;
            var i = (ty * src.Width + tx) * 3;
            r += src.Data[i] * weight; g += src.Data[i + 1] * weight; b += src.Data[i + 2] * weight;
        }
        Tap(x0, y0, (1 - fx) * (1 - fy));
        Tap(x0 + 1, y0, fx * (1 - fy));
        Tap(x0, y0 + 1, (1 - fx) * fy);
        Tap(x0 + 1, y0 + 1, fx * fy);
        return (r, g, b);
    }
}
