using SkiaSharp;

namespace EchoFace.Media;

public static class ImageEncoder
{
    public static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = bitmap.GetPixelSpan();
        unsafe
        {
            var dst = new Span<byte>((void*)bitmap.GetPixels(), px.Length);
            for (int i = 0, j = 0; j < image.Width * image.Height * 3; i += 4, j += 3)
            {
                dst[i] = image.Data[j]; dst[i + 1] = image.Data[j + 1]; dst[i + 2] = image.Data[j + 2]; dst[i + 3] = 255;
            }
        }
        return bitmap;
    }

    /// <summary>Writes PNG or JPEG by extension, through a temporary file so a failed write leaves nothing half-written.</summary>
    public static void Save(SKBitmap bitmap, string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var format = ext switch
        {
            ".png" => SKEncodedImageFormat.Png,
            ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
            _ => throw new BadInputException($"cannot write {path}: use a .png or .jpg file name"),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Storage.AtomicFile.Write(path, Encode(bitmap, format));
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 92);
        return data.ToArray();
    }
}
