using System.Text;

namespace EchoFace.Tests.Voice;

/// <summary>
/// Writes a one-node ONNX model in protobuf wire format: enough to build a real speaker model with a Kaldi fbank input (the mean
/// filterbank over time) so the swap-in path runs end to end in ONNX Runtime. Own code for tests: no ONNX package is on the mirror.
/// </summary>
public static class OnnxGraphWriter
{
    /// <summary>feats float [1, T, bins] -> ReduceMean over time -> embedding float [1, bins] (opset 13).</summary>
    public static byte[] MeanOverTime(int bins)
    {
        var node = Concat(
            Text(1, "feats"), Text(2, "embedding"), Text(3, "mean"), Text(4, "ReduceMean"),
            Message(5, Concat(Text(1, "axes"), Varint(8, 1), Varint(20, 7))),      // ints [1], type INTS
            Message(5, Concat(Text(1, "keepdims"), Varint(3, 0), Varint(20, 2)))); // i 0, type INT
        var graph = Concat(
            Message(1, node), Text(2, "fbank_mean"),
            Message(11, Tensor("feats", Dim(1), Text(2, "T"), Dim(bins))),
            Message(12, Tensor("embedding", Dim(1), Dim(bins))));
        return Concat(Varint(1, 7), Text(2, "echoface-tests"), Message(7, graph), Message(8, Concat(Text(1, ""), Varint(2, 13))));
    }

    private static byte[] Tensor(string name, params byte[][] dims) =>
        Concat(Text(1, name), Message(2, Message(1, Concat(Varint(1, 1), Message(2, Concat(dims.Select(d => Message(1, d)).ToArray()))))));

    private static byte[] Dim(long value) => Varint(1, value);

    private static byte[] Varint(int field, long value) => Concat(Key(field, 0), Raw((ulong)value));

    private static byte[] Text(int field, string value) => Message(field, Encoding.UTF8.GetBytes(value));

    private static byte[] Message(int field, byte[] body) => Concat(Key(field, 2), Raw((ulong)body.Length), body);

    private static byte[] Key(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

    private static byte[] Raw(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        } while (value != 0);
        return [.. bytes];
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
