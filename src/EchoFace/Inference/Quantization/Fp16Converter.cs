using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace EchoFace.Inference.Quantization;

/// <summary>
/// A float16 copy of a float32 ONNX graph for the GPU providers (CUDA, TensorRT), which run half precision at up to twice the
/// speed: every float weight and constant becomes float16, the graph's inputs and outputs stay float32 behind Cast nodes, so
/// the code feeding the model does not change. Operators whose float inputs must stay float32 are refused by name.
/// Written here: ONNX Runtime's converter (onnxconverter-common) is Python-only.
/// </summary>
public static class Fp16Converter
{
    private const int Float = OnnxTensors.Float, Float16 = OnnxTensors.Float16;

    /// <summary>Operators with a float input that is a size or a scale (they keep float32 in every opset).</summary>
    private static readonly HashSet<string> Refused = ["Resize", "Upsample", "RoiAlign", "NonMaxSuppression", "RandomNormal", "RandomUniform"];

    public static ModelProto Convert(ModelProto floatModel)
    {
        var model = floatModel.Clone();
        var graph = model.Graph;
        graph.RemoveInitializersFromInputs();
        var refused = graph.Node.Where(n => Refused.Contains(n.OpType)).Select(n => n.OpType).Distinct().ToList();
        if (refused.Count > 0) throw new ModelException($"the model cannot be converted to float16: {string.Join(", ", refused)} take float32 inputs");

        foreach (var t in graph.Initializer.Where(t => t.DataType == Float)) ToHalf(t);
        foreach (var node in graph.Node)
        {
            foreach (var a in node.Attribute)
                if (a.T is { DataType: Float } t) ToHalf(t); // Constant values
            // a Cast to float inside the graph now casts to float16, so what follows stays in one precision
            if (node.OpType == "Cast" && node.Attribute.FirstOrDefault(a => a.Name == "to") is { I: Float } to) to.I = Float16;
        }

        var inputs = graph.Input.Where(i => i.Type?.TensorType?.ElemType == Float).Select(i => i.Name).ToHashSet();
        var outputs = graph.Output.Where(o => o.Type?.TensorType?.ElemType == Float).Select(o => o.Name).ToHashSet();
        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
                if (inputs.Contains(node.Input[i])) node.Input[i] += "_fp16";
            for (var i = 0; i < node.Output.Count; i++)
                if (outputs.Contains(node.Output[i])) node.Output[i] += "_fp16";
        }
        var nodes = inputs.Select(i => Cast(i, $"{i}_fp16", Float16)).ToList();
        nodes.AddRange(graph.Node);
        nodes.AddRange(outputs.Select(o => Cast($"{o}_fp16", o, Float)));
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        // intermediate types change: ONNX Runtime infers them again
        graph.ValueInfo.Clear();
        model.ProducerName = "echoface-fp16";
        return model;
    }

    private static void ToHalf(TensorProto t)
    {
        var values = OnnxTensors.ReadFloats(t);
        var half = new Half[values.Length];
        for (var i = 0; i < values.Length; i++) half[i] = (Half)values[i];
        t.FloatData.Clear();
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(half.AsSpan()));
        t.DataType = Float16;
    }

    private static NodeProto Cast(string from, string to, int type)
    {
        var node = OnnxTensors.Node("Cast", $"{to}_Cast", [from], to);
        node.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = type });
        return node;
    }
}
