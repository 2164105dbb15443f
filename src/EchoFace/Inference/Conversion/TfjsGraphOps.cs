namespace EchoFace.Inference.Conversion;

/// <summary>Each TensorFlow op of a TF.js graph model as ONNX nodes (opset 13), images held in NCHW.</summary>
public static partial class TfjsGraphModel
{
    private sealed partial class Converter
    {
        private Value Input(TfNode node)
        {
            var dims = node.Attr.GetProperty("shape").GetProperty("shape").GetProperty("dim").EnumerateArray()
                .Select(d => long.Parse(d.GetProperty("size").GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            if (dims.Length != 4 || dims[3] != 3) throw Refuse($"the input is [{string.Join(", ", dims)}]; an NHWC image is converted");
            _inputDims = ["batch", dims[3], dims[1], dims[2]];
            return new Value("input", 4, 3, true);
        }

        /// <summary>
        /// Conv2D and DepthwiseConv2dNative, plain or fused with a bias and an activation. TF's filters are HWIO (depthwise: H, W, C,
        /// multiplier); ONNX's are OIHW (depthwise: a grouped convolution, output channel c * multiplier + m).
        /// </summary>
        private Value Conv(TfNode node, bool depthwise)
        {
            var x = Of(node.Inputs[0]);
            if (!x.Nchw) throw Refuse($"'{node.Name}' convolves a tensor that is not an image");
            var fused = node.Op.Contains("Fused", StringComparison.Ordinal) ? BiasFirst(node) : [];
            if (Str(node, "data_format", "NHWC") != "NHWC" || (fused.Length > 0 && Int(node, "num_args", 1) != 1))
                throw Refuse($"'{node.Name}': only NHWC convolutions, with one bias when fused, are converted");
            var filter = Constant(node.Inputs[1]);
            int kh = filter.Shape[0], kw = filter.Shape[1], cin = filter.Shape[2], m = filter.Shape[3];
            int cout = depthwise ? cin * m : m, perGroup = depthwise ? 1 : cin;
            var oihw = new float[filter.Values.Length];
            for (var y = 0; y < kh; y++)
                for (var xk = 0; xk < kw; xk++)
                    for (var i = 0; i < cin; i++)
                        for (var o = 0; o < m; o++)
                        {
                            int to = depthwise ? i * m + o : o, from = depthwise ? 0 : i;
                            oihw[((to * perGroup + from) * kh + y) * kw + xk] = filter.Values[((y * kw + xk) * cin + i) * m + o];
                        }
            var name = Fresh("conv");
            Initializer($"{name}/W", [cout, perGroup, kh, kw], oihw);
            List<string> inputs = [x.Onnx, $"{name}/W"];
            if (fused.Length > 0)
            {
                Initializer($"{name}/B", [cout], Constant(node.Inputs[2]).Values);
                inputs.Add($"{name}/B");
            }
            var strides = Ints(node, "strides");
            var dilations = Ints(node, "dilations");
            List<(string, object)> attributes =
            [
                ("kernel_shape", new long[] { kh, kw }), ("strides", new[] { strides[1], strides[2] }),
                ("dilations", dilations.Length == 4 ? new[] { dilations[1], dilations[2] } : [1, 1]), ("auto_pad", Padding(node)),
            ];
            if (depthwise) attributes.Add(("group", (long)cin));
            var y0 = new Value(Node("Conv", name, [.. inputs], [.. attributes]), 4, cout, true);
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
            return x with
            {
                Onnx = Node(op, Fresh(op), [x.Onnx], ("kernel_shape", new[] { k[1], k[2] }), ("strides", new[] { s[1], s[2] }),
                    ("auto_pad", Padding(node))),
            };
        }

        /// <summary>Zero padding: TF's [rank, 2] (before, after) per axis as ONNX's pads (every axis's before, then every after).</summary>
        private Value Pad(TfNode node)
        {
            var x = Of(node.Inputs[0]);
            var given = Constant(node.Inputs[1]).Values;
            if (given.Length != 2 * x.Rank) throw Refuse($"'{node.Name}' pads {given.Length / 2} axes of a rank-{x.Rank} tensor");
            var pads = new long[2 * x.Rank];
            for (var a = 0; a < x.Rank; a++)
            {
                var to = Axis(x, a);
                (pads[to], pads[x.Rank + to]) = ((long)given[2 * a], (long)given[2 * a + 1]);
            }
            var name = Fresh("pad");
            Int64Initializer($"{name}/pads", pads);
            return x with { Onnx = Node("Pad", name, [x.Onnx, $"{name}/pads"]) };
        }

        private Value Unary(string op, Value x) => x with { Onnx = Node(op, Fresh(op), [x.Onnx]) };

        private Value Square(Value x) => x with { Onnx = Node("Mul", Fresh("square"), [x.Onnx, x.Onnx]) };

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

        /// <summary>An element-wise op of two tensors, or of a tensor and a constant (a constant is laid out as its tensor is).</summary>
        private Value Binary(TfNode node)
        {
            var op = node.Op switch { "AddV2" => "Add", "Maximum" => "Max", "Minimum" => "Min", var o => o };
            var tensors = node.Inputs.Where(i => !weights.ContainsKey(i)).Select(Of).ToArray();
            var name = Fresh(node.Op);
            if (tensors.Length == 0) throw Refuse($"'{node.Name}' ({node.Op}) has no tensor operand");
            if (tensors.Length == 2 && (tensors[0].Nchw != tensors[1].Nchw || tensors[0].Rank != tensors[1].Rank))
                throw Refuse($"'{node.Name}' ({node.Op}) combines tensors of different ranks or layouts");
            var x = tensors[0];
            var inputs = node.Inputs.Select(input => weights.ContainsKey(input) ? ConstantLike(x, Constant(input), $"{name}/c") : Of(input).Onnx);
            return x with { Onnx = Node(op, name, [.. inputs]), Width = tensors.Max(t => t.Width) };
        }

        /// <summary>A constant operand as an initializer that broadcasts against <paramref name="x"/>: a vector or NHWC block over channels.</summary>
        private string ConstantLike(Value x, TfjsTensor c, string name)
        {
            var shape = c.Shape;
            if (shape.Length == 0 || !x.Nchw)
                Initializer(name, shape.Select(d => (long)d), c.Values);
            else if (shape.Length == 1)
                Initializer(name, [1, shape[0], 1, 1], c.Values);
            else if (shape.Length == 4)
            {
                int n = shape[0], h = shape[1], w = shape[2], ch = shape[3];
                var nchw = new float[c.Values.Length];
                for (var i = 0; i < n * h * w; i++)
                    for (var k = 0; k < ch; k++) nchw[((i / (h * w)) * ch + k) * h * w + i % (h * w)] = c.Values[i * ch + k];
                Initializer(name, [n, ch, h, w], nchw);
            }
            else throw Refuse($"'{c.Name}' has rank {shape.Length} and is used with an image");
            return name;
        }

        /// <summary>Mean and Sum over constant axes; over an image's H and W without keep_dims they leave [batch, channels].</summary>
        private Value Reduce(TfNode node)
        {
            var x = Of(node.Inputs[0]);
            var axes = Constant(node.Inputs[1]).Values.Select(a => Axis(x, (long)a)).Distinct().Order().ToArray();
            var keep = Bool(node, "keep_dims");
            var name = Fresh(node.Op);
            string y;
            if (node.Op == "Mean") y = Node("ReduceMean", name, [x.Onnx], ("axes", axes), ("keepdims", keep ? 1L : 0L));
            else
            {
                Int64Initializer($"{name}/axes", axes);
                y = Node("ReduceSum", name, [x.Onnx, $"{name}/axes"], ("keepdims", keep ? 1L : 0L));
            }
            var channelAxis = x.Nchw ? 1 : x.Rank - 1;
            if (keep) return x with { Onnx = y, Width = axes.Contains(channelAxis) ? 1 : x.Width };
            return Dropped(node, x, axes, y);
        }

        private Value Squeeze(TfNode node)
        {
            var x = Of(node.Inputs[0]);
            var axes = Ints(node, "squeeze_dims").Select(a => Axis(x, a)).Distinct().Order().ToArray();
            if (axes.Length == 0) throw Refuse($"'{node.Name}' squeezes every axis of size 1; only named axes are converted");
            var name = Fresh("squeeze");
            Int64Initializer($"{name}/axes", axes);
            return Dropped(node, x, axes, Node("Squeeze", name, [x.Onnx, $"{name}/axes"]));
        }

        /// <summary>The tensor left when <paramref name="axes"/> are removed: an image's H and W, or axes before a 2-D+ tensor's last.</summary>
        private Value Dropped(TfNode node, Value x, long[] axes, string onnx)
        {
            if (x.Nchw && axes.SequenceEqual([2L, 3L])) return new Value(onnx, 2, x.Width, false);
            if (!x.Nchw && !axes.Contains(x.Rank - 1)) return x with { Onnx = onnx, Rank = x.Rank - axes.Length };
            throw Refuse($"'{node.Name}' ({node.Op}) removes axes [{string.Join(", ", axes)}]; an image's H and W, or leading axes, are converted");
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

        /// <summary>MatMul of a [batch, n] tensor by a constant matrix; _FusedMatMul adds its bias and a Relu.</summary>
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
            var name = Fresh("matmul");
            Initializer($"{name}/W", [rows, cols], w);
            var y = new Value(Node("MatMul", name, [x.Onnx, $"{name}/W"]), 2, cols, false);
            if (node.Op == "MatMul") return y;
            var fused = BiasFirst(node);
            Initializer($"{name}/B", [cols], Constant(node.Inputs[2]).Values);
            y = y with { Onnx = Node("Add", $"{name}/bias", [y.Onnx, $"{name}/B"]) };
            return fused.Skip(1).Aggregate(y, (v, op) =>
                op == "Relu" ? Unary("Relu", v) : throw Refuse($"'{node.Name}' fuses {op}; Relu is converted"));
        }
    }
}
