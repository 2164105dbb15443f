using EchoFace.Media;

namespace EchoFace.Face;

public enum ChannelOrder { Rgb, Bgr }

/// <summary>Fills model input tensors straight from an image through an affine map (crop, resize and alignment in one pass, no intermediate bitmaps).</summary>
public static class ImageSampler
{
    /// <summary>
    /// Writes a planar (CHW) w x h tensor: out = pixel * mul + add, sampling the source at gridToSource(x + 0.5, y + 0.5) - 0.5.
    /// When one output pixel covers several source pixels, n x n bilinear samples are averaged so large images do not alias.
    /// </summary>
    public static void WarpChw(RgbImage src, in Affine2 gridToSource, int w, int h, Span<float> chw, float mul, float add, ChannelOrder order = ChannelOrder.Rgb)
    {
        if (chw.Length < 3 * w * h) throw new ArgumentException("tensor buffer too small");
        var n = Supersampling(gridToSource);
        var plane = w * h;
        int ri = order == ChannelOrder.Rgb ? 0 : 2, bi = 2 - ri;
        var inv = 1f / (n * n);
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
        {
            float r = 0, g = 0, b = 0;
            for (var sy = 0; sy < n; sy++)
            for (var sx = 0; sx < n; sx++)
            {
                float gx = x + (sx + 0.5f) / n, gy = y + (sy + 0.5f) / n;
                src.Sample(gridToSource.A * gx + gridToSource.B * gy + gridToSource.Tx - 0.5f,
                           gridToSource.C * gx + gridToSource.D * gy + gridToSource.Ty - 0.5f, out var pr, out var pg, out var pb);
                r += pr; g += pg; b += pb;
            }
            var o = y * w + x;
            chw[ri * plane + o] = r * inv * mul + add;
            chw[plane + o] = g * inv * mul + add;
            chw[bi * plane + o] = b * inv * mul + add;
        }
    }

    /// <summary>Writes a single-channel w x h luma plane (BT.601), out = grey * mul + add.</summary>
    public static void WarpGrey(RgbImage src, in Affine2 gridToSource, int w, int h, Span<float> plane, float mul, float add)
    {
        var n = Supersampling(gridToSource);
        var inv = 1f / (n * n);
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
        {
            float v = 0;
            for (var sy = 0; sy < n; sy++)
            for (var sx = 0; sx < n; sx++)
            {
                float gx = x + (sx + 0.5f) / n, gy = y + (sy + 0.5f) / n;
                v += src.GreyAt(gridToSource.A * gx + gridToSource.B * gy + gridToSource.Tx - 0.5f,
                                gridToSource.C * gx + gridToSource.D * gy + gridToSource.Ty - 0.5f);
            }
            plane[y * w + x] = v * inv * mul + add;
        }
    }

    /// <summary>Renders an RGB image of the warped region (for annotated crops and contact sheets).</summary>
    public static RgbImage WarpImage(RgbImage src, in Affine2 gridToSource, int w, int h)
    {
        var chw = new float[3 * w * h];
        WarpChw(src, gridToSource, w, h, chw, 1, 0);
        var image = new RgbImage(w, h);
        for (var i = 0; i < w * h; i++)
        for (var c = 0; c < 3; c++)
            image.Data[i * 3 + c] = (byte)Math.Clamp(MathF.Round(chw[c * w * h + i]), 0, 255);
        return image;
    }

    private static int Supersampling(in Affine2 m)
    {
        var scale = MathF.Sqrt(MathF.Abs(m.A * m.D - m.B * m.C));
        return Math.Clamp((int)MathF.Ceiling(scale / 1.5f), 1, 4);
    }
}
