using ScottPlot;

namespace EchoFace.Recommend;

/// <summary>Side-by-side bars of each model's ranking metrics at one K (PNG or SVG by extension).</summary>
public static class RecommenderPlot
{
    public static void Write(string path, string title, IReadOnlyList<ModelScores> scores, int k)
    {
        var metrics = new (string Name, Func<ModelScores, double> Value)[]
        {
            ($"NDCG@{k}", s => s.Ndcg), ($"MAP@{k}", s => s.Map), ($"Recall@{k}", s => s.Recall), ($"Precision@{k}", s => s.Precision), ($"Hit rate@{k}", s => s.HitRate),
        };
        var models = scores.Where(s => s.K == k).ToList();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (var m = 0; m < models.Count; m++)
        {
            for (var x = 0; x < metrics.Length; x++)
                bars.Add(new Bar { Position = x * (models.Count + 1) + m, Value = metrics[x].Value(models[m]), FillColor = palette.GetColor(m) });
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = models[m].Model, FillColor = palette.GetColor(m) });
        }
        plot.Add.Bars(bars);
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var x = 0; x < metrics.Length; x++) ticks.AddMajor(x * (models.Count + 1) + (models.Count - 1) / 2.0, metrics[x].Name);
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.SetLimitsY(0, 1.05);
        plot.Title(title);
        plot.YLabel("mean over test customers");
        plot.ShowLegend(Alignment.UpperLeft);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) plot.SaveSvg(path, 1000, 560);
        else plot.SavePng(path, 1000, 560);
    }
}
