using SkiaSharp;

namespace EchoFace.Media;

public sealed class ImageLimits
{
    /// <summary>Largest encoded file accepted, in bytes.</summary>
    public long MaxBytes { get; set; } = 25 * 1024 * 1024;
    /// <summary>Largest decoded image accepted, in pixels (guards against decompression bombs).</summary>
    public long MaxPixels { get; set; } = 40_000_000;
}

/// <summary>Decodes JPEG, PNG, BMP, WebP (SkiaSharp) and PGM/PPM (own parser: Skia has none) into RGB, with EXIF orientation applied.</summary>
public static class ImageDecoder
{
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp"];

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    public static RgbImage DecodeFile(string path, ImageLimits? limits = null)
    {
        limits ??= new ImageLimits();
        if (Directory.Exists(path)) throw new BadInputException($"{path} is a folder, not an image");
        if (!File.Exists(path)) throw new BadInputException($"image not found: {path}");
        var length = new FileInfo(path).Length;
        if (length > limits.MaxBytes)
            throw new BadInputException($"{path} is {length / 1024 / 1024.0:F1} MiB, over the image size limit of {limits.MaxBytes / 1024 / 1024.0:F1} MiB (Media.MaxImageBytes)");
        return Decode(File.ReadAllBytes(path), path, limits);
    }

    public static string? SniffFormat(ReadOnlySpan<byte> b) =>
        b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF ? "jpeg"
        : b.Length >= 8 && b[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? "png"
        : b.Length >= 2 && b[0] == 'B' && b[1] == 'M' ? "bmp"
        : b.Length >= 12 && b[..4].SequenceEqual("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8) ? "webp"
        : b.Length >= 2 && b[0] == 'P' && b[1] is (byte)'2' or (byte)'5' or (byte)'3' or (byte)'6' ? "pnm"
        : null;

    public static RgbImage Decode(byte[] bytes, string name, ImageLimits? limits = null)
    {
        limits ??= new ImageLimits();
        if (bytes.Length == 0) throw new BadInputException($"{name} is empty (0 bytes)");
        if (bytes.Length > limits.MaxBytes) throw new BadInputException($"{name} is {bytes.Length} bytes, over the image size limit of {limits.MaxBytes}", BadInputKind.TooLarge);
        var format = SniffFormat(bytes) ?? throw new BadInputException($"{name} is not an image EchoFace reads (JPEG, PNG, BMP, WebP, PGM/PPM): its first bytes match none of them", BadInputKind.Unsupported);
        return format == "pnm" ? PnmDecoder.Decode(bytes, name, limits) : DecodeWithSkia(bytes, name, format, limits);
    }

    private static RgbImage DecodeWithSkia(byte[] bytes, string name, string format, ImageLimits limits)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new BadInputException($"{name} looks like {format} but cannot be decoded: the file is corrupt");
        var info = codec.Info;
        if ((long)info.Width * info.Height > limits.MaxPixels)
            throw new BadInputException($"{name} is {info.Width}x{info.Height}, over the pixel limit of {limits.MaxPixels} (Media.MaxPixels)", BadInputKind.TooLarge);
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(target);
        var result = codec.GetPixels(target, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success))
            throw new BadInputException(result == SKCodecResult.IncompleteInput
                ? $"{name} is truncated: the {format} data ends before the image does"
                : $"{name} cannot be decoded as {format}: {result}");
        var rgba = bitmap.GetPixelSpan();
        var image = new RgbImage(info.Width, info.Height);
        var rgb = image.Data;
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
        }
        return ApplyOrientation(image, codec.EncodedOrigin);
    }

    /// <summary>Turns the stored pixels the way the EXIF orientation tag says the camera was held.</summary>
    public static RgbImage ApplyOrientation(RgbImage src, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft) return src;
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int w = swap ? src.Height : src.Width, h = swap ? src.Width : src.Height;
        var dst = new RgbImage(w, h);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                // (sx, sy): where displayed pixel (x, y) is stored
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (src.Width - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (src.Width - 1 - x, src.Height - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, src.Height - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, src.Height - 1 - x),
                    SKEncodedOrigin.RightBottom => (src.Width - 1 - y, src.Height - 1 - x),
                    SKEncodedOrigin.LeftBottom => (src.Width - 1 - y, x),
                    _ => (x, y),
                };
                Buffer.BlockCopy(src.Data, (sy * src.Width + sx) * 3, dst.Data, (y * w + x) * 3, 3);
            }
        return dst;
    }
}
