namespace EchoFace.Media;

/// <summary>An 8-bit RGB image, rows packed (stride = 3 * width). The one pixel type every face stage reads.</summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Data { get; }

    public RgbImage(int width, int height, byte[]? data = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} is empty");
        Width = width;
        Height = height;
        Data = data ?? new byte[width * height * 3];
        if (Data.Length < width * height * 3) throw new ArgumentException($"pixel buffer holds {Data.Length} bytes, a {width}x{height} RGB image needs {width * height * 3}");
    }

    /// <summary>A copy with a uniform border on every side (a tight crop gives the detector the context it was trained with).</summary>
    public RgbImage Pad(int border, byte grey = 127)
    {
        var padded = new RgbImage(Width + 2 * border, Height + 2 * border);
        padded.Data.AsSpan().Fill(grey);
        for (var y = 0; y < Height; y++)
            Data.AsSpan(y * Width * 3, Width * 3).CopyTo(padded.Data.AsSpan(((y + border) * padded.Width + border) * 3));
        return padded;
    }

    /// <summary>Luma (BT.601) of one pixel, bilinear between pixels; coordinates outside clamp to the edge.</summary>
    public float GreyAt(float x, float y)
    {
        Sample(x, y, out var r, out var g, out var b);
        return 0.299f * r + 0.587f * g + 0.114f * b;
    }

    /// <summary>Bilinear sample with edge clamping.</summary>
    public void Sample(float x, float y, out float r, out float g, out float b)
    {
        x = Math.Clamp(x, 0, Width - 1);
        y = Math.Clamp(y, 0, Height - 1);
        var x0 = (int)x; var y0 = (int)y;
        var x1 = Math.Min(x0 + 1, Width - 1); var y1 = Math.Min(y0 + 1, Height - 1);
        float fx = x - x0, fy = y - y0;
        var d = Data;
        int i00 = (y0 * Width + x0) * 3, i01 = (y0 * Width + x1) * 3, i10 = (y1 * Width + x0) * 3, i11 = (y1 * Width + x1) * 3;
        float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        r = d[i00] * w00 + d[i01] * w01 + d[i10] * w10 + d[i11] * w11;
        g = d[i00 + 1] * w00 + d[i01 + 1] * w01 + d[i10 + 1] * w10 + d[i11 + 1] * w11;
        b = d[i00 + 2] * w00 + d[i01 + 2] * w01 + d[i10 + 2] * w10 + d[i11 + 2] * w11;
    }

    /// <summary>Wraps packed BGR (ffmpeg's bgr24) as RGB, in place of a copy the caller no longer needs.</summary>
    public static RgbImage FromBgr(int width, int height, byte[] bgr)
    {
        var image = new RgbImage(width, height, bgr);
        var d = image.Data;
        for (var i = 0; i < width * height * 3; i += 3) (d[i], d[i + 2]) = (d[i + 2], d[i]);
        return image;
    }
}
