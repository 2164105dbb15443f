using System.Numerics;
using EchoFace.Media;
using MathNet.Numerics.IntegralTransforms;

namespace EchoFace.Face;

/// <summary>
/// What a face shown on a screen can carry and a live face cannot, measured on the face box of one frame (docs/liveness.md):
/// moire: log of the spectral energy above half the Nyquist frequency over the energy below it, on a 64x64 window at the camera's
/// own pixel scale (a screen's pixel grid beating with the camera's lands up there); peaks: log of the strongest high-band
/// frequency over the band's median (a moire pattern is a few sharp lines, sensor noise is flat); chroma: mean (R - B) / (R + G + B)
/// of the inner face (skin is warm, most screens' white is blue); saturation: mean HSV saturation of the inner face; clipped: share
/// of the face's pixels with a channel at 250 or more (a screen's glare). None of them is a probability: fusion weighs them.
/// </summary>
public sealed class ScreenCue : ILivenessOpinion
{
    public static readonly string[] Kinds = ["moire", "peaks", "chroma", "saturation", "clipped"];
    public const string Prefix = "screen:";
    private const int Window = 64;
    private const int ColourSide = 32;

    private readonly string _kind;
    private readonly float[] _grey = new float[Window * Window];
    private readonly Complex[] _spectrum = new Complex[Window * Window];
    private readonly Complex[] _line = new Complex[Window];
    private readonly float[] _power = new float[Window * Window];
    private readonly RgbImage _colour = new(ColourSide, ColourSide);
    private static readonly float[] Hann =
        [.. Enumerable.Range(0, Window).Select(i => (float)(0.5 - 0.5 * Math.Cos(2 * Math.PI * (i + 0.5) / Window)))];

    public ScreenCue(string kind)
    {
        if (!Kinds.Contains(kind)) throw new ArgumentException($"no screen cue '{kind}': one of {string.Join(", ", Kinds)}");
        _kind = kind;
        Name = Prefix + kind;
    }

    public string Name { get; init; }

    public float Score(RgbImage image, in BoxF box, bool tightCrop = false) => _kind switch
    {
        "moire" => Spectrum(image, box).BandRatio,
        "peaks" => Spectrum(image, box).Peakiness,
        _ => Colour(image, box),
    };

    private (float BandRatio, float Peakiness) Spectrum(RgbImage image, in BoxF box)
    {
        // the window is 64 camera pixels wide (fewer for a smaller face, then upsampled): frequencies stay those of the sensor
        var side = MathF.Max(8, MathF.Min(Window, MathF.Min(box.Width, box.Height)));
        var c = box.Center;
        var window = new BoxF(c.X - side / 2, c.Y - side / 2, c.X + side / 2, c.Y + side / 2);
        ImageSampler.WarpGrey(image, Affine2.BoxToGrid(window, Window, Window), Window, Window, _grey, 1, 0);
        var mean = _grey.Average();
        for (var y = 0; y < Window; y++)
            for (var x = 0; x < Window; x++)
                _spectrum[y * Window + x] = new Complex((_grey[y * Window + x] - mean) * Hann[x] * Hann[y], 0);
        Transform2D();
        double low = 0, high = 0;
        var n = 0;
        for (var y = 0; y < Window; y++)
            for (var x = 0; x < Window; x++)
            {
                // cycles per pixel, folded: the spectrum's second half holds the negative frequencies
                float fx = (x < Window / 2 ? x : x - Window) / (float)Window, fy = (y < Window / 2 ? y : y - Window) / (float)Window;
                var r = MathF.Sqrt(fx * fx + fy * fy);
                var s = _spectrum[y * Window + x];
                var p = (float)(s.Real * s.Real + s.Imaginary * s.Imaginary);
                if (r < 1.5f / Window) continue; // DC and the window's own leakage
                if (r <= 0.25f) low += p;
                else { high += p; _power[n++] = p; }
            }
        var band = _power.AsSpan(0, n);
        band.Sort();
        var median = band[n / 2];
        return ((float)Math.Log((high + 1e-6) / (low + 1e-6)), MathF.Log((band[^1] + 1e-6f) / (median + 1e-6f)));
    }

    /// <summary>Rows, then columns, in place: MathNet's managed provider has no 2-D transform of its own.</summary>
    private void Transform2D()
    {
        for (var y = 0; y < Window; y++)
        {
            _spectrum.AsSpan(y * Window, Window).CopyTo(_line);
            Fourier.Forward(_line, FourierOptions.NoScaling);
            _line.CopyTo(_spectrum.AsSpan(y * Window, Window));
        }
        for (var x = 0; x < Window; x++)
        {
            for (var y = 0; y < Window; y++) _line[y] = _spectrum[y * Window + x];
            Fourier.Forward(_line, FourierOptions.NoScaling);
            for (var y = 0; y < Window; y++) _spectrum[y * Window + x] = _line[y];
        }
    }

    private float Colour(RgbImage image, in BoxF box)
    {
        // the inner face for skin colour (no hair, background or bezel); the whole box for glare
        var region = _kind == "clipped" ? box : box.Scale(0.6f);
        ImageSampler.WarpImage(image, Affine2.BoxToGrid(region, ColourSide, ColourSide), _colour);
        double sum = 0;
        var d = _colour.Data;
        for (var i = 0; i < d.Length; i += 3)
        {
            int r = d[i], g = d[i + 1], b = d[i + 2];
            int max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b));
            sum += _kind switch
            {
                "chroma" => (r - b) / (double)(r + g + b + 1),
                "saturation" => max == 0 ? 0 : (max - min) / (double)max,
                _ => max >= 250 ? 1 : 0,
            };
        }
        return (float)(sum / (d.Length / 3));
    }

    public void Dispose() { }
}
