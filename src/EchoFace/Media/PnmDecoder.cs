using System.Text;

namespace EchoFace.Media;

/// <summary>Netpbm P2/P5 (grey) and P3/P6 (colour) reader, hand-written because SkiaSharp does not decode PGM (Yale B ships as PGM).</summary>
internal static class PnmDecoder
{
    public static RgbImage Decode(byte[] bytes, string name, ImageLimits limits)
    {
        var pos = 2;
        var kind = (char)bytes[1];
        int width = ReadInt(bytes, ref pos, name, "width"), height = ReadInt(bytes, ref pos, name, "height"), max = ReadInt(bytes, ref pos, name, "maximum value");
        if (width <= 0 || height <= 0 || max is <= 0 or > 65535) throw new BadInputException($"{name}: PNM header has an invalid size {width}x{height} or maximum {max}");
        if ((long)width * height > limits.MaxPixels) throw new BadInputException($"{name} is {width}x{height}, over the pixel limit of {limits.MaxPixels}", BadInputKind.TooLarge);
        var channels = kind is '2' or '5' ? 1 : 3;
        var count = width * height * channels;
        var image = new RgbImage(width, height);
        var samples = new int[count];
        if (kind is '5' or '6')
        {
            pos++; // exactly one whitespace byte follows the header
            var bytesPer = max > 255 ? 2 : 1;
            if (bytes.Length - pos < (long)count * bytesPer) throw new BadInputException($"{name} is truncated: the PNM header promises {width}x{height} but the pixel data ends early");
            for (var i = 0; i < count; i++)
                samples[i] = bytesPer == 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
        }
        else
        {
            for (var i = 0; i < count; i++) samples[i] = ReadInt(bytes, ref pos, name, "pixel");
        }
        var d = image.Data;
        for (var p = 0; p < width * height; p++)
            for (var c = 0; c < 3; c++)
            {
                var v = samples[channels == 1 ? p : p * 3 + c];
                d[p * 3 + c] = (byte)Math.Clamp(v * 255 / max, 0, 255);
            }
        return image;
    }

    private static int ReadInt(byte[] b, ref int pos, string name, string what)
    {
        while (pos < b.Length)
        {
            if (b[pos] == '#') { while (pos < b.Length && b[pos] != '\n') pos++; }
            else if (char.IsWhiteSpace((char)b[pos])) pos++;
            else break;
        }
        var start = pos;
        while (pos < b.Length && b[pos] >= '0' && b[pos] <= '9') pos++;
        if (pos == start || pos - start > 9) throw new BadInputException($"{name} is not a valid PNM image: no {what} where one was expected (truncated or corrupt)");
        return int.Parse(Encoding.ASCII.GetString(b, start, pos - start));
    }
}
