using Google.Protobuf;
using Onnx;

namespace EchoFace.Inference.Quantization;

/// <summary>The measured value range of one activation tensor over the calibration inputs.</summary>
public readonly record struct TensorRange(float Min, float Max)
{
    public TensorRange Include(float min, float max) => new(Math.Min(Min, min), Math.Max(Max, max));
}

/// <summary>
/// Static int8 quantization of an ONNX graph into QDQ form: Conv weights int8 per output channel, MatMul weights int8 per
/// tensor, biases int32, activations uint8 from calibrated ranges. ONNX Runtime fuses DQ -> op -> Q into its integer
/// kernels (QLinearConv, QLinearMatMul, QLinearAdd). Written here: ONNX Runtime's quantization tool is Python-only.
/// </summary>
public static class QdqQuantizer
{
    /// <summary>Operators run in int8: their float inputs and outputs get Q/DQ pairs.</summary>
    private static readonly HashSet<string> Quantized = ["Conv", "MatMul", "Add"];
    /// <summary>Operators that only move or reshape values: a tensor reaching a graph output through them stays float.</summary>
    private static readonly HashSet<string> ShapeOnly = ["Reshape", "Flatten", "Identity", "Squeeze", "Unsqueeze", "Transpose"];

    /// <summary>The activation tensors whose ranges <see cref="Quantize"/> needs.</summary>
    public static IReadOnlyList<string> TensorsToCalibrate(ModelProto model) => [.. Plan(model.Graph, _ => true).Activations];

    public static ModelProto Quantize(ModelProto floatModel, IReadOnlyDictionary<string, TensorRange> ranges)
    {
        var model = floatModel.Clone();
        var graph = model.Graph;
        graph.RemoveInitializersFromInputs();
        // a tensor without a range is not float (the calibrator measures every float one): operators on it stay as they are
        var plan = Plan(graph, ranges.ContainsKey);

        // QLinearConv is opset 10 and per-channel Q/DQ opset 13: the integer kernels ONNX Runtime fuses to need the newer set
        OpsetUpgrade.Apply(model);

        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var scales = new Dictionary<string, (float Scale, byte ZeroPoint)>();
        foreach (var name in plan.Activations) scales[name] = ActivationScale(ranges[name]);

        var front = new List<NodeProto>();   // weight DQs and graph-input Q/DQs: before every other node
        var rewired = new Dictionary<string, string>();
        foreach (var input in graph.Input.Where(i => plan.Activations.Contains(i.Name)))
            front.AddRange(QdqPair(input.Name, scales[input.Name], initializers, rewired));

        // a weight two nodes share is quantized once; a node that cannot use the int8 copy keeps the float original
        var weights = new Dictionary<string, (string Dequantized, float[] Scales)>();
        (string, float[]) Weight(TensorProto w, bool perChannel) => weights.TryGetValue(w.Name, out var done) ? done
            : weights[w.Name] = QuantizeWeight(w, perChannel, initializers, front);
        var floats = graph.Initializer.ToDictionary(t => t.Name);
        foreach (var node in graph.Node)
        {
            if (node.OpType == "Conv" && node.Input.Count >= 2 && floats.TryGetValue(node.Input[1], out var w) && scales.ContainsKey(node.Input[0]))
            {
                var (dq, wScales) = Weight(w, perChannel: true);
                node.Input[1] = dq;
                if (node.Input.Count >= 3 && floats.TryGetValue(node.Input[2], out var b))
                    node.Input[2] = QuantizeBias(b, $"{node.Name}_{node.Output[0]}", scales[node.Input[0]].Scale, wScales, initializers, front);
            }
            else if (node.OpType == "MatMul" && floats.TryGetValue(node.Input[1], out var m) && scales.ContainsKey(node.Input[0]))
                node.Input[1] = Weight(m, perChannel: false).Item1;
        }
        // float weights no node reads any more
        var read = graph.Node.SelectMany(n => n.Input).Concat(front.SelectMany(n => n.Input)).ToHashSet();
        foreach (var name in floats.Keys.Where(n => !read.Contains(n))) initializers.Remove(name);

        // nodes are in topological order, so a producer's Q/DQ pair exists before any consumer is rewired to it
        var ordered = new List<NodeProto>(front);
        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
                if (rewired.TryGetValue(node.Input[i], out var to)) node.Input[i] = to;
            ordered.Add(node);
            foreach (var output in node.Output.Where(plan.Activations.Contains))
                ordered.AddRange(QdqPair(output, scales[output], initializers, rewired));
        }
        graph.Node.Clear();
        graph.Node.AddRange(ordered);
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers.Values);
        model.ProducerName = "echoface-quantize";
        return model;
    }

    private sealed record QuantPlan(HashSet<string> Activations);

    /// <summary>Float inputs and outputs of the quantized operators, except tensors that reach a graph output unchanged (the model's answer stays float).</summary>
    private static QuantPlan Plan(GraphProto graph, Func<string, bool> isFloat)
    {
        var initializerNames = graph.Initializer.Select(t => t.Name).ToHashSet();
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n);
        // walk back from the outputs through shape-only operators
        var toOutput = new HashSet<string>(outputs);
        foreach (var node in graph.Node.Reverse())
            if (ShapeOnly.Contains(node.OpType) && node.Output.Any(toOutput.Contains)) toOutput.Add(node.Input[0]);

        var activations = new HashSet<string>();
        foreach (var node in graph.Node.Where(n => Quantized.Contains(n.OpType)))
        {
            var inputs = (node.OpType == "Add" ? node.Input : node.Input.Take(1)).Where(i => i.Length > 0 && !initializerNames.Contains(i)).ToList();
            var output = node.Output[0];
            if (!inputs.All(isFloat)) continue;
            foreach (var i in inputs) activations.Add(i);
            if (toOutput.Contains(output)) continue;
            // Conv -> Relu: quantize after the Relu, which ONNX Runtime then folds into the integer Conv
            var quantizedOutput = consumers[output].ToList() is [{ OpType: "Relu" } relu] && !toOutput.Contains(relu.Output[0]) ? relu.Output[0] : output;
            if (isFloat(quantizedOutput)) activations.Add(quantizedOutput);
        }
        // an Add's inputs that are constants stay as they are
        activations.RemoveWhere(initializerNames.Contains);
        return new QuantPlan(activations);
    }

    /// <summary>uint8, asymmetric, the range widened to hold 0 exactly.</summary>
    public static (float Scale, byte ZeroPoint) ActivationScale(TensorRange range)
    {
        var min = Math.Min(0f, range.Min);
        var max = Math.Max(0f, range.Max);
        if (!float.IsFinite(min) || !float.IsFinite(max)) throw new ArgumentException($"range [{range.Min}, {range.Max}] is not finite");
        var scale = (max - min) / 255f;
        if (scale <= 0) return (1f, 0);
        var zero = (byte)Math.Clamp(MathF.Round(-min / scale), 0, 255);
        return (scale, zero);
    }

    private static NodeProto[] QdqPair(string tensor, (float Scale, byte ZeroPoint) q, Dictionary<string, TensorProto> initializers,
        Dictionary<string, string> rewired)
    {
        var scaleName = $"{tensor}_scale";
        var zeroName = $"{tensor}_zero_point";
        initializers[scaleName] = OnnxTensors.Floats(scaleName, [], [q.Scale]);
        initializers[zeroName] = OnnxTensors.UInt8s(zeroName, [], [q.ZeroPoint]);
        var quantized = $"{tensor}_quantized";
        var dequantized = $"{tensor}_dequantized";
        rewired[tensor] = dequantized;
        return
        [
            OnnxTensors.Node("QuantizeLinear", $"{tensor}_QuantizeLinear", [tensor, scaleName, zeroName], quantized),
            OnnxTensors.Node("DequantizeLinear", $"{tensor}_DequantizeLinear", [quantized, scaleName, zeroName], dequantized),
        ];
    }

    /// <summary>Symmetric int8 (zero point 0, -127..127), per output channel (axis 0) or per tensor; returns the DQ output and the scales.</summary>
    private static (string Dequantized, float[] Scales) QuantizeWeight(TensorProto w, bool perChannel, Dictionary<string, TensorProto> initializers,
        List<NodeProto> front)
    {
        var values = OnnxTensors.ReadFloats(w);
        var channels = perChannel ? (int)w.Dims[0] : 1;
        var per = values.Length / channels;
        var scales = new float[channels];
        var q = new sbyte[values.Length];
        for (var c = 0; c < channels; c++)
        {
            var span = values.AsSpan(c * per, per);
            var absMax = 0f;
            foreach (var v in span) absMax = Math.Max(absMax, Math.Abs(v));
            scales[c] = absMax > 0 ? absMax / 127f : 1f;
            for (var k = 0; k < per; k++) q[c * per + k] = (sbyte)Math.Clamp(MathF.Round(span[k] / scales[c]), -127, 127);
        }
        var qName = $"{w.Name}_quantized";
        initializers[qName] = OnnxTensors.Int8s(qName, w.Dims, q);
        long[] scaleDims = perChannel ? [channels] : [];
        initializers[$"{w.Name}_scale"] = OnnxTensors.Floats($"{w.Name}_scale", scaleDims, scales);
        initializers[$"{w.Name}_zero_point"] = OnnxTensors.Int8s($"{w.Name}_zero_point", scaleDims, new sbyte[channels]);
        var dequantized = $"{w.Name}_dequantized";
        var dq = OnnxTensors.Node("DequantizeLinear", $"{w.Name}_DequantizeLinear", [qName, $"{w.Name}_scale", $"{w.Name}_zero_point"], dequantized);
        if (perChannel) dq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        front.Add(dq);
        return (dequantized, scales);
    }

    /// <summary>int32 with scale input-scale x weight-scale per channel, as the integer kernels add it (named per node: the scale is the node's).</summary>
    private static string QuantizeBias(TensorProto b, string node, float inputScale, float[] weightScales, Dictionary<string, TensorProto> initializers,
        List<NodeProto> front)
    {
        var values = OnnxTensors.ReadFloats(b);
        var scales = new float[values.Length];
        var q = new int[values.Length];
        for (var c = 0; c < values.Length; c++)
        {
            scales[c] = inputScale * weightScales[weightScales.Length == 1 ? 0 : c];
            q[c] = (int)Math.Clamp(Math.Round(values[c] / (double)scales[c]), int.MinValue + 1, int.MaxValue);
        }
        var name = $"{b.Name}_{node}";
        var qName = $"{name}_quantized";
        initializers[qName] = OnnxTensors.Int32s(qName, b.Dims, q);
        initializers[$"{name}_scale"] = OnnxTensors.Floats($"{name}_scale", [values.Length], scales);
        initializers[$"{name}_zero_point"] = OnnxTensors.Int32s($"{name}_zero_point", [values.Length], new int[values.Length]);
        var dequantized = $"{name}_dequantized";
        var dq = OnnxTensors.Node("DequantizeLinear", $"{name}_DequantizeLinear", [qName, $"{name}_scale", $"{name}_zero_point"], dequantized);
        dq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        front.Add(dq);
        return dequantized;
    }


    public static byte[] Serialize(ModelProto model) => model.ToByteArray();
}
