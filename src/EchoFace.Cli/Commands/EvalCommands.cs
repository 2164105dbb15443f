using System.CommandLine;
using EchoFace.Evaluation;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;

namespace EchoFace.Cli.Commands;

/// <summary>eval faces | voice: accuracy over labelled data (EER, TAR@FAR, thresholds), latency and a DET plot.</summary>
internal static class EvalCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var eval = new Command("eval", "Measure accuracy and speed on labelled data");
        eval.Subcommands.Add(EvalFacesCommand.Build(g, o));
        eval.Subcommands.Add(Voice(g, o));
        eval.Subcommands.Add(EvalLivenessCommand.Build(g, o));
        eval.Subcommands.Add(Identify(g, o));
        return eval;
    }

    private static Command Voice(GlobalOptions g, Output o)
    {
        var folder = new Argument<string?>("folder") { Description = "one sub-folder of recordings per speaker (or any folder with --label); leave out with --trials", Arity = ArgumentArity.ZeroOrOne };
        var trials = new Option<string?>("--trials") { Description = "trials list: `<audio> <audio> target|nontarget` per line (or VoxCeleb's `1|0 <audio> <audio>`)" };
        var rootOption = new Option<string?>("--root") { Description = "folder the trials' paths are relative to (default: the trials file's folder)" };
        var label = new Option<string?>("--label") { Description = "regular expression whose first group, matched on each file name, names the speaker (e.g. '^([a-z]+\\d*)[-_]')" };
        var report = new Option<string?>("--report") { Description = "folder for report.json and the DET plot (det.png, det.svg)" };
        var noVad = new Option<bool>("--no-vad") { Description = "embed whole recordings, without voice activity detection" };
        var enrol = new Option<int>("--enrol") { Description = "folder mode: also enrol each speaker from this many recordings and compare averaged with multi-template matching" };
        var embedder = new Option<string?>("--embedder") { Description = "speaker model id from the manifest (default Voice.Embedder)" };
        var cmd = new Command("voice", "Speaker verification accuracy: EER, minDCF, TAR@FAR, threshold, real-time factor") { folder, trials, rootOption, label, report, noVad, enrol, embedder };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var voice = ctx.Config.Voice;
            if (p.GetValue(noVad)) voice.Vad.Enabled = false;
            if (p.GetValue(embedder) is { } e) voice.Embedder = e;
            var (trialsFile, dir) = (p.GetValue(trials), p.GetValue(folder));
            if ((trialsFile is null) == (dir is null)) throw new BadInputException("give either a folder of speaker folders or --trials FILE (with --root), not both or neither");
            if (p.GetValue(enrol) is < 0 or > 50) throw new BadInputException($"--enrol must be 0..50, not {p.GetValue(enrol)}");
            var pipeline = ctx.Voice;
            VoiceEvaluationResult result;
            string source;
            if (trialsFile is not null)
            {
                var list = VoiceEvaluation.ReadTrials(trialsFile, p.GetValue(rootOption) ?? Path.GetDirectoryName(Path.GetFullPath(trialsFile))!);
                var files = list.SelectMany(t => new[] { t.A, t.B }).Distinct().Count();
                result = o.Progress(!ctx.Json, "embedding recordings", files, tick => VoiceEvaluation.RunTrials(pipeline, list, new InlineProgress<EvaluatedRecording>(tick)));
                source = Path.GetFileName(trialsFile);
            }
            else
            {
                var items = VoiceEvaluation.ListRecordings(dir!, p.GetValue(label));
                result = o.Progress(!ctx.Json, "embedding recordings", items.Count, tick => VoiceEvaluation.RunFolder(pipeline, items, new InlineProgress<EvaluatedRecording>(tick), p.GetValue(enrol)));
                source = Path.GetFileName(Path.GetFullPath(dir!).TrimEnd('/'));
            }
            var m = result.Metrics;
            var ok = result.Recordings.Where(r => r.Embedding is not null).ToList();
            var perFile = new Dictionary<string, double[]>
            {
                ["decode"] = [.. ok.Select(r => r.Timings.Decode)], ["vad"] = [.. ok.Select(r => r.Timings.Vad)],
                ["embed"] = [.. ok.Select(r => r.Timings.Embed)], ["total"] = [.. ok.Select(r => r.Timings.Total)],
            };
            var latency = perFile.ToDictionary(s => s.Key, s => new { p50 = Percentiles.Of(s.Value, 50), p95 = Percentiles.Of(s.Value, 95) });
            var summary = new
            {
                source = trialsFile ?? Path.GetFullPath(dir!),
                pipeline = new { voice.Embedder, vad = voice.Vad.Enabled, voice.MinSpeechSeconds, provider = pipeline.Provider },
                recordings = result.Recordings.Count, audioSeconds = result.Recordings.Sum(r => r.Seconds), speechSeconds = result.Recordings.Sum(r => r.SpeechSeconds),
                failures = result.Failures.Select(f => new { path = f.Path, reason = f.Failure }).ToList(),
                trials = result.Trials, skippedTrials = result.SkippedTrials, targetTrials = m.Genuine, nontargetTrials = m.Impostor,
                eer = m.Eer, eerThreshold = m.EerThreshold, minDcf = m.MinDcf, minDcfPTarget = 0.01, impostorNorm = m.ImpostorNorm,
                tarAtFar = m.AtFar.Select(a => new { far = a.Far, tar = a.Tar, threshold = a.Threshold }),
                recommended = new { verifyThreshold = m.AtFar[0].Threshold, identifyThreshold = m.AtFar[1].Threshold },
                realTimeFactor = result.RealTimeFactor,
                latencyMs = latency,
                enrolment = result.Enrolment is { } s ? new
                {
                    utterancesPerSpeaker = s.UtterancesPerSpeaker,
                    average = new { eer = s.Average.Eer, tarAtFar1e2 = s.Average.AtFar[0].Tar, minDcf = s.Average.MinDcf },
                    multiTemplate = new { eer = s.MultiTemplate.Eer, tarAtFar1e2 = s.MultiTemplate.AtFar[0].Tar, minDcf = s.MultiTemplate.MinDcf },
                } : null,
            };
            WriteReport(p.GetValue(report), summary, "EchoFace speaker verification (DET)", [($"{source}: {voice.Embedder}", m)]);
            if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }

            var table = new Table().AddColumns("metric", "value");
            table.AddRow("recordings / audio", $"{result.Recordings.Count} / {summary.audioSeconds / 60:F1} min ({summary.speechSeconds / 60:F1} min speech)");
            table.AddRow("failures", $"{result.Failures.Count()} ({result.SkippedTrials} trials skipped)");
            table.AddRow("target / nontarget trials", $"{m.Genuine} / {m.Impostor}");
            table.AddRow("EER", $"{m.Eer * 100:F2}% (threshold {m.EerThreshold:F3})");
            table.AddRow("minDCF (p_target 0.01)", $"{m.MinDcf:F4}");
            foreach (var a in m.AtFar) table.AddRow($"TAR @ FAR {a.Far:0.###}", $"{a.Tar * 100:F2}% (threshold {a.Threshold:F3})");
            table.AddRow("recommended thresholds", $"verify {m.AtFar[0].Threshold:F3} (FAR 1e-2), identify {m.AtFar[1].Threshold:F3} (FAR 1e-3)");
            table.AddRow("real-time factor", $"{result.RealTimeFactor:F4} ({1 / Math.Max(1e-9, result.RealTimeFactor):F0}x faster than real time)");
            foreach (var (stage, l) in latency) table.AddRow($"{stage} ms p50 / p95", $"{l.p50:F1} / {l.p95:F1}");
            if (result.Enrolment is { } study)
            {
                table.AddRow($"enrol {study.UtterancesPerSpeaker}: averaged", $"EER {study.Average.Eer * 100:F2}%, TAR@FAR1e-2 {study.Average.AtFar[0].Tar * 100:F2}%");
                table.AddRow($"enrol {study.UtterancesPerSpeaker}: multi-template", $"EER {study.MultiTemplate.Eer * 100:F2}%, TAR@FAR1e-2 {study.MultiTemplate.AtFar[0].Tar * 100:F2}%");
            }
            o.Console.Write(table);
            foreach (var f in result.Failures) o.Line($"  [yellow]no embedding[/] {Output.Esc(f.Path)}: {Output.Esc(f.Failure)}");
            if (p.GetValue(report) is { } d) o.Line($"report and DET plot in {Output.Esc(d)}");
            return EchoFaceCli.Ok;
        });
    }

    private static Command Identify(GlobalOptions g, Output o)
    {
        var folder = new Argument<string>("folder") { Description = "one sub-folder of photos per person" };
        var pad = new Option<float>("--pad") { Description = "pad every image by this fraction before detection (tight crops such as Yale B)" };
        var threshold = new Option<float?>("--threshold") { Description = "identify threshold for the open set (default Match.IdentifyThreshold)" };
        var report = new Option<string?>("--report") { Description = "folder for report.json and the confusion matrix (confusion.png, confusion.svg)" };
        var cmd = new Command("identify", "1:N on held-out photos: accuracy, macro F1, open-set rejection of people never enrolled, per matching method") { folder, pad, threshold, report };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var root = p.GetValue(folder)!;
            var total = FaceEvaluation.ListImages(root).Count;
            var pipeline = ctx.Pipeline;
            var embedded = o.Progress(!ctx.Json, "embedding faces", total,
                tick => FaceEvaluation.Run(pipeline, root, new InlineProgress<EvaluatedImage>(tick), ctx.Limits, p.GetValue(pad)));
            var t = p.GetValue(threshold) ?? ctx.Config.Match.IdentifyThreshold;
            var r = IdentificationEvaluation.Run(embedded.Images, t);
            var summary = new
            {
                folder = Path.GetFullPath(root), r.Identities, r.EnrolledIdentities, r.EnrolImages, r.TestImages, r.OpenSetImages, threshold = t, best = r.Best,
                methods = r.Methods.Select(m => new { m.Method, m.Description, m.Accuracy, m.MacroF1, m.DetectionAndIdentification, m.OpenSetRejection }),
                failures = embedded.Failures.Select(f => new { path = f.Path, reason = f.Failure }),
            };
            if (p.GetValue(report) is { } dir)
            {
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "report.json"), System.Text.Json.JsonSerializer.Serialize(summary, Output.JsonOptions));
                var best = r.Methods.Single(m => m.Method == r.Best);
                foreach (var ext in new[] { "png", "svg" })
                    ConfusionPlot.Write(Path.Combine(dir, $"confusion.{ext}"), $"EchoFace identification, {best.Method} ({best.Accuracy * 100:F1}% correct)", r.Labels, best.Confusion);
            }
            if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
            o.Line($"{r.Identities} people: {r.EnrolledIdentities} enrolled from {r.EnrolImages} photos, {r.TestImages} test photos; " +
                   $"{r.Identities - r.EnrolledIdentities} never enrolled ({r.OpenSetImages} photos) must be rejected");
            var table = new Table().AddColumns("method", "accuracy", "macro F1", $"identified at {t:F2}", "open set rejected", "what it is");
            foreach (var m in r.Methods)
                table.AddRow(m.Method == r.Best ? $"[bold]{m.Method}[/]" : m.Method, $"{m.Accuracy * 100:F1}%", $"{m.MacroF1:F3}", $"{m.DetectionAndIdentification * 100:F1}%",
                    $"{m.OpenSetRejection * 100:F1}%", Output.Esc(m.Description));
            o.Console.Write(table);
            foreach (var f in embedded.Failures) o.Line($"  [yellow]no face[/] {Output.Esc(f.Path)}: {Output.Esc(f.Failure)}");
            if (p.GetValue(report) is { } d) o.Line($"report and confusion matrix in {Output.Esc(d)}");
            return EchoFaceCli.Ok;
        });
    }

    /// <summary>report.json plus the DET plot as PNG and SVG, when a report folder was asked for.</summary>
    internal static void WriteReport(string? dir, object summary, string title, (string Label, VerificationMetrics Metrics)[] curves)
    {
        if (dir is null) return;
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "report.json"), System.Text.Json.JsonSerializer.Serialize(summary, Output.JsonOptions));
        RocPlot.WriteDet(Path.Combine(dir, "det.png"), title, curves);
        RocPlot.WriteDet(Path.Combine(dir, "det.svg"), title, curves);
    }

    /// <summary>Reports synchronously on the calling thread (System.Progress posts to the thread pool, which reorders ticks).</summary>
    internal sealed class InlineProgress<T>(Action tick) : IProgress<T>
    {
        public void Report(T value) => tick();
    }
}
