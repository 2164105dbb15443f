using Google.Protobuf;

namespace EchoFace.Inference.Conversion;

/// <summary>The conversions set-up can run on a fetched source (a manifest entry's `convert`), each writing one ONNX file.</summary>
public static class ModelConverters
{
    public const string FaceApiRecognition = "faceapi-recognition";
    public const string TfjsGraph = "tfjs-graph";

    public static IReadOnlyList<string> Known => [FaceApiRecognition, TfjsGraph];

    /// <summary>
    /// Converts <paramref name="source"/> (the entry the manifest names, its companions beside it) into <paramref name="destination"/>;
    /// <paramref name="output"/> is the graph node to output (tfjs-graph only).
    /// </summary>
    public static void Convert(string kind, string source, string destination, string? output = null)
    {
        var model = kind switch
        {
            FaceApiRecognition when output is null => FaceApiRecognitionNet.Convert(TfjsWeights.Read(source)),
            FaceApiRecognition => throw new ModelException($"{source}: {FaceApiRecognition} has one output; graphOutput is for {TfjsGraph}"),
            TfjsGraph => TfjsGraphModel.Convert(source, output),
            _ => throw new ModelException($"unknown conversion '{kind}' (known: {string.Join(", ", Known)})"),
        };
        using var file = File.Create(destination);
        model.WriteTo(file);
    }
}
