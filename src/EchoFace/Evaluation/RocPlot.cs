using ScottPlot;

namespace EchoFace.Evaluation;

/// <summary>Draws DET curves (miss rate against false-accept rate, both on log axes) as PNG or SVG by file extension.</summary>
public static class RocPlot
{
    public static void WriteDet(string path, string title, IEnumerable<(string Label, VerificationMetrics Metrics)> curves)
    {
        var plot = new Plot();
        // one palette colour per curve: the EER marker would otherwise take the next one, so colours repeated after five curves
        var palette = new ScottPlot.Palettes.Category10();
        var index = 0;
        const double floor = 1e-4;
        static double L(double v) => Math.Log10(Math.Max(v, floor));
        foreach (var (label, m) in curves)
        {
            var pts = m.Roc.Where(p => !double.IsInfinity(p.Threshold)).ToList();
            var line = plot.Add.ScatterLine(pts.Select(p => L(p.Far)).ToArray(), pts.Select(p => L(1 - p.Tar)).ToArray());
            line.LegendText = $"{label} (EER {m.Eer * 100:F2}%)";
            line.LineWidth = 2;
            line.Color = palette.GetColor(index++);
            var eer = plot.Add.Marker(L(m.Eer), L(m.Eer));
            eer.Color = line.Color;
        }
        var diagonal = plot.Add.Line(L(floor), L(floor), 0, 0);
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.Color = Colors.Gray;
        foreach (var axis in new IAxis[] { plot.Axes.Bottom, plot.Axes.Left })
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            foreach (var e in new[] { -4, -3, -2, -1, 0 }) ticks.AddMajor(e, e == 0 ? "100%" : $"{Math.Pow(10, e) * 100:0.##}%");
            axis.TickGenerator = ticks;
        }
        plot.Axes.SetLimits(L(floor), 0, L(floor), 0);
        plot.Title(title);
        plot.XLabel("false accept rate (FAR)");
        plot.YLabel("false reject rate (FRR)");
        plot.ShowLegend(Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) plot.SaveSvg(path, 800, 600);
        else plot.SavePng(path, 800, 600);
    }
}
