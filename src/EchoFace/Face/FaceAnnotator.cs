using EchoFace.Media;
using SkiaSharp;

namespace EchoFace.Face;

public sealed record FaceLabel(FaceResult Face, string Text, bool Known);

/// <summary>Draws boxes, the 68 landmarks, the 5 alignment points and a label per face, plus the aligned crops in a strip below.</summary>
public static class FaceAnnotator
{
    public static void Write(RgbImage image, IReadOnlyList<FaceLabel> faces, string path)
    {
        using var bitmap = Render(image, faces);
        ImageEncoder.Save(bitmap, path);
    }

    /// <param name="crops">the strip of aligned crops below the picture (a live view leaves it out)</param>
    public static SKBitmap Render(RgbImage image, IReadOnlyList<FaceLabel> faces, bool crops = true)
    {
        const int crop = FaceEmbedder.CropSize;
        var stripHeight = faces.Count > 0 && crops ? crop + 24 : 0;
        var width = crops ? Math.Max(image.Width, faces.Count * (crop + 8)) : image.Width;
        var canvasBitmap = new SKBitmap(width, image.Height + stripHeight);
        using var canvas = new SKCanvas(canvasBitmap);
        canvas.Clear(SKColors.Black);
        using (var photo = ImageEncoder.ToBitmap(image)) canvas.DrawBitmap(photo, 0, 0);

        var scale = Math.Max(1f, Math.Max(image.Width, image.Height) / 640f);
        using var font = new SKFont(SKTypeface.Default, 14 * scale);
        using var smallFont = new SKFont(SKTypeface.Default, 12);
        using var stroke = new SKPaint { Style = SKPaintStyle.Stroke, StrokeWidth = 2 * scale, IsAntialias = true };
        using var fill = new SKPaint { Style = SKPaintStyle.Fill, IsAntialias = true };
        for (var i = 0; i < faces.Count; i++)
        {
            var (face, text, known) = faces[i];
            var color = known ? new SKColor(40, 200, 80) : new SKColor(230, 60, 50);
            stroke.Color = color;
            canvas.DrawRect(face.Box.X1, face.Box.Y1, face.Box.Width, face.Box.Height, stroke);
            fill.Color = new SKColor(255, 220, 0);
            foreach (var p in face.Landmarks) canvas.DrawCircle(p.X, p.Y, 1.2f * scale, fill);
            fill.Color = new SKColor(0, 200, 255);
            foreach (var p in face.Points5) canvas.DrawCircle(p.X, p.Y, 2.5f * scale, fill);
            fill.Color = color;
            var label = $"#{i} {text}";
            var textWidth = font.MeasureText(label);
            canvas.DrawRect(face.Box.X1, face.Box.Y1 - 18 * scale, textWidth + 6 * scale, 18 * scale, fill);
            fill.Color = SKColors.White;
            canvas.DrawText(label, face.Box.X1 + 3 * scale, face.Box.Y1 - 4 * scale, font, fill);

            if (crops && face.Points5.Length == 5)
            {
                using var aligned = ImageEncoder.ToBitmap(FaceEmbedder.AlignedCrop(image, face.Points5));
                float x = i * (crop + 8), y = image.Height + 20;
                canvas.DrawBitmap(aligned, x, y);
                canvas.DrawText($"#{i} q={face.Quality.Score:F2}", x, y - 5, smallFont, fill);
            }
        }
        return canvasBitmap;
    }
}
