using System.Diagnostics;
using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Inference.Quantization;
using EchoFace.Media;
using EchoFace.Voice;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace EchoFace.Evaluation;

/// <summary>Where the calibration inputs and the accuracy check come from.</summary>
public sealed class QuantizationData
{
    /// <summary>Images (faces) or audio (voice) the activation ranges are measured on.</summary>
    public required string Calibration { get; init; }
    public int CalibrationCount { get; init; } = 32;
    /// <summary>Face folders scored with TAR at FAR 1e-3 (each must hold up).</summary>
    public required IReadOnlyList<string> FaceSets { get; init; }
    public required string VoiceTrials { get; init; }
    public required string VoiceRoot { get; init; }
    /// <summary>live/ and spoof/ face images a liveness model's EER is measured on (fed BGR, as the door runs it).</summary>
    public string? LivenessSet { get; init; }

    /// <summary>The shared evaluation data: Yale B and the photo set for faces, the LibriSpeech trials for voice.</summary>
    public static QuantizationData Shared(string dataRoot, string task, string? calibration = null, int count = 32) => new()
    {
        Calibration = calibration ?? Path.Combine(dataRoot, task == "speaker-embed" ? "voice/librispeech-test-other" : "faces/photos"),
        CalibrationCount = count,
        FaceSets = [Path.Combine(dataRoot, "faces/yaleb"), Path.Combine(dataRoot, "faces/photos")],
        VoiceTrials = Path.Combine(dataRoot, "voice/trials-librispeech-test-other.txt"),
        VoiceRoot = Path.Combine(dataRoot, "voice"),
        LivenessSet = Path.Combine(dataRoot, "faces/nuaa-subset"),
    };
}

/// <summary>One accuracy figure of the float model, the variant, and (embedders) float templates against variant probes.</summary>
public sealed record AccuracyFigure(string Set, double Float, double Variant, double? Mixed);

public sealed record QuantizationOutcome(ModelEntry Variant, IReadOnlyList<AccuracyFigure> Accuracy, int CalibrationInputs, int Tensors);

/// <summary>
/// `echoface models quantize`: makes an int8 (calibrated, for the CPU) or fp16 (for CUDA and TensorRT) copy of a float model
/// (face detector, face embedder, speaker embedder) and accepts it only if it loses at most 0.5 points of TAR at FAR 1e-3
/// (faces) or 0.3 points of EER (voice), and for int8 only if it is also faster on this CPU. Rejected variants stay on disk
/// and in variants.json, marked, with the numbers.
/// </summary>
public sealed class QuantizationStudy(ModelManifest manifest, QuantizationData data, IProgress<string>? progress = null)
{
    public const double FaceBudgetPoints = 0.5;
    public const double VoiceBudgetPoints = 0.3;
    public static readonly string[] Tasks = ["face-detect", "face-embed", "face-liveness", "speaker-embed"];
    private const int LatencyRuns = 60;

    public static readonly string[] Precisions = ["int8", "fp16", "opt"];

    /// <param name="precision">int8 (CPU: accepted only when faster here and within budget), opt (float32 with PRelu rewritten, see
    /// <see cref="PReluRewrite"/>: the same rule) or fp16 (for CUDA and TensorRT: accepted on accuracy alone, since its speed can
    /// only be measured on a GPU; timed here on the CPU for the record).</param>
    public QuantizationOutcome Run(string modelId, string precision = "int8")
    {
        if (!Precisions.Contains(precision)) throw new BadInputException($"precision must be {string.Join(", ", Precisions)}, not '{precision}'");
        var gpu = precision == "fp16";
        var calibrated = precision == "int8";
        var baseModel = manifest.Get(modelId);
        if (baseModel.Variant is not null) throw new BadInputException($"'{modelId}' is already a variant of '{baseModel.Variant.Of}': quantize '{baseModel.Variant.Of}'");
        if (!Tasks.Contains(baseModel.Task))
            throw new BadInputException($"'{modelId}' is a {baseModel.Task} model; quantization is measured for {string.Join(", ", Tasks)} models only");
        var floatPath = manifest.RequireVerified(modelId);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(floatPath));

        progress?.Report($"{modelId}: reading {(calibrated ? "calibration" : "timing")} inputs from {data.Calibration}");
        var inputs = CalibrationInputs(baseModel);
        var tensors = calibrated ? QdqQuantizer.TensorsToCalibrate(model) : [];
        ModelProto quantized;
        if (gpu) quantized = Fp16Converter.Convert(model);
        else if (!calibrated) quantized = PReluRewrite.Apply(model);
        else
        {
            progress?.Report($"{modelId}: calibrating {tensors.Count} activations on {inputs.Count} inputs");
            quantized = QdqQuantizer.Quantize(model, ActivationCalibrator.Calibrate(model, tensors, inputs));
        }

        var id = $"{modelId}.{precision}";
        var file = $"{Path.GetFileNameWithoutExtension(baseModel.File)}.{precision}.onnx";
        var path = Path.Combine(manifest.Directory, file);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, QdqQuantizer.Serialize(quantized));
        File.Move(temp, path, overwrite: true);
        var provisional = baseModel with
        {
            Id = id,
            File = file,
            Sha256 = ModelManifest.Sha256Of(path),
            Sources = [],
            Optional = true,
            Licence = $"{baseModel.Licence} ({precision} made here from {modelId})",
            Variant = new VariantInfo
            {
                Of = modelId, Precision = precision, Created = DateTimeOffset.UtcNow,
                Calibration = gpu ? "none (weights rounded to float16)" : calibrated ? $"{data.Calibration} ({inputs.Count} inputs, min-max)" : "none (float32, PRelu rewritten)",
            },
        };
        var withVariant = new ModelManifest { Directory = manifest.Directory, Models = [.. manifest.Models.Where(m => m.Id != id), provisional] };

        progress?.Report($"{modelId}: timing float and {precision} on one core");
        var floatMs = Latency(floatPath, inputs);
        var int8Ms = Latency(path, inputs);
        progress?.Report($"{modelId}: measuring accuracy");
        var accuracy = baseModel.Task switch
        {
            "speaker-embed" => VoiceAccuracy(withVariant, modelId, id),
            "face-liveness" => LivenessAccuracy(withVariant, id),
            _ => FaceAccuracy(withVariant, baseModel, id),
        };

        var embedder = baseModel.Task is "face-embed" or "speaker-embed";
        var voice = baseModel.Task == "speaker-embed";
        var byEer = voice || baseModel.Task == "face-liveness";
        var budget = voice ? VoiceBudgetPoints : FaceBudgetPoints;
        // recognition: TAR (higher is better); voice and liveness: EER (lower is better); both in percentage points
        double Loss(double f, double v) => byEer ? (v - f) * 100 : (f - v) * 100;
        var accurate = accuracy.All(a => Loss(a.Float, a.Variant) <= budget);
        var shares = embedder && accurate && accuracy.All(a => a.Mixed is { } m && Loss(a.Float, m) <= budget);
        var faster = gpu || int8Ms < floatMs;
        var worst = accuracy.MaxBy(a => Loss(a.Float, a.Variant))!;
        var reason = !faster ? $"slower on this CPU ({int8Ms:F2} ms vs {floatMs:F2} ms float): float kept"
            : !accurate ? $"loses {Loss(worst.Float, worst.Variant):F2} points of {Metric(byEer)} on {worst.Set} (budget {budget}): float kept"
            : gpu ? $"within {budget} points of {Metric(byEer)}; loaded only by CUDA or TensorRT (its speed there is not measured on this CPU)"
            : $"{floatMs / int8Ms:F2}x faster, within {budget} points of {Metric(byEer)}";
        var variant = provisional with
        {
            Variant = provisional.Variant! with
            {
                Accepted = faster && accurate,
                Reason = reason,
                SharesTemplates = shares,
                Metric = Metric(byEer),
                FloatAccuracy = worst.Float,
                Accuracy = worst.Variant,
                MixedAccuracy = worst.Mixed,
                FloatMs = floatMs,
                Ms = int8Ms,
            },
        };
        // read the file again: another variant may have been made since this manifest was loaded
        var current = ModelManifest.Load(manifest.Directory);
        ModelManifest.SaveVariants(manifest.Directory, [.. current.Models.Where(m => m.Variant is not null && m.Id != id), variant]);
        return new QuantizationOutcome(variant, accuracy, inputs.Count, tensors.Count);
    }

    private static string Metric(bool byEer) => byEer ? "EER" : "TAR@FAR1e-3";

    private List<CalibrationInput> CalibrationInputs(ModelEntry model)
    {
        if (!Directory.Exists(data.Calibration)) throw new BadInputException($"calibration folder not found: {data.Calibration}");
        var factory = FloatFactory(manifest);
        var inputs = new List<CalibrationInput>();
        if (model.Task == "speaker-embed")
        {
            var chunk = (int)Math.Round((model.FrontEnd?.ChunkSeconds is > 0 and var s ? s : 1.8) * AudioClip.SampleRate16k);
            foreach (var file in Directory.GetFiles(data.Calibration, "*", SearchOption.AllDirectories).Where(AudioDecoder.IsAudio).Order(StringComparer.Ordinal))
            {
                if (inputs.Count >= data.CalibrationCount) break;
                var clip = AudioDecoder.DecodeFile(file);
                if (clip.Samples.Length < chunk) continue;
                // the middle of the recording: speech, not the silence at its ends
                var start = (clip.Samples.Length - chunk) / 2;
                inputs.Add(new CalibrationInput(clip.Samples.AsSpan(start, chunk).ToArray(), [1, chunk]));
            }
        }
        else
        {
            // the model's own crop for an embedder: its pipeline embeds with it
            using var pipeline = new FacePipeline(factory, model.Task == "face-embed" ? new FaceOptions { Embedder = model.Id } : null);
            foreach (var file in Directory.GetFiles(data.Calibration, "*", SearchOption.AllDirectories).Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal))
            {
                if (inputs.Count >= data.CalibrationCount) break;
                var image = ImageDecoder.DecodeFile(file);
                if (model.Task == "face-liveness")
                {
                    if (pipeline.Analyze(image, FaceSteps.Detect) is not [var face, ..]) continue;
                    var chw = new float[pipeline.Liveness.InputLength];
                    pipeline.Liveness.Prepare(image, face.Box, chw, face.TightCrop);
                    inputs.Add(new CalibrationInput(chw, pipeline.Liveness.InputShape));
                    continue;
                }
                if (model.Task == "face-detect")
                {
                    var shape = pipeline.Detector.InputShape;
                    var chw = new float[shape[1] * shape[2] * shape[3]];
                    pipeline.Detector.Prepare(image, chw);
                    inputs.Add(new CalibrationInput(chw, shape));
                    continue;
                }
                var faces = pipeline.Analyze(image, FaceSteps.Landmarks);
                if (faces.Count == 0) continue;
                var aligned = new float[3 * pipeline.Embedder.InputSize * pipeline.Embedder.InputSize];
                pipeline.Embedder.Prepare(image, faces[0].Points5, aligned);
                inputs.Add(new CalibrationInput(aligned, pipeline.Embedder.InputShape));
            }
        }
        if (inputs.Count == 0) throw new BadInputException($"no usable calibration input in {data.Calibration} for a {model.Task} model");
        return inputs;
    }

    /// <summary>Median milliseconds per call on one thread, CPU provider, after a warm-up.</summary>
    private static double Latency(string path, IReadOnlyList<CalibrationInput> inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        DenormalFlush.ForSession(options); // the variant is kept only if faster: both sides timed as the product runs them
        using var session = new InferenceSession(path, options);
        using var run = new RunOptions();
        var name = session.InputMetadata.Keys.First();
        var outputs = session.OutputMetadata.Keys.ToArray();
        var times = new List<double>();
        for (var i = 0; i < LatencyRuns + 5; i++)
        {
            var input = inputs[i % inputs.Count];
            using var value = OrtValue.CreateTensorValueFromMemory(input.Values, input.Shape);
            var watch = Stopwatch.StartNew();
            using var results = session.Run(run, [name], [value], outputs);
            if (i >= 5) times.Add(watch.Elapsed.TotalMilliseconds);
        }
        return Percentiles.Of(times, 50);
    }

    private List<AccuracyFigure> FaceAccuracy(ModelManifest withVariant, ModelEntry baseModel, string variantId)
    {
        var figures = new List<AccuracyFigure>();
        foreach (var set in data.FaceSets)
        {
            if (!Directory.Exists(set)) throw new BadInputException($"evaluation folder not found: {set} ({ModelManifest.SetupHint})");
            var floatImages = Evaluate(withVariant, new FaceOptions(), set);
            var options = baseModel.Task == "face-embed" ? new FaceOptions { Embedder = variantId } : new FaceOptions { Detector = variantId };
            var variantImages = Evaluate(withVariant, options, set);
            double? mixed = baseModel.Task == "face-embed" ? TarAt(MixedScores(floatImages, variantImages)) : null;
            figures.Add(new AccuracyFigure(Path.GetFileName(set), TarAt(FaceEvaluation.Score(floatImages)), TarAt(FaceEvaluation.Score(variantImages)), mixed));
        }
        return figures;
    }

    /// <summary>EER of the float model and the variant on the liveness set (bona fide vs attacks), fed BGR as the door runs it.</summary>
    private List<AccuracyFigure> LivenessAccuracy(ModelManifest withVariant, string variantId)
    {
        if (data.LivenessSet is not { } set || !Directory.Exists(set))
            throw new BadInputException($"liveness evaluation folder not found: {data.LivenessSet} ({ModelManifest.SetupHint})");
        var items = LivenessEvaluation.ListSamples(set);
        double Eer(FaceOptions options)
        {
            using var pipeline = new FacePipeline(FloatFactory(withVariant), options);
            return LivenessEvaluation.Metrics(LivenessEvaluation.Run(pipeline, items), s => s.Score(pipeline.Liveness.Name)).Eer;
        }
        return [new AccuracyFigure(Path.GetFileName(set), Eer(new FaceOptions()), Eer(new FaceOptions { Liveness = variantId }), null)];
    }

    private IReadOnlyList<EvaluatedImage> Evaluate(ModelManifest withVariant, FaceOptions options, string set)
    {
        using var pipeline = new FacePipeline(FloatFactory(withVariant), options);
        return FaceEvaluation.Run(pipeline, set).Images;
    }

    /// <summary>Float templates against variant probes: every pair, the first image embedded by the float model.</summary>
    private static VerificationMetrics MixedScores(IReadOnlyList<EvaluatedImage> floats, IReadOnlyList<EvaluatedImage> variants)
    {
        var genuine = new List<double>();
        var impostor = new List<double>();
        for (var i = 0; i < floats.Count; i++)
            for (var j = i + 1; j < variants.Count; j++)
            {
                if (floats[i].Embedding is not { } a || variants[j].Embedding is not { } b) continue;
                (floats[i].Identity == variants[j].Identity ? genuine : impostor).Add(TensorPrimitives.Dot(a, b));
            }
        return VerificationMetrics.Compute(genuine, impostor);
    }

    private static double TarAt(VerificationMetrics m) => m.AtFar.First(p => p.Far == 1e-3).Tar;

    private List<AccuracyFigure> VoiceAccuracy(ModelManifest withVariant, string baseId, string variantId)
    {
        var trials = VoiceEvaluation.ReadTrials(data.VoiceTrials, data.VoiceRoot);
        var factory = FloatFactory(withVariant);
        VoiceEvaluationResult Eval(string embedder)
        {
            using var pipeline = new VoicePipeline(factory, new VoiceOptions { Embedder = embedder });
            return VoiceEvaluation.RunTrials(pipeline, trials);
        }
        var f = Eval(baseId);
        var v = Eval(variantId);
        var floats = f.Recordings.ToDictionary(r => r.Path, r => r.Embedding);
        var variants = v.Recordings.ToDictionary(r => r.Path, r => r.Embedding);
        var genuine = new List<double>();
        var impostor = new List<double>();
        foreach (var t in trials)
            if (floats[t.A] is { } a && variants[t.B] is { } b) (t.Target ? genuine : impostor).Add(TensorPrimitives.Dot(a, b));
        return [new AccuracyFigure(Path.GetFileNameWithoutExtension(data.VoiceTrials), f.Metrics.Eer, v.Metrics.Eer, VerificationMetrics.Compute(genuine, impostor).Eer)];
    }

    /// <summary>Loads exactly the ids asked for (no variant swapped in), on the CPU, as the evaluation needs.</summary>
    private static InferenceSessionFactory FloatFactory(ModelManifest m) =>
        new(m, new InferenceOptions { Providers = ["CPU"], Precision = "float" });
}
