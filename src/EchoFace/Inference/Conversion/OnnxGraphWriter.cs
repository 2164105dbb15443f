using EchoFace.Inference.Quantization;
using Onnx;

namespace EchoFace.Inference.Conversion;

/// <summary>The ONNX graph a converter writes into: nodes with their attributes, float initializers, one input and one output (opset 13).</summary>
internal class OnnxGraphWriter(string graphName)
{
    public GraphProto Graph { get; } = new() { Name = graphName };

    /// <summary>Adds a node with one output, named after the node; attribute values are long (int), long[] (ints) or string.</summary>
    public string Node(string op, string name, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var node = OnnxTensors.Node(op, name, inputs, $"{name}:0");
        foreach (var (attribute, value) in attributes)
        {
            var a = new AttributeProto { Name = attribute };
            switch (value)
            {
                case long i: (a.Type, a.I) = (AttributeProto.Types.AttributeType.Int, i); break;
                case long[] ints:
                    a.Type = AttributeProto.Types.AttributeType.Ints;
                    a.Ints.AddRange(ints);
                    break;
                case string s: (a.Type, a.S) = (AttributeProto.Types.AttributeType.String, Google.Protobuf.ByteString.CopyFromUtf8(s)); break;
                default: throw new ArgumentException($"attribute {attribute}: {value.GetType().Name} is not long, long[] or string");
            }
            node.Attribute.Add(a);
        }
        Graph.Node.Add(node);
        return node.Output[0];
    }

    public void Initializer(string name, IEnumerable<long> dims, ReadOnlySpan<float> values) =>
        Graph.Initializer.Add(OnnxTensors.Floats(name, dims, values));

    public void Int64Initializer(string name, long[] values) => Graph.Initializer.Add(OnnxTensors.Int64s(name, [values.Length], values));

    /// <summary>Declares the graph's input and output (a string dimension is symbolic, e.g. "batch") and wraps it in a model.</summary>
    public ModelProto Finish(string producer, string input, object[] inputDims, string output, object[] outputDims)
    {
        Graph.Input.Add(Tensor(input, inputDims));
        Graph.Output.Add(Tensor(output, outputDims));
        var model = new ModelProto { IrVersion = 8, ProducerName = producer, Graph = Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private static ValueInfoProto Tensor(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensors.Float, Shape = shape } },
        };
    }
}
