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
        eval.Subcommands.Add(Liveness(g, o));
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

    private static Command Liveness(GlobalOptions g, Output o)
    {
        var folder = new Argument<string>("folder") { Description = "live/ and spoof/ sub-folders of images (a manifest.csv with relpath, attack_type, split is used when present)" };
        var split = new Option<string?>("--split") { Description = "only the manifest rows of this split (e.g. tune on train, report on test)" };
        var threshold = new Option<float?>("--threshold") { Description = "live threshold to report APCER/BPCER/ACER at (default Access.LivenessThreshold)" };
        var report = new Option<string?>("--report") { Description = "folder for report.json and the DET plot (det.png, det.svg)" };
        var video = new Option<bool>("--video") { Description = "live/ and spoof/ hold videos: one presence each, decided as the door does (median liveness of the better-quality half of the faces)" };
        var cmd = new Command("liveness", "Presentation-attack detection: APCER, BPCER, ACER, EER, BPCER at APCER 1% and 5%, fr_liveness fed RGB and BGR side by side") { folder, split, threshold, report, video };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var root = p.GetValue(folder)!;
            if (p.GetValue(video)) return LivenessVideos(ctx, o, root, p.GetValue(threshold) ?? ctx.Config.Access.LivenessThreshold, p.GetValue(report));
            var items = LivenessEvaluation.ListSamples(root, p.GetValue(split));
            var pipeline = ctx.Pipeline;
            var samples = o.Progress(!ctx.Json, "scoring faces", items.Count,
                tick => LivenessEvaluation.Run(pipeline, items, new InlineProgress<LivenessSample>(tick), ctx.Limits));
            var t = p.GetValue(threshold) ?? ctx.Config.Access.LivenessThreshold;
            var orders = new (string Name, Func<LivenessSample, float?> Score)[] { ("rgb", s => s.Rgb), ("bgr", s => s.Bgr) };
            var results = orders.Select(order =>
            {
                var m = LivenessEvaluation.Metrics(samples, order.Score);
                var at = LivenessEvaluation.At(samples, order.Score, t);
                var apcer1 = m.AtFar[0];
                return new
                {
                    channels = order.Name, eer = m.Eer, eerThreshold = m.EerThreshold,
                    bpcerAtApcer1 = 1 - m.AtFar[0].Tar, thresholdAtApcer1 = apcer1.Threshold, bpcerAtApcer5 = 1 - m.AtFar[1].Tar, thresholdAtApcer5 = m.AtFar[1].Threshold,
                    atThreshold = new { threshold = t, apcer = at.Apcer, bpcer = at.Bpcer, acer = at.Acer },
                    perAttack = samples.Where(s => !s.Live).Select(s => s.Attack).Distinct().Order().ToDictionary(a => a,
                        a => LivenessEvaluation.At(samples.Where(s => s.Live || s.Attack == a), order.Score, t).Apcer),
                    metrics = m,
                };
            }).ToList();
            var summary = new
            {
                folder = Path.GetFullPath(root), split = p.GetValue(split), model = ctx.Config.Face.Liveness,
                live = samples.Count(s => s.Live), spoof = samples.Count(s => !s.Live),
                failures = samples.Where(s => s.Failure is not null).Select(s => new { path = s.Path, reason = s.Failure }).ToList(),
                scoreMs = new { p50 = Percentiles.Of(samples.Where(s => s.Failure is null).Select(s => s.Ms), 50), p95 = Percentiles.Of(samples.Where(s => s.Failure is null).Select(s => s.Ms), 95) },
                results = results.Select(r => new { r.channels, r.eer, r.eerThreshold, r.bpcerAtApcer1, r.thresholdAtApcer1, r.bpcerAtApcer5, r.thresholdAtApcer5, r.atThreshold, r.perAttack }),
            };
            WriteReport(p.GetValue(report), summary, "EchoFace liveness (DET: APCER against BPCER)",
                [.. results.Select(r => ($"{ctx.Config.Face.Liveness} fed {r.channels.ToUpperInvariant()}", r.metrics))]);
            if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("measure", "fed RGB", "fed BGR");
            table.AddRow("live / spoof images", $"{summary.live} / {summary.spoof}", "");
            table.AddRow("EER", $"{results[0].eer * 100:F2}%", $"{results[1].eer * 100:F2}%");
            table.AddRow("BPCER @ APCER 1%", $"{results[0].bpcerAtApcer1 * 100:F2}% (t {results[0].thresholdAtApcer1:F3})", $"{results[1].bpcerAtApcer1 * 100:F2}% (t {results[1].thresholdAtApcer1:F3})");
            table.AddRow("BPCER @ APCER 5%", $"{results[0].bpcerAtApcer5 * 100:F2}% (t {results[0].thresholdAtApcer5:F3})", $"{results[1].bpcerAtApcer5 * 100:F2}% (t {results[1].thresholdAtApcer5:F3})");
            table.AddRow($"APCER / BPCER / ACER at {t:F3}", Rates(results[0].atThreshold.apcer, results[0].atThreshold.bpcer, results[0].atThreshold.acer), Rates(results[1].atThreshold.apcer, results[1].atThreshold.bpcer, results[1].atThreshold.acer));
            foreach (var attack in results[0].perAttack.Keys)
                table.AddRow($"APCER ({attack}) at {t:F3}", $"{results[0].perAttack[attack] * 100:F2}%", $"{results[1].perAttack[attack] * 100:F2}%");
            table.AddRow("score ms p50 / p95", $"{summary.scoreMs.p50:F1} / {summary.scoreMs.p95:F1}", "");
            o.Console.Write(table);
            foreach (var f in summary.failures) o.Line($"  [yellow]not scored[/] {Output.Esc(f.path)}: {Output.Esc(f.reason)}");
            return EchoFaceCli.Ok;

            static string Rates(double a, double b, double c) => $"{a * 100:F2}% / {b * 100:F2}% / {c * 100:F2}%";
        });
    }

    private static int LivenessVideos(CliContext ctx, Output o, string root, float t, string? report)
    {
        var videos = LivenessEvaluation.ListVideos(root);
        var pipeline = ctx.Pipeline;
        using var eyes = new Face.EyeStateScorer(ctx.Factory.Create("eye_blink"));
        var presences = o.Progress(!ctx.Json, "scoring presences", videos.Count,
            tick => LivenessEvaluation.RunVideos(pipeline, videos, new InlineProgress<LivenessPresence>(tick), eyes));
        var scored = presences.Where(x => x.PresenceScore is not null).ToList();
        // per frame: every frame of every video pooled, as a single-frame decision would see them (scores of the configured channel
        // order ride in the Bgr slot the rate functions read)
        var frames = scored.SelectMany(x => x.FrameScores.Select(f => new LivenessSample(x.Path, x.Live, x.Attack, null, null, f, 0, null))).ToList();
        var perPresence = scored.Select(x => new LivenessSample(x.Path, x.Live, x.Attack, null, null, x.PresenceScore, 0, null)).ToList();
        PadRates AtT(List<LivenessSample> s) => LivenessEvaluation.At(s, x => x.Bgr, t);
        var summary = new
        {
            folder = Path.GetFullPath(root), threshold = t, channels = pipeline.Liveness.Channels.ToString().ToLowerInvariant(),
            live = presences.Count(x => x.Live), spoof = presences.Count(x => !x.Live), frames = frames.Count,
            failures = presences.Where(x => x.Failure is not null).Select(x => new { path = x.Path, reason = x.Failure }).ToList(),
            perFrame = new { AtT(frames).Apcer, AtT(frames).Bpcer, AtT(frames).Acer },
            perPresence = new { AtT(perPresence).Apcer, AtT(perPresence).Bpcer, AtT(perPresence).Acer },
            cues = Cues(scored, t),
            presences = presences.Select(x => new { path = x.Path, live = x.Live, attack = x.Attack, score = x.PresenceScore, frames = x.FrameScores.Length, calledLive = x.PresenceScore >= t, cues = x.Cues }),
        };
        if (report is not null && perPresence.Any(x => x.Live) && perPresence.Any(x => !x.Live) && frames.Any(x => x.Live) && frames.Any(x => !x.Live))
            WriteReport(report, summary, "EchoFace liveness per presence and per frame (DET)",
                [("per presence", LivenessEvaluation.Metrics(perPresence, x => x.Bgr)), ("per frame", LivenessEvaluation.Metrics(frames, x => x.Bgr))]);
        if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
        var table = new Table().AddColumns("measure", "per frame", "per presence");
        table.AddRow("live / spoof", $"{frames.Count(x => x.Live)} / {frames.Count(x => !x.Live)} frames", $"{summary.live} / {summary.spoof} videos");
        table.AddRow($"APCER / BPCER / ACER at {t:F3}", $"{summary.perFrame.Apcer * 100:F2}% / {summary.perFrame.Bpcer * 100:F2}% / {summary.perFrame.Acer * 100:F2}%",
            $"{summary.perPresence.Apcer * 100:F2}% / {summary.perPresence.Bpcer * 100:F2}% / {summary.perPresence.Acer * 100:F2}%");
        o.Console.Write(table);
        var cues = new Table().Title("per presence, each cue alone and with fr_liveness").AddColumns("cue", "live median", "spoof median", "EER alone", "rule", "APCER", "BPCER");
        foreach (var c in summary.cues)
            cues.AddRow(c.Cue, $"{c.LiveMedian:F3}", $"{c.SpoofMedian:F3}", c.Eer is { } e ? $"{e * 100:F1}%" : "", c.Rule, $"{c.Apcer * 100:F1}%", $"{c.Bpcer * 100:F1}%");
        o.Console.Write(cues);
        foreach (var f in summary.failures) o.Line($"  [yellow]not scored[/] {Output.Esc(f.path)}: {Output.Esc(f.reason)}");
        return EchoFaceCli.Ok;
    }

    private sealed record CueRow(string Cue, double? LiveMedian, double? SpoofMedian, double? Eer, string Rule, double Apcer, double Bpcer);

    /// <summary>
    /// The presence cues measured alone (their EER as a score, higher meaning live) and as a rule: a blink (eye swing at least
    /// <see cref="BlinkSwing"/>) required beside fr_liveness, and landmark motion.
    /// </summary>
    private static List<CueRow> Cues(List<LivenessPresence> presences, float t)
    {
        var rows = new List<CueRow>();
        var withCues = presences.Where(p => p.Cues is not null).ToList();
        if (!withCues.Any(p => p.Live) || !withCues.Any(p => !p.Live)) return rows;
        (double Apcer, double Bpcer) Rates(Func<LivenessPresence, bool> callsLive) =>
            (withCues.Count(p => !p.Live && callsLive(p)) / (double)withCues.Count(p => !p.Live), withCues.Count(p => p.Live && !callsLive(p)) / (double)withCues.Count(p => p.Live));
        double? Median(bool live, Func<LivenessPresence, float?> cue) => AccessMedian(withCues.Where(p => p.Live == live).Select(cue).OfType<float>());
        double Eer(Func<LivenessPresence, float?> cue) =>
            LivenessEvaluation.Metrics(withCues.Select(p => new LivenessSample(p.Path, p.Live, p.Attack, null, null, cue(p), 0, null)), x => x.Bgr).Eer;

        var model = Rates(p => p.PresenceScore >= t);
        rows.Add(new("fr_liveness (median of the better half)", Median(true, p => p.PresenceScore), Median(false, p => p.PresenceScore), Eer(p => p.PresenceScore),
            $">= {t:F2}", model.Apcer, model.Bpcer));
        if (withCues.Any(p => p.Cues!.EyeSwing is not null))
        {
            var blink = Rates(p => p.Cues!.EyeSwing >= BlinkSwing);
            rows.Add(new("blink (eye-blink-cnn swing)", Median(true, p => p.Cues!.EyeSwing), Median(false, p => p.Cues!.EyeSwing), Eer(p => p.Cues!.EyeSwing),
                $"swing >= {BlinkSwing:F1}", blink.Apcer, blink.Bpcer));
            var both = Rates(p => p.PresenceScore >= t && p.Cues!.EyeSwing >= BlinkSwing);
            rows.Add(new("fr_liveness and blink", null, null, null, "both", both.Apcer, both.Bpcer));
        }
        var still = Rates(p => p.Cues!.Motion >= MinMotion);
        rows.Add(new("head motion (landmarks, share of eye distance per frame)", Median(true, p => p.Cues!.Motion), Median(false, p => p.Cues!.Motion),
            Eer(p => p.Cues!.Motion), $">= {MinMotion:F3}", still.Apcer, still.Bpcer));
        // the two cues with no rule of their own yet: alone (EER) and beside the model at the threshold that keeps every live presence
        foreach (var (name, detail, cue) in new (string, string, Func<LivenessPresence, float?>)[]
                 {
                     ("non-planar motion", "share an affine map cannot explain", p => p.Cues!.NonPlanar),
                     ("texture detail", "Laplacian / intensity variance", p => p.Cues!.Detail),
                 })
        {
            if (!withCues.Any(p => cue(p) is not null)) continue;
            var floor = withCues.Where(p => p.Live).Select(cue).OfType<float>().DefaultIfEmpty(0).Min();
            var alone = Rates(p => cue(p) >= floor);
            rows.Add(new($"{name} ({detail})", Median(true, cue), Median(false, cue), Eer(cue), $">= {floor:F3} (lowest live)", alone.Apcer, alone.Bpcer));
            var both = Rates(p => p.PresenceScore >= t && cue(p) >= floor);
            rows.Add(new($"fr_liveness and {name}", null, null, null, "both", both.Apcer, both.Bpcer));
        }
        return rows;
    }

    private const float BlinkSwing = 0.6f, MinMotion = 0.005f;

    private static double? AccessMedian(IEnumerable<float> values) => Access.AccessPolicy.Median(values);

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
