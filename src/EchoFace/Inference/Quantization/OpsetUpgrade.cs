using Onnx;

namespace EchoFace.Inference.Quantization;

/// <summary>
/// Moves an ONNX graph from opset 9..12 to 13, which the integer kernels and per-channel Q/DQ need. Only operators whose
/// meaning is known are moved: unchanged ones as they are, Squeeze/Unsqueeze/Slice with their attributes turned into
/// inputs, Softmax only over its last axis (where the old and new definitions agree). Anything else is refused by name.
/// </summary>
public static class OpsetUpgrade
{
    public const int Target = 13;

    /// <summary>Same inference semantics from opset 9 to 13.</summary>
    private static readonly HashSet<string> Unchanged =
    [
        "Conv", "Relu", "PRelu", "LeakyRelu", "Add", "Sub", "Mul", "Div", "Concat", "Reshape", "Transpose", "Shape", "Gather",
        "Exp", "Log", "Sqrt", "Constant", "BatchNormalization", "GlobalAveragePool", "Sigmoid", "Tanh", "MatMul", "Gemm",
        "Flatten", "Identity", "MaxPool", "AveragePool", "Abs", "Neg", "Floor", "Ceil",
    ];

    public static void Apply(ModelProto model)
    {
        var import = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")
                     ?? throw new ModelException("the model imports no ONNX operator set");
        if (import.Version >= Target) return;
        if (import.Version < 9) throw new ModelException($"the model uses ONNX opset {import.Version}; only 9 and later can be quantized here");
        var graph = model.Graph;
        var ranks = graph.Output.Concat(graph.ValueInfo)
            .Where(v => v.Type?.TensorType?.Shape is not null)
            .ToDictionary(v => v.Name, v => v.Type.TensorType.Shape.Dim.Count);
        var blocked = graph.Node.Where(n => n.Domain is "" or "ai.onnx" && !Unchanged.Contains(n.OpType) && !Convertible(n, ranks)).Select(n => n.OpType).Distinct().ToList();
        if (blocked.Count > 0)
            throw new ModelException($"the model cannot be moved from opset {import.Version} to {Target} for quantization: {string.Join(", ", blocked)} would change meaning");

        foreach (var node in graph.Node)
        {
            switch (node.OpType)
            {
                case "Squeeze" or "Unsqueeze":
                    MoveToInput(graph, node, "axes", []);
                    break;
                case "Slice":
                    // opset 10 order: data, starts, ends, axes
                    var starts = Take(node, "starts");
                    var ends = Take(node, "ends");
                    var axes = Take(node, "axes");
                    node.Input.Add(Constant(graph, $"{node.Name}_{node.Output[0]}_starts", starts!));
                    node.Input.Add(Constant(graph, $"{node.Name}_{node.Output[0]}_ends", ends!));
                    if (axes is not null) node.Input.Add(Constant(graph, $"{node.Name}_{node.Output[0]}_axes", axes));
                    break;
            }
        }
        import.Version = Target;
        if (model.IrVersion < 7) model.IrVersion = 7;
    }

    private static bool Convertible(NodeProto node, Dictionary<string, int> ranks) => node.OpType switch
    {
        "Squeeze" or "Unsqueeze" => true,
        "Slice" => node.Attribute.Any(a => a.Name == "starts") && node.Attribute.Any(a => a.Name == "ends"),
        "Softmax" => Axis(node) is var axis && (axis == -1 || ranks.TryGetValue(node.Output[0], out var rank) && axis == rank - 1),
        _ => false,
    };

    private static long Axis(NodeProto node) => node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1;

    private static long[]? Take(NodeProto node, string name)
    {
        var a = node.Attribute.FirstOrDefault(x => x.Name == name);
        if (a is null) return null;
        node.Attribute.Remove(a);
        return [.. a.Ints];
    }

    private static void MoveToInput(GraphProto graph, NodeProto node, string attribute, long[] fallback)
    {
        var values = Take(node, attribute) ?? fallback;
        if (values.Length > 0) node.Input.Add(Constant(graph, $"{node.Name}_{node.Output[0]}_{attribute}", values));
    }

    private static string Constant(GraphProto graph, string name, long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        graph.Initializer.Add(t);
        return name;
    }
}
