using System.CommandLine;
using EchoFace.Evaluation;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;

namespace EchoFace.Cli.Commands;

/// <summary>eval faces: all genuine/impostor pairs of a folder of identity folders, with EER, TAR@FAR, thresholds, latency and a DET plot.</summary>
internal static class EvalCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var eval = new Command("eval", "Measure accuracy and speed on labelled data");
        eval.Subcommands.Add(Faces(g, o));
        return eval;
    }

    private static Command Faces(GlobalOptions g, Output o)
    {
        var folder = new Argument<string>("folder") { Description = "one sub-folder of photos per identity" };
        var pad = new Option<float>("--pad") { Description = "pad every image by this fraction of its larger side with grey before detection (tight crops such as Yale B); 0 = off, and images where nothing is found are still padded and retried" };
        var report = new Option<string?>("--report") { Description = "folder for report.json and the DET plot (det.png, det.svg)" };
        var landmarks = new Option<string?>("--landmarks") { Description = "landmark model id to evaluate (fr_landmark or pfld_68)" };
        var detector = new Option<string?>("--detector") { Description = "detector model id (fr_detect or ultraface_640)" };
        var refine = new Option<float?>("--refine") { Description = "second landmark pass on a box around the first pass's points, this much larger (0 = off)" };
        var cmd = new Command("faces", "Face verification accuracy over every pair of images") { folder, pad, report, landmarks, detector, refine };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var face = ctx.Config.Face;
            if (p.GetValue(landmarks) is { } lm) face.Landmarks = lm;
            if (p.GetValue(detector) is { } det) face.Detector = det;
            if (p.GetValue(refine) is { } r) face.RefineScale = r;
            var root = p.GetValue(folder)!;
            var total = FaceEvaluation.ListImages(root).Count;
            var pipeline = ctx.Pipeline;
            var result = o.Progress(!ctx.Json, "embedding faces", total,
                tick => FaceEvaluation.Run(pipeline, root, new InlineProgress(tick), ctx.Limits, p.GetValue(pad)));
            var m = result.Metrics;
            var ok = result.Images.Where(i => i.Embedding is not null).ToList();
            var stages = new Dictionary<string, double[]>
            {
                ["detect"] = [.. ok.Select(i => i.Timings.Detect)],
                ["landmarks"] = [.. ok.Select(i => i.Timings.Landmarks)],
                ["align+quality"] = [.. ok.Select(i => i.Timings.Align)],
                ["liveness"] = [.. ok.Select(i => i.Timings.Liveness)],
                ["embed"] = [.. ok.Select(i => i.Timings.Embed)],
                ["total"] = [.. ok.Select(i => i.Timings.Total)],
            };
            var latency = stages.ToDictionary(s => s.Key, s => new { p50 = Percentiles.Of(s.Value, 50), p95 = Percentiles.Of(s.Value, 95) });
            var summary = new
            {
                folder = Path.GetFullPath(root),
                pipeline = new { face.Detector, face.Landmarks, face.Embedder, pad = p.GetValue(pad), face.PadOnMiss, face.RefineScale, provider = pipeline.Provider },
                images = result.Images.Count, identities = result.Identities,
                failures = result.Failures.Select(f => new { path = f.Path, reason = f.Failure }).ToList(),
                genuinePairs = m.Genuine, impostorPairs = m.Impostor,
                eer = m.Eer, eerThreshold = m.EerThreshold,
                tarAtFar = m.AtFar.Select(a => new { far = a.Far, tar = a.Tar, threshold = a.Threshold }),
                recommended = new { verifyThreshold = m.AtFar[0].Threshold, identifyThreshold = m.AtFar[1].Threshold },
                latencyMs = latency,
            };
            if (p.GetValue(report) is { } dir)
            {
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "report.json"), System.Text.Json.JsonSerializer.Serialize(summary, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                var label = $"{Path.GetFileName(Path.GetFullPath(root).TrimEnd('/'))}: {face.Detector} + {face.Landmarks}";
                RocPlot.WriteDet(Path.Combine(dir, "det.png"), "EchoFace face verification (DET)", [(label, m)]);
                RocPlot.WriteDet(Path.Combine(dir, "det.svg"), "EchoFace face verification (DET)", [(label, m)]);
            }
            if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }

            var table = new Table().AddColumns("metric", "value");
            table.AddRow("images / identities", $"{result.Images.Count} / {result.Identities}");
            table.AddRow("failures to detect", $"{result.Failures.Count()}");
            table.AddRow("genuine / impostor pairs", $"{m.Genuine} / {m.Impostor}");
            table.AddRow("EER", $"{m.Eer * 100:F2}% (threshold {m.EerThreshold:F3})");
            foreach (var a in m.AtFar) table.AddRow($"TAR @ FAR {a.Far:0.###}", $"{a.Tar * 100:F2}% (threshold {a.Threshold:F3})");
            table.AddRow("recommended thresholds", $"verify {m.AtFar[0].Threshold:F3}, identify {m.AtFar[1].Threshold:F3}");
            foreach (var (stage, l) in latency) table.AddRow($"{stage} ms p50 / p95", $"{l.p50:F1} / {l.p95:F1}");
            o.Console.Write(table);
            foreach (var f in result.Failures) o.Line($"  [yellow]no embedding[/] {Output.Esc(f.Path)}: {Output.Esc(f.Failure)}");
            if (p.GetValue(report) is { } d) o.Line($"report and DET plot in {Output.Esc(d)}");
            return EchoFaceCli.Ok;
        });
    }

    /// <summary>Reports synchronously on the calling thread (System.Progress posts to the thread pool, which reorders ticks).</summary>
    private sealed class InlineProgress(Action tick) : IProgress<EvaluatedImage>
    {
        public void Report(EvaluatedImage value) => tick();
    }
}
