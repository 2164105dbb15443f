using System.Numerics;

namespace EchoFace.Face;

/// <summary>An axis-aligned box in image pixels, corner form.</summary>
public readonly record struct BoxF(float X1, float Y1, float X2, float Y2)
{
    public float Width => X2 - X1;
    public float Height => Y2 - Y1;
    public float Area => Math.Max(0, Width) * Math.Max(0, Height);
    public Vector2 Center => new((X1 + X2) / 2, (Y1 + Y2) / 2);

    public float IoU(in BoxF o)
    {
        var iw = Math.Min(X2, o.X2) - Math.Max(X1, o.X1);
        var ih = Math.Min(Y2, o.Y2) - Math.Max(Y1, o.Y1);
        if (iw <= 0 || ih <= 0) return 0;
        var inter = iw * ih;
        return inter / (Area + o.Area - inter);
    }

    /// <summary>Same centre, sides multiplied by <paramref name="factor"/>; square makes both sides the larger one.</summary>
    public BoxF Scale(float factor, bool square = false)
    {
        var c = Center;
        float w = Width * factor, h = Height * factor;
        if (square) w = h = Math.Max(w, h);
        return new BoxF(c.X - w / 2, c.Y - h / 2, c.X + w / 2, c.Y + h / 2);
    }

    public BoxF Offset(float dx, float dy) => new(X1 + dx, Y1 + dy, X2 + dx, Y2 + dy);

    public static BoxF Around(ReadOnlySpan<Vector2> points)
    {
        float x1 = float.MaxValue, y1 = float.MaxValue, x2 = float.MinValue, y2 = float.MinValue;
        foreach (var p in points) { x1 = Math.Min(x1, p.X); y1 = Math.Min(y1, p.Y); x2 = Math.Max(x2, p.X); y2 = Math.Max(y2, p.Y); }
        return new BoxF(x1, y1, x2, y2);
    }
}

/// <summary>A 2-D affine map x' = A x + t, stored as (a, b, c, d, tx, ty): x' = a x + b y + tx, y' = c x + d y + ty.</summary>
public readonly record struct Affine2(float A, float B, float C, float D, float Tx, float Ty)
{
    public Vector2 Apply(Vector2 p) => new(A * p.X + B * p.Y + Tx, C * p.X + D * p.Y + Ty);

    public Affine2 Inverse()
    {
        var det = A * D - B * C;
        if (Math.Abs(det) < 1e-12f) throw new InvalidOperationException("the transform is singular");
        float ia = D / det, ib = -B / det, ic = -C / det, id = A / det;
        return new Affine2(ia, ib, ic, id, -(ia * Tx + ib * Ty), -(ic * Tx + id * Ty));
    }

    /// <summary>The map from a w x h output grid onto <paramref name="box"/> in the source (crop + resize).</summary>
    public static Affine2 BoxToGrid(in BoxF box, int w, int h) =>
        new(box.Width / w, 0, 0, box.Height / h, box.X1, box.Y1);

    /// <summary>
    /// Least-squares general affine map taking <paramref name="src"/> onto <paramref name="dst"/> (three or more points; the 3x3 normal
    /// equations solved by Cramer's rule, written here: nothing on the mirror fits so small a system without a matrix library).
    /// </summary>
    public static Affine2 Fit(ReadOnlySpan<Vector2> src, ReadOnlySpan<Vector2> dst)
    {
        if (src.Length != dst.Length || src.Length < 3) throw new ArgumentException("need three or more point pairs");
        double sxx = 0, sxy = 0, syy = 0, sx = 0, sy = 0, n = src.Length;
        double uxx = 0, uxy = 0, ux = 0, vxx = 0, vxy = 0, vx = 0;
        for (var i = 0; i < src.Length; i++)
        {
            double x = src[i].X, y = src[i].Y, u = dst[i].X, v = dst[i].Y;
            sxx += x * x; sxy += x * y; syy += y * y; sx += x; sy += y;
            uxx += u * x; uxy += u * y; ux += u; vxx += v * x; vxy += v * y; vx += v;
        }
        // [sxx sxy sx; sxy syy sy; sx sy n] [a b t] = [Σux Σuy Σu]
        double Det(double a1, double a2, double a3, double b1, double b2, double b3, double c1, double c2, double c3) =>
            a1 * (b2 * c3 - b3 * c2) - a2 * (b1 * c3 - b3 * c1) + a3 * (b1 * c2 - b2 * c1);
        var det = Det(sxx, sxy, sx, sxy, syy, sy, sx, sy, n);
        if (Math.Abs(det) < 1e-9) throw new InvalidOperationException("source points are collinear");
        (double, double, double) Solve(double r1, double r2, double r3) =>
            (Det(r1, sxy, sx, r2, syy, sy, r3, sy, n) / det, Det(sxx, r1, sx, sxy, r2, sy, sx, r3, n) / det, Det(sxx, sxy, r1, sxy, syy, r2, sx, sy, r3) / det);
        var (a, b, tx) = Solve(uxx, uxy, ux);
        var (c, d, ty) = Solve(vxx, vxy, vx);
        return new Affine2((float)a, (float)b, (float)c, (float)d, (float)tx, (float)ty);
    }

    /// <summary>Least-squares similarity (rotation, uniform scale, translation) taking <paramref name="src"/> onto <paramref name="dst"/> (Umeyama 1991, closed form for 2-D).</summary>
    public static Affine2 Similarity(ReadOnlySpan<Vector2> src, ReadOnlySpan<Vector2> dst)
    {
        if (src.Length != dst.Length || src.Length < 2) throw new ArgumentException("need two or more point pairs");
        Vector2 ms = default, md = default;
        for (var i = 0; i < src.Length; i++) { ms += src[i]; md += dst[i]; }
        ms /= src.Length; md /= dst.Length;
        double sxx = 0, sxy = 0, var = 0;
        for (var i = 0; i < src.Length; i++)
        {
            var s = src[i] - ms; var d = dst[i] - md;
            sxx += s.X * d.X + s.Y * d.Y;     // sum of dot products
            sxy += s.X * d.Y - s.Y * d.X;     // sum of cross products
            var += s.X * s.X + s.Y * s.Y;
        }
        if (var < 1e-9) throw new InvalidOperationException("source points coincide");
        var a = (float)(sxx / var); var b = (float)(sxy / var);
        // [a -b; b a] is scale * rotation
        var tx = md.X - (a * ms.X - b * ms.Y);
        var ty = md.Y - (b * ms.X + a * ms.Y);
        return new Affine2(a, -b, b, a, tx, ty);
    }
}
