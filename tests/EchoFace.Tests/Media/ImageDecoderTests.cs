using EchoFace.Media;

namespace EchoFace.Tests.Media;

[Trait("Category", "Integration")]
public class ImageDecoderTests
{
    private static string Photo => TestEnvironment.Data("faces", "photos", "fr_obama", "tests_test_images_obama3.jpg");

    [Fact]
    public void Decodes_jpeg_png_bmp_and_pgm()
    {
        var jpeg = ImageDecoder.DecodeFile(Photo);
        Assert.True(jpeg.Width > 100 && jpeg.Height > 100);
        var png = Directory.GetFiles(TestEnvironment.Data("faces", "photos"), "*.png", SearchOption.AllDirectories).First();
        Assert.True(ImageDecoder.DecodeFile(png).Width > 0);
        var pgm = ImageDecoder.DecodeFile(TestEnvironment.Data("faces", "yaleb", "yb_yaleB01", "yaleB01_P00A+000E+00.pgm"));
        Assert.Equal((168, 192), (pgm.Width, pgm.Height));
        Assert.Equal(pgm.Data[0], pgm.Data[1]); // grey: R = G = B

        using var bitmap = ImageEncoder.ToBitmap(pgm);
        var dir = TestEnvironment.TempDirectory();
        using (var skImage = SkiaSharp.SKImage.FromBitmap(bitmap))
        using (var data = skImage.Encode(SkiaSharp.SKEncodedImageFormat.Bmp, 100))
            File.WriteAllBytes(Path.Combine(dir, "x.bmp"), data?.ToArray() ?? BmpFallback(pgm));
        var bmp = ImageDecoder.DecodeFile(Path.Combine(dir, "x.bmp"));
        Assert.Equal(pgm.Data, bmp.Data);
    }

    /// <summary>Skia cannot encode BMP on every build: write an uncompressed 24-bit one by hand.</summary>
    private static byte[] BmpFallback(RgbImage image)
    {
        var stride = (image.Width * 3 + 3) / 4 * 4;
        var size = 54 + stride * image.Height;
        var b = new byte[size];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BitConverter.GetBytes(size).CopyTo(b, 2);
        BitConverter.GetBytes(54).CopyTo(b, 10);
        BitConverter.GetBytes(40).CopyTo(b, 14);
        BitConverter.GetBytes(image.Width).CopyTo(b, 18);
        BitConverter.GetBytes(image.Height).CopyTo(b, 22);
        BitConverter.GetBytes((short)1).CopyTo(b, 26);
        BitConverter.GetBytes((short)24).CopyTo(b, 28);
        for (var y = 0; y < image.Height; y++)
            for (var x = 0; x < image.Width; x++)
            {
                var s = (y * image.Width + x) * 3;
                var d = 54 + (image.Height - 1 - y) * stride + x * 3;
                b[d] = image.Data[s + 2]; b[d + 1] = image.Data[s + 1]; b[d + 2] = image.Data[s];
            }
        return b;
    }

    [Fact]
    public void Exif_orientation_is_applied()
    {
        // stored 640x480 with orientation 6 (rotate 90 degrees clockwise to display)
        var image = ImageDecoder.DecodeFile(TestEnvironment.Data("faces", "spoof-samples", "live", "image_T1.jpg"));
        Assert.Equal((480, 640), (image.Width, image.Height));
    }

    [Fact]
    public void Orientation_transforms_map_pixels_where_the_tag_says()
    {
        var src = new RgbImage(2, 1, [1, 1, 1, 2, 2, 2]); // left pixel 1, right pixel 2
        var rotated = ImageDecoder.ApplyOrientation(src, SkiaSharp.SKEncodedOrigin.RightTop); // 90 degrees clockwise
        Assert.Equal((1, 2), (rotated.Width, rotated.Height));
        Assert.Equal(1, rotated.Data[0]); // the left pixel is now on top
        Assert.Equal(2, rotated.Data[3]);
        var mirrored = ImageDecoder.ApplyOrientation(src, SkiaSharp.SKEncodedOrigin.TopRight);
        Assert.Equal(2, mirrored.Data[0]);
    }

    [Fact]
    public void A_truncated_jpeg_is_refused_as_truncated()
    {
        var bytes = File.ReadAllBytes(Photo);
        var e = Assert.Throws<BadInputException>(() => ImageDecoder.Decode(bytes[..(bytes.Length / 3)], "cut.jpg"));
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello, this is a text file and not a picture")]
    public void Empty_and_non_image_files_are_refused_by_name(string content)
    {
        var path = Path.Combine(TestEnvironment.TempDirectory(), "notes.jpg");
        File.WriteAllText(path, content);
        var e = Assert.Throws<BadInputException>(() => ImageDecoder.DecodeFile(path));
        Assert.Contains("notes.jpg", e.Message);
    }

    [Fact]
    public void Missing_files_and_folders_are_refused() =>
        Assert.Contains("not found", Assert.Throws<BadInputException>(() => ImageDecoder.DecodeFile("/nonexistent/face.jpg")).Message);

    [Fact]
    public void Size_and_pixel_limits_are_enforced_before_decoding()
    {
        var bytes = Assert.Throws<BadInputException>(() => ImageDecoder.DecodeFile(Photo, new ImageLimits { MaxBytes = 1000 }));
        Assert.Contains("over the image size limit", bytes.Message);
        var pixels = Assert.Throws<BadInputException>(() => ImageDecoder.DecodeFile(Photo, new ImageLimits { MaxPixels = 10_000 }));
        Assert.Contains("over the pixel limit", pixels.Message);
    }

    [Fact]
    public void A_pgm_whose_pixels_end_early_is_refused()
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes("P5\n100 100\n255\n").Concat(new byte[50]).ToArray();
        Assert.Contains("truncated", Assert.Throws<BadInputException>(() => ImageDecoder.Decode(bytes, "short.pgm")).Message);
    }
}
