using ScottPlot;

namespace EchoFace.Evaluation;

/// <summary>A confusion matrix as a heat map (rows: who it was, columns: who it was taken for), PNG or SVG by extension.</summary>
public static class ConfusionPlot
{
    public static void Write(string path, string title, IReadOnlyList<string> labels, int[,] confusion)
    {
        var n = labels.Count;
        var values = new double[n, n];
        for (var r = 0; r < n; r++)
        {
            var total = Enumerable.Range(0, n).Sum(c => confusion[r, c]);
            // each row as shares of that person's test photos (rows with none stay empty), drawn top to bottom
            for (var c = 0; c < n; c++) values[r, c] = total == 0 ? double.NaN : (double)confusion[r, c] / total;
        }
        var plot = new Plot();
        var map = plot.Add.Heatmap(values);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(map).Label = "share of the person's test photos";
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var rows = new ScottPlot.TickGenerators.NumericManual();
        for (var i = 0; i < n; i++)
        {
            ticks.AddMajor(i, labels[i]);
            rows.AddMajor(n - 1 - i, labels[i]);
        }
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Left.TickGenerator = rows;
        plot.Axes.Bottom.TickLabelStyle.Rotation = 60;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.UpperLeft;
        plot.Axes.Bottom.MinimumSize = 170; // room for the rotated names
        plot.Title(title);
        plot.XLabel("identified as");
        plot.YLabel("person");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var size = Math.Max(600, 40 * n + 250);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) plot.SaveSvg(path, size, size);
        else plot.SavePng(path, size, size);
    }
}
