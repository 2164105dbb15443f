using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace EchoFace.Inference.Quantization;

/// <summary>Reading and writing ONNX initializers, and making nodes (the schema's classes come from OnnxSharp; the byte layout is ours).</summary>
internal static class OnnxTensors
{
    public const int Float = (int)TensorProto.Types.DataType.Float;
    public const int Float16 = (int)TensorProto.Types.DataType.Float16;
    public const int UInt8 = (int)TensorProto.Types.DataType.Uint8;
    public const int Int8 = (int)TensorProto.Types.DataType.Int8;
    public const int Int32 = (int)TensorProto.Types.DataType.Int32;
    public const int Int64 = (int)TensorProto.Types.DataType.Int64;

    public static float[] ReadFloats(TensorProto t)
    {
        if (t.DataType != Float) throw new ModelException($"initializer '{t.Name}' is of ONNX type {t.DataType}, not float");
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new ModelException($"initializer '{t.Name}' is stored outside the model file; external data is not supported here");
        return t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
    }

    public static long Elements(TensorProto t) => t.Dims.Aggregate(1L, (a, d) => a * d);

    public static TensorProto Floats(string name, IEnumerable<long> dims, ReadOnlySpan<float> values) => Raw(name, Float, dims, MemoryMarshal.AsBytes(values));

    public static TensorProto Int8s(string name, IEnumerable<long> dims, ReadOnlySpan<sbyte> values) => Raw(name, Int8, dims, MemoryMarshal.AsBytes(values));

    public static TensorProto UInt8s(string name, IEnumerable<long> dims, ReadOnlySpan<byte> values) => Raw(name, UInt8, dims, values);

    public static TensorProto Int32s(string name, IEnumerable<long> dims, ReadOnlySpan<int> values) => Raw(name, Int32, dims, MemoryMarshal.AsBytes(values));

    public static TensorProto Int64s(string name, IEnumerable<long> dims, ReadOnlySpan<long> values) => Raw(name, Int64, dims, MemoryMarshal.AsBytes(values));

    private static TensorProto Raw(string name, int type, IEnumerable<long> dims, ReadOnlySpan<byte> bytes)
    {
        var t = new TensorProto { Name = name, DataType = type, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        return t;
    }

    /// <summary>A node of the default domain with one output.</summary>
    public static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }
}
