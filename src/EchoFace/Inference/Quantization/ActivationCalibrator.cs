using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace EchoFace.Inference.Quantization;

/// <summary>One real model input: its tensor values and shape (the model's first input).</summary>
public sealed record CalibrationInput(float[] Values, long[] Shape);

/// <summary>
/// Runs the float model with the tensors to quantize exposed as extra outputs, over real inputs, and keeps each one's
/// minimum and maximum (min-max calibration: the inputs are few and clean, so outliers are what a door will see too).
/// Only float tensors get a range; the quantizer leaves operators on anything else (shape arithmetic) as they are.
/// </summary>
public static class ActivationCalibrator
{
    public static Dictionary<string, TensorRange> Calibrate(ModelProto model, IReadOnlyList<string> tensors, IEnumerable<CalibrationInput> inputs,
        Action? tick = null)
    {
        var instrumented = model.Clone();
        var graph = instrumented.Graph;
        var existing = graph.Output.Select(o => o.Name).ToHashSet();
        var graphInputs = graph.Input.Select(i => i.Name).ToHashSet();
        // a graph input's range is read from the inputs themselves; every other tensor is fetched as an extra output
        var fetched = tensors.Where(t => !graphInputs.Contains(t)).ToArray();
        foreach (var name in fetched.Where(t => !existing.Contains(t)))
            graph.Output.Add(new ValueInfoProto { Name = name }); // no type: ONNX Runtime infers it, and integer tensors (shape arithmetic) are skipped below
        using var options = new SessionOptions { IntraOpNumThreads = 0, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        DenormalFlush.ForSession(options); // ranges as the product computes them, at the product's speed
        InferenceSession session;
        try
        {
            session = new InferenceSession(instrumented.ToByteArray(), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelException($"the model could not be instrumented for calibration: {e.Message.Split('\n')[0]}", e);
        }
        using var owned = session;
        var inputName = session.InputMetadata.Keys.First();
        var ranges = new Dictionary<string, TensorRange>();
        using var run = new RunOptions();
        var count = 0;
        foreach (var input in inputs)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(input.Values, input.Shape);
            using var results = session.Run(run, [inputName], [value], fetched);
            if (tensors.Contains(inputName)) Include(ranges, inputName, input.Values);
            for (var i = 0; i < fetched.Length; i++)
                if (results[i].GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
                    Include(ranges, fetched[i], results[i].GetTensorDataAsSpan<float>());
            count++;
            tick?.Invoke();
        }
        if (count == 0) throw new BadInputException("no calibration inputs: the calibration data gave nothing the model could take");
        return ranges;
    }

    private static void Include(Dictionary<string, TensorRange> ranges, string name, ReadOnlySpan<float> data)
    {
        if (data.Length == 0) return;
        var (min, max) = (System.Numerics.Tensors.TensorPrimitives.Min(data), System.Numerics.Tensors.TensorPrimitives.Max(data));
        ranges[name] = ranges.TryGetValue(name, out var r) ? r.Include(min, max) : new TensorRange(min, max);
    }
}
