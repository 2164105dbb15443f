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

    /// <summary>A copy of the rectangle (clamped to the image; at least one pixel).</summary>
    public RgbImage Region(int x, int y, int width, int height)
    {
        x = Math.Clamp(x, 0, Width - 1);
        y = Math.Clamp(y, 0, Height - 1);
        width = Math.Clamp(width, 1, Width - x);
        height = Math.Clamp(height, 1, Height - y);
        var region = new RgbImage(width, height);
        for (var row = 0; row < height; row++)
            Data.AsSpan(((y + row) * Width + x) * 3, width * 3).CopyTo(region.Data.AsSpan(row * width * 3));
        return region;
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
