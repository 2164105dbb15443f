using EchoFace.Inference.Quantization;
using Onnx;

namespace EchoFace.Inference.Conversion;

/// <summary>
/// face-api.js's FaceRecognitionNet (its port of dlib's ResNet-34-like face descriptor, 150x150 -> 128-d) as an ONNX graph,
/// built from the npm package's TF.js weights. The network is defined in face-api's code, not in its weights file, so it is
/// rebuilt here layer by layer: conv + bias + per-channel scale folded into one Conv, residual blocks, the down blocks' average
/// pooled shortcut padded with zero channels, and TF's 'valid' padding where the shortcut is larger (zero rows and columns added
/// at the end). Input: [N, 3, 150, 150] RGB 0..255 (the mean subtraction and /255 are in the graph); output [N, 128].
/// </summary>
public static class FaceApiRecognitionNet
{
    public const int InputSize = 150;
    public const string Producer = "echoface-faceapi-resnet";
    private static readonly float[] MeanRgb = [122.782f, 117.001f, 104.298f];

    private static readonly string[] Stages =
    [
        "conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3",
        "conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2", "conv256_down_out",
    ];

    public static ModelProto Convert(IReadOnlyDictionary<string, TfjsTensor> weights)
    {
        var b = new GraphBuilder(weights);
        var x = b.Normalize("input", MeanRgb, 1f / 255);
        var size = InputSize;
        (x, size) = b.Conv("conv32_down", x, size, stride: 2, relu: true);
        x = b.Node("MaxPool", "pool", [x], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }));
        size = (size - 3) / 2 + 1;
        foreach (var stage in Stages)
            (x, size) = stage.Contains("_down") ? b.ResidualDown(stage, x, size) : (b.Residual(stage, x, size), size);
        var pooled = b.Node("ReduceMean", "global_mean", [x], ("axes", new long[] { 2, 3 }), ("keepdims", 0L));
        var fc = weights.GetValueOrDefault("fc") ?? throw new ModelException("the weights have no 'fc' tensor: not face-api.js's FaceRecognitionNet");
        b.Initializer("fc", fc.Shape.Select(d => (long)d), fc.Values);
        b.Graph.Node.Add(OnnxTensors.Node("MatMul", "fc", [pooled, "fc"], "embedding"));
        return b.Finish(Producer, "input", ["batch", 3, InputSize, InputSize], "embedding", ["batch", fc.Shape[1]]);
    }

    private sealed class GraphBuilder(IReadOnlyDictionary<string, TfjsTensor> weights) : OnnxGraphWriter("faceapi_recognition")
    {
        private int _channels = 3;

        public string Normalize(string input, float[] mean, float scale)
        {
            Initializer("mean", [1, 3, 1, 1], mean);
            Initializer("scale", [], [scale]);
            Graph.Node.Add(OnnxTensors.Node("Sub", "sub_mean", [input, "mean"], "centred"));
            Graph.Node.Add(OnnxTensors.Node("Mul", "div_255", ["centred", "scale"], "normalized"));
            return "normalized";
        }

        public string Residual(string name, string x, int size)
        {
            var (a, _) = Conv($"{name}/conv1", x, size, stride: 1, relu: true);
            var (c, _) = Conv($"{name}/conv2", a, size, stride: 1, relu: false);
            return Node("Relu", $"{name}/relu", [Node("Add", $"{name}/add", [c, x])]);
        }

        /// <summary>Stride-2 block: the shortcut is the input average-pooled 2x2, zero channels added where the block widens.</summary>
        public (string, int) ResidualDown(string name, string x, int size)
        {
            var inChannels = _channels;
            var (a, small) = Conv($"{name}/conv1", x, size, stride: 2, relu: true);
            var (c, _) = Conv($"{name}/conv2", a, small, stride: 1, relu: false);
            var shortcut = Node("AveragePool", $"{name}/pool", [x], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
            var pooledSize = size / 2;
            if (pooledSize != small) c = Pad($"{name}/pad_out", c, [0, 0, 0, 0, 0, 0, pooledSize - small, pooledSize - small]);
            if (_channels != inChannels) shortcut = Pad($"{name}/pad_shortcut", shortcut, [0, 0, 0, 0, 0, _channels - inChannels, 0, 0]);
            return (Node("Relu", $"{name}/relu", [Node("Add", $"{name}/add", [shortcut, c])]), pooledSize);
        }

        /// <summary>conv + bias, then scale (x * w + b) per output channel, folded into the Conv's weights and bias.</summary>
        public (string, int) Conv(string name, string x, int size, int stride, bool relu)
        {
            var filters = Get($"{name}/conv/filters");
            var bias = Get($"{name}/conv/bias").Values;
            var gain = Get($"{name}/scale/weights").Values;
            var shift = Get($"{name}/scale/biases").Values;
            int kh = filters.Shape[0], kw = filters.Shape[1], cin = filters.Shape[2], cout = filters.Shape[3];
            if (cin != _channels) throw new ModelException($"'{name}' takes {cin} channels where the network has {_channels}");
            var oihw = new float[filters.Values.Length];
            for (var o = 0; o < cout; o++)
                for (var i = 0; i < cin; i++)
                    for (var y = 0; y < kh; y++)
                        for (var xk = 0; xk < kw; xk++)
                            oihw[((o * cin + i) * kh + y) * kw + xk] = filters.Values[((y * kw + xk) * cin + i) * cout + o] * gain[o];
            var folded = new float[cout];
            for (var o = 0; o < cout; o++) folded[o] = bias[o] * gain[o] + shift[o];
            Initializer($"{name}/W", [cout, cin, kh, kw], oihw);
            Initializer($"{name}/B", [cout], folded);
            // TF 'same' at stride 1 pads (k-1)/2 on each side; the stride-2 convolutions are 'valid'
            var pad = stride == 1 ? (kh - 1) / 2 : 0;
            var output = Node("Conv", $"{name}", [x, $"{name}/W", $"{name}/B"],
                ("kernel_shape", new long[] { kh, kw }), ("strides", new long[] { stride, stride }), ("pads", new long[] { pad, pad, pad, pad }));
            _channels = cout;
            var outSize = (size + 2 * pad - kh) / stride + 1;
            return (relu ? Node("Relu", $"{name}/relu", [output]) : output, outSize);
        }

        private string Pad(string name, string x, long[] pads)
        {
            Graph.Initializer.Add(OnnxTensors.Int64s($"{name}/pads", [pads.Length], pads));
            return Node("Pad", name, [x, $"{name}/pads"]);
        }

        private TfjsTensor Get(string name) =>
            weights.GetValueOrDefault(name) ?? throw new ModelException($"the weights have no '{name}' tensor: not face-api.js's FaceRecognitionNet");
    }
}
