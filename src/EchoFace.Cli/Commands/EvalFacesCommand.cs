using System.CommandLine;
using EchoFace.Evaluation;
using EchoFace.Face;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;
using static EchoFace.Cli.Commands.EvalCommands;

namespace EchoFace.Cli.Commands;

/// <summary>eval faces: verification over every pair of a folder of identity folders; with --fuse, each embedder alone and fused.</summary>
internal static class EvalFacesCommand
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var folder = new Argument<string>("folder") { Description = "one sub-folder of photos per identity" };
        var pad = new Option<float>("--pad")
        {
            Description = "pad every image by this fraction of its larger side with grey before detection (tight crops such as Yale B); " +
                "0 = off, and images where nothing is found are still padded and retried",
        };
        var report = new Option<string?>("--report")
        {
            Description = "folder for report.json, embeddings.json (per image) and the DET plot (det.png, det.svg)",
        };
        var landmarks = new Option<string?>("--landmarks") { Description = "landmark model id to evaluate (fr_landmark or pfld_68)" };
        var detector = new Option<string?>("--detector") { Description = "detector model id (fr_detect or ultraface_640)" };
        var refine = new Option<float?>("--refine")
        {
            Description = "second landmark pass on a box around the first pass's points, this much larger (0 = off)",
        };
        var embedder = new Option<string?>("--embedder")
        {
            Description = "face embedder model id (fr_feature, faceapi_resnet, mobilefacenet_128; default Face.Embedder)",
        };
        var fuse = new Option<bool>("--fuse")
        {
            Description = "embed with every model of Face.Fusion.Embedders; report each alone, fused, and a sweep of the weights",
        };
        var embeddings = new Option<string?>("--embeddings")
        {
            Description = "score another system's embeddings instead ({\"identity/file\": [floats]}, e.g. tools/faceapi-oracle/peer.mjs); " +
                "images missing count as failures",
        };
        var flip = new Option<bool>("--flip") { Description = "test-time flip: each embedder also embeds the mirrored face (Face.FlipTest)" };
        var pairs = new Option<string[]>("--pairs")
        {
            Description = "score a pair-list protocol instead of every pair: lines `relA relB same|different|1|0 fold` (CFP) or LFW's pairs.txt, " +
                "paths under the folder; repeat for lists side by side (CFP-FP and CFP-FF)",
        };
        var reference = new Option<bool>("--align-reference")
        {
            Description = "with --pairs: align every face by the reference RetinaFace's 5 points (no licence: evaluation only) and " +
                "report how far the pipeline's points are from them",
        };
        var cmd = new Command("faces", "Face verification accuracy over every pair of images")
        {
            folder, pad, report, landmarks, detector, refine, embedder, fuse, embeddings, flip, pairs, reference,
        };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            if (p.GetValue(embeddings) is not null && p.GetValue(pairs) is { Length: > 0 })
                throw new BadInputException("--embeddings scores every pair of the folder: it does not take --pairs");
            if (p.GetValue(embeddings) is { } file) return External(ctx, o, p.GetValue(folder)!, file, p.GetValue(report));
            var face = ctx.Config.Face;
            if (p.GetValue(landmarks) is { } lm) face.Landmarks = lm;
            if (p.GetValue(detector) is { } det) face.Detector = det;
            if (p.GetValue(refine) is { } r) face.RefineScale = r;
            if (p.GetValue(embedder) is { } em) face.Embedder = em;
            if (p.GetValue(flip)) face.FlipTest = true;
            var fusing = p.GetValue(fuse);
            if (fusing && p.GetValue(embedder) is not null) throw new BadInputException("--fuse uses Face.Fusion.Embedders: leave out --embedder");
            if (fusing) face.Embedder = face.Fusion.Embedders[0];
            // the evaluation runs the other models itself (--fuse): its pipeline embeds with one
            face.Fusion.Mode = "off";
            var root = p.GetValue(folder)!;
            using var others = new DisposableList<FaceEmbedder>(!fusing ? []
                : face.Fusion.Embedders.Skip(1).Select(id => new FaceEmbedder(ctx.Factory.Create(id)) { FlipTest = face.FlipTest }));
            if (p.GetValue(pairs) is { Length: > 0 } lists)
                return EvalFacePairs.Run(ctx, o, root, lists, p.GetValue(pad), others, p.GetValue(report), p.GetValue(reference));
            if (p.GetValue(reference)) throw new BadInputException("--align-reference is measured on pair lists: give --pairs LIST");
            var total = FaceEvaluation.ListImages(root).Count;
            var pipeline = ctx.Pipeline;
            var result = o.Progress(!ctx.Json, "embedding faces", total,
                tick => FaceEvaluation.Run(pipeline, root, new InlineProgress<EvaluatedImage>(tick), ctx.Limits, p.GetValue(pad), others));
            if (fusing) return Fused(ctx, o, face, root, result, p.GetValue(report));
            var m = result.Metrics ?? throw new BadInputException(
                $"{root}: {result.Images.Count - result.Failures.Count()} of {result.Images.Count} images embedded, too few to pair two identities");
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
                pipeline = new
                {
                    face.Detector, face.Landmarks, face.Embedder, pad = p.GetValue(pad), face.PadOnMiss, face.RefineScale, provider = pipeline.Provider,
                },
                images = result.Images.Count, identities = result.Identities,
                failures = result.Failures.Select(f => new { path = f.Path, reason = f.Failure }).ToList(),
                genuinePairs = m.Genuine, impostorPairs = m.Impostor,
                eer = m.Eer, eerThreshold = m.EerThreshold, impostorNorm = m.ImpostorNorm,
                tarAtFar = m.AtFar.Select(a => new { far = a.Far, tar = a.Tar, threshold = a.Threshold }),
                recommended = new { verifyThreshold = m.AtFar[0].Threshold, identifyThreshold = m.AtFar[1].Threshold },
                latencyMs = latency,
            };
            WriteReport(p.GetValue(report), summary, "EchoFace face verification (DET)",
                [($"{Path.GetFileName(Path.GetFullPath(root).TrimEnd('/'))}: {face.Detector} + {face.Landmarks}", m)]);
            // every image's embedding, by path under the folder: what two builds or two machines are compared by
            if (p.GetValue(report) is { } reportDir)
                File.WriteAllText(Path.Combine(reportDir, "embeddings.json"), System.Text.Json.JsonSerializer.Serialize(
                    ok.ToDictionary(i => Path.GetRelativePath(root, i.Path), i => i.Embedding), Output.JsonOptions));
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

    private static int Fused(CliContext ctx, Output o, FaceOptions face, string root, FaceEvaluationResult result, string? report)
    {
        var models = face.Fusion.Embedders;
        var norms = FusedNorms(ctx);
        var fused = FusionEvaluation.Score(result.Images, norms, face.Fusion);
        var summary = new
        {
            folder = Path.GetFullPath(root), images = result.Images.Count, identities = result.Identities,
            failures = result.Failures.Select(f => new { path = f.Path, reason = f.Failure }).ToList(),
            models = fused.Models.Select(m => new
            {
                model = m.Model, metrics = Metrics(m.Metrics), measuredNorm = m.Measured, embedMsP50 = m.EmbedMsP50,
            }),
            fused = new { weights = fused.Weights, metrics = Metrics(fused.Fused) },
            sweep = fused.Sweep,
            cascade = new
            {
                accept = face.Fusion.CascadeAccept, reject = face.Fusion.CascadeReject, fused.Cascade.Undecided, fused.Cascade.CostRatio,
                fused.Cascade.Points,
            },
        };
        var name = Path.GetFileName(Path.GetFullPath(root).TrimEnd('/'));
        WriteReport(report, summary, $"EchoFace face verification, fused ({name})",
            [.. fused.Models.Select(m => (m.Model, m.Metrics)), ($"fused ({string.Join(" + ", models)})", fused.Fused)]);
        if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
        var table = new Table().AddColumns("model", "EER", "TAR @ FAR 1e-2", "TAR @ FAR 1e-3", "TAR @ FAR 1e-4", "embed ms p50");
        foreach (var m in fused.Models) table.AddRow([m.Model, .. Row(m.Metrics), $"{m.EmbedMsP50:F1}"]);
        var weights = string.Join(", ", fused.Weights.Select(w => $"{w:0.##}"));
        table.AddRow([$"fused ({weights})", .. Row(fused.Fused), $"{fused.Models.Sum(m => m.EmbedMsP50):F1}"]);
        o.Console.Write(table);
        var cascade = new Table().AddColumns("at", "fused threshold", "fused TAR / FAR", "cascade TAR / FAR");
        foreach (var c in fused.Cascade.Points)
            cascade.AddRow(c.Use, $"{c.Threshold:F2}", $"{c.FusedTar * 100:F2}% / {c.FusedFar * 100:F3}%",
                $"{c.CascadeTar * 100:F2}% / {c.CascadeFar * 100:F3}%");
        o.Console.Write(cascade);
        o.Line($"cascade: second model on {fused.Cascade.Undecided * 100:F1}% of pairs, cost {fused.Cascade.CostRatio:F2}x of {models[0]} alone " +
            $"(first model decides at >= {face.Fusion.CascadeAccept} and < {face.Fusion.CascadeReject})");
        o.Line($"{result.Images.Count} images, {result.Identities} identities, {result.Failures.Count()} failures to detect; " +
            $"{fused.Fused.Genuine} genuine / {fused.Fused.Impostor} impostor pairs");
        if (report is not null) o.Line($"report and DET plot in {Output.Esc(report)}");
        return EchoFaceCli.Ok;
    }

    /// <summary>Another system's embeddings scored by the same metrics (the peer comparison of docs/fusion.md).</summary>
    private static int External(CliContext ctx, Output o, string root, string file, string? report)
    {
        Dictionary<string, float[]> given;
        try
        {
            given = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, float[]>>(File.ReadAllText(file))
                ?? throw new BadInputException($"{file} is empty");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or IOException)
        {
            throw new BadInputException($"{file} is not an embeddings file ({{\"identity/file\": [floats]}}): {e.Message}");
        }
        var images = FaceEvaluation.ListImages(root).Select(i =>
        {
            var e = given.GetValueOrDefault(Path.GetRelativePath(root, i.Path));
            if (e is not null) EchoFace.Inference.Embeddings.Normalize(e);
            return new EvaluatedImage(i.Path, i.Identity, e, default, e is null ? "not in the embeddings file" : null);
        }).ToList();
        var ok = images.Where(i => i.Embedding is not null).ToList();
        if (ok.Select(i => i.Embedding!.Length).Distinct().Count() > 1) throw new BadInputException($"{file}: embeddings of different lengths");
        var (genuine, impostor) = FaceEvaluation.Pairs(images, (a, b) => System.Numerics.Tensors.TensorPrimitives.Dot(a.Embedding, b.Embedding));
        var m = VerificationMetrics.Compute(genuine, impostor, FusionEvaluation.FarTargets);
        var summary = new
        {
            folder = Path.GetFullPath(root), embeddings = Path.GetFullPath(file), images = images.Count, embedded = ok.Count,
            failures = images.Count - ok.Count, metrics = Metrics(m),
        };
        WriteReport(report, summary, "face verification (DET)", [(Path.GetFileNameWithoutExtension(file), m)]);
        if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
        var table = new Table().AddColumns("embeddings", "images", "EER", "TAR @ FAR 1e-2", "TAR @ FAR 1e-3", "TAR @ FAR 1e-4");
        table.AddRow([Output.Esc(Path.GetFileName(file)), $"{ok.Count} of {images.Count}", .. Row(m)]);
        o.Console.Write(table);
        return EchoFaceCli.Ok;
    }

    /// <summary>Each model of Face.Fusion's score norm from the manifest, in their order; a model without one cannot be fused.</summary>
    internal static List<EchoFace.Inference.ScoreNorm> FusedNorms(CliContext ctx) =>
    [
        .. ctx.Config.Face.Fusion.Embedders.Select(id => ctx.Manifest.Get(id).ScoreNorm
            ?? throw new BadInputException($"model '{id}' has no scoreNorm in the manifest: it cannot be fused")),
    ];

    private static string[] Row(VerificationMetrics m) => [$"{m.Eer * 100:F2}%", .. m.AtFar.Select(a => $"{a.Tar * 100:F2}%")];

    private static object Metrics(VerificationMetrics m) =>
        new { eer = m.Eer, eerThreshold = m.EerThreshold, tarAtFar = m.AtFar.Select(a => new { far = a.Far, tar = a.Tar, threshold = a.Threshold }) };

    /// <summary>Disposes every item (the extra embedders a fused evaluation loads).</summary>
    private sealed class DisposableList<T>(IEnumerable<T> items) : List<T>(items), IDisposable where T : IDisposable
    {
        public void Dispose() => ForEach(i => i.Dispose());
    }
}
