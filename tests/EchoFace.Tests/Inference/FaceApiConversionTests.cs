using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Inference.Conversion;
using EchoFace.Media;

namespace EchoFace.Tests.Inference;

/// <summary>The face-api.js embedder converted to ONNX by EchoFace, against face-api.js itself (Node, TF.js wasm) on the same crops.</summary>
[Trait("Category", "Integration")]
public class FaceApiConversionTests
{
    [Fact]
    public void Descriptors_of_the_converted_graph_match_face_api_js_on_aligned_photos()
    {
        var dir = TestEnvironment.TempDirectory();
        using var pipeline = TestEnvironment.Pipeline(new FaceOptions { Embedder = "faceapi_resnet" });
        var photos = Directory.GetDirectories(TestEnvironment.Data("faces", "photos")).Order(StringComparer.Ordinal)
            .Select(d => Directory.GetFiles(d).Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal).First()).Take(8).ToList();
        var ours = new List<float[]>();
        var crops = new List<string>();
        foreach (var photo in photos)
        {
            var image = ImageDecoder.DecodeFile(photo);
            var face = pipeline.Analyze(image, FaceSteps.Landmarks)[0];
            var crop = pipeline.Embedder.ModelCrop(image, face.Points5);
            var file = Path.Combine(dir, $"{crops.Count}.rgb");
            File.WriteAllBytes(file, crop.Data);
            crops.Add(file);
            ours.Add(pipeline.Embedder.Embed(crop, pipeline.Embedder.CropTemplate));
        }
        var reference = Descriptors(pipeline.Embedder.InputSize, crops);
        Assert.Equal(crops.Count, reference.Count);
        for (var i = 0; i < crops.Count; i++)
        {
            var cosine = TensorPrimitives.CosineSimilarity(ours[i], reference[i]);
            Assert.True(cosine >= 1 - 1e-3, $"{photos[i]}: cosine {cosine} between the ONNX graph and face-api.js");
        }
        // and a different face is not equally close: the check can fail
        Assert.True(TensorPrimitives.CosineSimilarity(ours[0], reference[1]) < 0.99f);
    }

    [Fact]
    public void A_weights_file_that_ends_early_is_refused_naming_the_tensor()
    {
        var dir = TestEnvironment.TempDirectory();
        File.WriteAllText(Path.Combine(dir, "m.json"),
            """[{"paths":["m.bin"],"weights":[{"name":"fc","shape":[256,128],"dtype":"float32"}]}]""");
        File.WriteAllBytes(Path.Combine(dir, "m.bin"), new byte[1000]);
        var e = Assert.Throws<ModelException>(() => TfjsWeights.Read(Path.Combine(dir, "m.json")));
        Assert.Contains("'fc'", e.Message);
    }

    [Fact]
    public void Weights_of_another_network_are_refused_naming_what_is_missing()
    {
        var weights = new Dictionary<string, TfjsTensor> { ["fc"] = new("fc", [256, 128], new float[256 * 128]) };
        var e = Assert.Throws<ModelException>(() => FaceApiRecognitionNet.Convert(weights));
        Assert.Contains("conv32_down/conv/filters", e.Message);
    }

    /// <summary>face-api.js's descriptor of each crop, computed by tools/faceapi-oracle under Node.</summary>
    private static List<float[]> Descriptors(int size, IReadOnlyList<string> crops)
    {
        using var json = NodeOracle.Run("@vladmandic/face-api", "descriptors.mjs", [$"{size}", .. crops]);
        return [.. json.RootElement.EnumerateArray().Select(e => e.GetProperty("descriptor").EnumerateArray().Select(v => v.GetSingle()).ToArray())];
    }
}
