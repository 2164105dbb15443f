using Google.Protobuf;

namespace EchoFace.Inference.Conversion;

/// <summary>The conversions set-up can run on a fetched source (a manifest entry's `convert`), each writing one ONNX file.</summary>
public static class ModelConverters
{
    public const string FaceApiRecognition = "faceapi-recognition";
    public const string TfjsGraph = "tfjs-graph";

    public static IReadOnlyList<string> Known => [FaceApiRecognition, TfjsGraph];

    /// <summary>Converts <paramref name="source"/> (the entry the manifest names, its companions beside it) into <paramref name="destination"/>.</summary>
    public static void Convert(string kind, string source, string destination)
    {
        var model = kind switch
        {
            FaceApiRecognition => FaceApiRecognitionNet.Convert(TfjsWeights.Read(source)),
            TfjsGraph => TfjsGraphModel.Convert(source),
            _ => throw new ModelException($"unknown conversion '{kind}' (known: {string.Join(", ", Known)})"),
        };
        using var output = File.Create(destination);
        model.WriteTo(output);
    }
}
