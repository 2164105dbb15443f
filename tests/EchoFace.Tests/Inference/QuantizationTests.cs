using System.Numerics.Tensors;
using EchoFace.Inference;
using EchoFace.Inference.Quantization;
using EchoFace.Tests.Cli;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace EchoFace.Tests.Inference;

[Trait("Category", "Integration")]
public class QuantizationTests
{
    // ---- a small opset-9 network built here: conv -> prelu -> conv (+ residual add) -> slice -> unsqueeze -> softmax, plus integer shape arithmetic

    private static TensorProto Floats(string name, long[] dims, Random random, float scale)
    {
        var n = (int)dims.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static NodeProto Node(string op, string[] inputs, string output, params (string Name, long[] Ints)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{output}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        foreach (var (name, ints) in attributes)
        {
            var a = new AttributeProto { Name = name };
            if (ints.Length == 1 && name == "axis") { a.Type = AttributeProto.Types.AttributeType.Int; a.I = ints[0]; }
            else { a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ints); }
            node.Attribute.Add(a);
        }
        return node;
    }

    private static ValueInfoProto Value(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }

    internal static ModelProto SmallNetwork()
    {
        var random = new Random(7);
        var g = new GraphProto { Name = "small" };
        g.Input.Add(Value("x", 1, 3, 16, 16));
        g.Initializer.Add(Floats("w1", [8, 3, 3, 3], random, 0.3f));
        g.Initializer.Add(Floats("b1", [8], random, 0.1f));
        g.Initializer.Add(Floats("slope", [8, 1, 1], random, 0.25f));
        g.Initializer.Add(Floats("w2", [8, 8, 1, 1], random, 0.3f));
        g.Initializer.Add(Floats("b2", [8], random, 0.1f));
        g.Node.Add(Node("Conv", ["x", "w1", "b1"], "c1", ("pads", [1, 1, 1, 1])));
        g.Node.Add(Node("PRelu", ["c1", "slope"], "p1"));
        g.Node.Add(Node("Conv", ["p1", "w2", "b2"], "c2"));
        g.Node.Add(Node("Add", ["c2", "p1"], "sum"));
        g.Node.Add(Node("Relu", ["sum"], "r"));
        g.Node.Add(Node("GlobalAveragePool", ["r"], "pooled"));
        g.Node.Add(Node("Flatten", ["pooled"], "flat"));                 // [1, 8]
        g.Node.Add(Node("Slice", ["flat"], "half", ("axes", [1]), ("starts", [0]), ("ends", [4])));
        g.Node.Add(Node("Unsqueeze", ["half"], "half3", ("axes", [0]))); // [1, 1, 4]
        g.Node.Add(Node("Softmax", ["half3"], "y", ("axis", [2])));
        // integer shape arithmetic beside it: Shape -> Gather -> Add must stay as it is
        g.Node.Add(Node("Shape", ["x"], "shape"));
        var one = new TensorProto { Name = "one", DataType = (int)TensorProto.Types.DataType.Int64 };
        one.Int64Data.Add(1);
        g.Initializer.Add(one);
        g.Node.Add(Node("Add", ["shape", "one"], "shape_plus_one"));
        g.Output.Add(Value("y", 1, 1, 4));
        g.Output.Add(new ValueInfoProto { Name = "shape_plus_one", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 7 } } });
        var model = new ModelProto { IrVersion = 6, Graph = g, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 9 });
        return model;
    }

    private static List<CalibrationInput> Inputs(int n, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => new CalibrationInput([.. Enumerable.Range(0, 3 * 16 * 16).Select(_ => (float)random.NextDouble() * 2 - 1)], [1, 3, 16, 16]))];
    }

    private static float[] Run(InferenceSession session, CalibrationInput input, string output = "y")
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input.Values, input.Shape);
        using var results = session.Run(new RunOptions(), ["x"], [value], [output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void A_quantized_network_runs_on_integer_kernels_and_stays_close_to_the_float_one()
    {
        var model = SmallNetwork();
        var tensors = QdqQuantizer.TensorsToCalibrate(model);
        var ranges = ActivationCalibrator.Calibrate(model, tensors, Inputs(16, 1));
        Assert.DoesNotContain("shape_plus_one", ranges.Keys); // integer: measured as such and left alone
        var quantized = QdqQuantizer.Quantize(model, ranges);

        Assert.Equal(13, quantized.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.Equal(2, quantized.Graph.Node.Count(n => n.OpType == "QuantizeLinear" && n.Input[0] is "x" or "c2"));
        var w1 = quantized.Graph.Initializer.Single(t => t.Name == "w1_quantized");
        Assert.Equal((int)TensorProto.Types.DataType.Int8, w1.DataType);
        Assert.Equal([8], quantized.Graph.Initializer.Single(t => t.Name == "w1_scale").Dims); // per output channel
        Assert.Equal((int)TensorProto.Types.DataType.Int32, quantized.Graph.Initializer.Single(t => t.Name.StartsWith("b1_") && t.Name.EndsWith("_quantized")).DataType);
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name is "w1" or "b1"); // the float weights are gone

        var dir = TestEnvironment.TempDirectory();
        var optimized = Path.Combine(dir, "optimized.onnx");
        using var floatSession = new InferenceSession(model.ToByteArray());
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized };
        using var intSession = new InferenceSession(quantized.ToByteArray(), options);
        var fused = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Select(n => n.OpType).ToList();
        Assert.Contains("QLinearConv", fused);

        foreach (var input in Inputs(8, 2))
        {
            var (f, q) = (Run(floatSession, input), Run(intSession, input));
            Assert.Equal(4, q.Length);
            for (var i = 0; i < 4; i++) Assert.True(Math.Abs(f[i] - q[i]) < 0.02, $"float {f[i]} vs int8 {q[i]}");
        }
        // the integer branch still computes the same shape arithmetic
        long[] Shape(InferenceSession s)
        {
            var input = Inputs(1, 3)[0];
            using var value = OrtValue.CreateTensorValueFromMemory(input.Values, input.Shape);
            using var results = s.Run(new RunOptions(), ["x"], [value], ["shape_plus_one"]);
            return results[0].GetTensorDataAsSpan<long>().ToArray();
        }
        Assert.Equal([2, 4, 17, 17], Shape(intSession));
        Assert.Equal(Shape(floatSession), Shape(intSession));
    }

    [Fact]
    public void Moving_to_opset_13_keeps_slice_unsqueeze_and_softmax_meaning_the_same()
    {
        var model = SmallNetwork();
        var upgraded = model.Clone();
        OpsetUpgrade.Apply(upgraded);
        Assert.All(upgraded.Graph.Node.Where(n => n.OpType is "Slice" or "Unsqueeze"), n => Assert.Empty(n.Attribute));
        using var before = new InferenceSession(model.ToByteArray());
        using var after = new InferenceSession(upgraded.ToByteArray());
        foreach (var input in Inputs(4, 5))
            Assert.Equal(Run(before, input), Run(after, input));
    }

    [Fact]
    public void An_operator_whose_meaning_changed_is_refused_by_name()
    {
        var model = SmallNetwork();
        model.Graph.Node.Add(Node("Upsample", ["r", "scales"], "up"));
        var e = Assert.Throws<ModelException>(() => OpsetUpgrade.Apply(model));
        Assert.Contains("Upsample", e.Message);
        var softmax = SmallNetwork();
        softmax.Graph.Node.Single(n => n.OpType == "Softmax").Attribute[0].I = 1; // not the last axis: old and new definitions differ
        Assert.Contains("Softmax", Assert.Throws<ModelException>(() => OpsetUpgrade.Apply(softmax)).Message);
    }

    [Fact]
    public void Activation_scales_hold_zero_exactly_and_survive_an_empty_range()
    {
        var (scale, zero) = QdqQuantizer.ActivationScale(new TensorRange(-1f, 3f));
        Assert.Equal(4f / 255, scale, 6);
        Assert.Equal(64, zero);                                                  // -min / scale = 63.75 -> 64
        Assert.Equal((1f, (byte)0), QdqQuantizer.ActivationScale(new TensorRange(0, 0)));
        Assert.Equal(0, QdqQuantizer.ActivationScale(new TensorRange(0.5f, 2f)).ZeroPoint); // range widened down to 0
        Assert.Throws<ArgumentException>(() => QdqQuantizer.ActivationScale(new TensorRange(float.NaN, 1)));
    }

    [Fact]
    public void A_float16_copy_keeps_float32_inputs_and_outputs_and_the_same_answers()
    {
        var model = SmallNetwork();
        var half = Fp16Converter.Convert(model);
        Assert.All(half.Graph.Initializer.Where(t => t.Name is "w1" or "b1" or "slope"), t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        Assert.Equal("Cast", half.Graph.Node[0].OpType);   // x -> float16
        Assert.Equal("Cast", half.Graph.Node.Last().OpType); // -> y in float32
        using var f = new InferenceSession(model.ToByteArray());
        using var h = new InferenceSession(half.ToByteArray()); // no float16 kernels on this CPU: ONNX Runtime casts around them, answers stay
        foreach (var input in Inputs(4, 9))
        {
            var (a, b) = (Run(f, input), Run(h, input));
            for (var i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 2e-3, $"float {a[i]} vs float16 {b[i]}");
        }
        var resize = SmallNetwork();
        resize.Graph.Node.Add(Node("Resize", ["r", "", "scales"], "big"));
        Assert.Contains("Resize", Assert.Throws<ModelException>(() => Fp16Converter.Convert(resize)).Message);
    }

    [Fact]
    public void The_prelu_rewrite_gives_the_same_embeddings_exactly()
    {
        var small = SmallNetwork();
        var rewritten = PReluRewrite.Apply(small);
        Assert.DoesNotContain(rewritten.Graph.Node, n => n.OpType == "PRelu");
        using (var f = new InferenceSession(small.ToByteArray()))
        using (var r = new InferenceSession(rewritten.ToByteArray()))
            foreach (var input in Inputs(4, 13)) Assert.Equal(Run(f, input), Run(r, input));

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestEnvironment.Manifest.PathOf(TestEnvironment.Manifest.Get("fr_feature"))));
        using var plain = new InferenceSession(model.ToByteArray());
        using var fast = new InferenceSession(PReluRewrite.Apply(model).ToByteArray());
        foreach (var face in AlignedFaces(3))
        {
            using var v = OrtValue.CreateTensorValueFromMemory(face.Values, face.Shape);
            using var a = plain.Run(new RunOptions(), [plain.InputMetadata.Keys.First()], [v], [plain.OutputMetadata.Keys.First()]);
            using var b = fast.Run(new RunOptions(), [fast.InputMetadata.Keys.First()], [v], [fast.OutputMetadata.Keys.First()]);
            var (x, y) = (a[0].GetTensorDataAsSpan<float>().ToArray(), b[0].GetTensorDataAsSpan<float>().ToArray());
            for (var i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-5f * Math.Max(1, Math.Abs(x[i])), $"{x[i]} vs {y[i]}");
        }
        Assert.Throws<ModelException>(() => PReluRewrite.Apply(PReluRewrite.Apply(small)));
    }

    [Fact]
    public void On_the_cpu_auto_takes_the_fastest_accepted_variant()
    {
        ModelManifest With(double int8Ms, double optMs)
        {
            var source = TestEnvironment.Manifest.Get("fr_feature");
            var dir = ModelsCopy("fr_feature");
            ModelEntry Variant(string precision, double ms)
            {
                File.Copy(Path.Combine(dir, source.File), Path.Combine(dir, $"fr_feature.{precision}.onnx"));
                return source with
                {
                    Id = $"fr_feature.{precision}",
                    File = $"fr_feature.{precision}.onnx",
                    Sources = [],
                    Variant = new VariantInfo { Of = "fr_feature", Precision = precision, Accepted = true, SharesTemplates = true, Ms = ms },
                };
            }
            ModelManifest.SaveVariants(dir, [Variant("int8", int8Ms), Variant("opt", optMs)]);
            return ModelManifest.Load(dir);
        }
        Assert.Equal("fr_feature.opt", new InferenceSessionFactory(With(10.4, 6.1)).Resolve("fr_feature").Id);
        Assert.Equal("fr_feature.int8", new InferenceSessionFactory(With(5.0, 6.1)).Resolve("fr_feature").Id);
        Assert.Equal("fr_feature.opt", new InferenceSessionFactory(With(5.0, 6.1), new InferenceOptions { Precision = "opt" }).Resolve("fr_feature").Id);
        Assert.Equal("fr_feature", new InferenceSessionFactory(With(5.0, 6.1)).Resolve("fr_feature", "CUDA").Id); // no fp16 made: float on a GPU
    }

    /// <summary>A provider named like a GPU one that adds nothing: the session runs on the CPU, so which file the factory picks for a GPU shows.</summary>
    private sealed class PretendGpu(string name) : IExecutionProvider
    {
        public string Name => name;
        public void Append(SessionOptions options, InferenceOptions settings) { }
    }

    private sealed class MissingGpu(string name) : IExecutionProvider
    {
        public string Name => name;
        public void Append(SessionOptions options, InferenceOptions settings) => throw new NotSupportedException($"{name} is not installed");
    }

    [Fact]
    public void The_fp16_variant_loads_where_CUDA_or_TensorRT_loads_and_the_cpu_keeps_its_own_choice()
    {
        var manifest = WithVariant(accepted: true, precision: "fp16");
        using (var onGpu = new InferenceSessionFactory(manifest, providers: [new PretendGpu("CUDA"), new CpuProvider()]).Create("fr_detect"))
            Assert.Equal(("fr_detect.fp16", "CUDA"), (onGpu.ModelId, onGpu.Provider));
        using (var onTrt = new InferenceSessionFactory(manifest, providers: [new PretendGpu("TensorRT")]).Create("fr_detect"))
            Assert.Equal("fr_detect.fp16", onTrt.ModelId);
        // TensorRT and CUDA missing: the CPU takes the float model, and says why the others failed
        var fallback = new InferenceSessionFactory(manifest, providers: [new MissingGpu("TensorRT"), new MissingGpu("CUDA"), new CpuProvider()]);
        using (var onCpu = fallback.Create("fr_detect")) Assert.Equal(("fr_detect", "CPU"), (onCpu.ModelId, onCpu.Provider));
        Assert.Equal(["CUDA", "TensorRT"], fallback.ProviderFailures.Keys.Order());
        // Precision float: never a variant, on any provider
        using (var plain = new InferenceSessionFactory(manifest, new InferenceOptions { Precision = "float" }, providers: [new PretendGpu("CUDA")]).Create("fr_detect"))
            Assert.Equal("fr_detect", plain.ModelId);
        // an fp16 variant not accepted is not loaded unasked
        using var rejected = new InferenceSessionFactory(WithVariant(accepted: false, precision: "fp16"), providers: [new PretendGpu("CUDA")]).Create("fr_detect");
        Assert.Equal("fr_detect", rejected.ModelId);
    }

    // ---- variants in the manifest and which one the daemon loads

    /// <summary>A models folder holding a copy of fr_detect and a variants.json naming a second copy as its int8 variant.</summary>
    private static ModelManifest WithVariant(bool accepted, string task = "face-detect", string id = "fr_detect", bool shares = false, string precision = "int8")
    {
        var dir = Path.Combine(TestEnvironment.TempDirectory(), "models");
        Directory.CreateDirectory(dir);
        var source = TestEnvironment.Manifest.Get(id);
        File.Copy(TestEnvironment.Manifest.PathOf(source), Path.Combine(dir, source.File));
        File.Copy(TestEnvironment.Manifest.PathOf(source), Path.Combine(dir, $"{id}.{precision}.onnx"));
        File.WriteAllText(Path.Combine(dir, "manifest.json"), $$"""
            { "version": 1, "models": [ { "id": "{{id}}", "task": "{{task}}", "file": "{{source.File}}", "sha256": "{{source.Sha256}}", "licence": "MIT",
              "sources": [ { "path": "x" } ] } ] }
            """);
        ModelManifest.SaveVariants(dir, [source with
        {
            Id = $"{id}.{precision}", File = $"{id}.{precision}.onnx", Sources = [], Task = task,
            Variant = new VariantInfo { Of = id, Precision = precision, Accepted = accepted, SharesTemplates = shares },
        }]);
        return ModelManifest.Load(dir);
    }

    [Fact]
    public void Auto_precision_loads_an_accepted_variant_and_only_that()
    {
        var accepted = WithVariant(accepted: true);
        Assert.Equal("fr_detect.int8", new InferenceSessionFactory(accepted).Resolve("fr_detect").Id);
        using (var session = new InferenceSessionFactory(accepted).Create("fr_detect")) Assert.Equal("fr_detect.int8", session.ModelId);
        Assert.Equal("fr_detect", new InferenceSessionFactory(accepted, new InferenceOptions { Precision = "float" }).Resolve("fr_detect").Id);
        Assert.Single(accepted.Fetchable); // set-up never tries to fetch a variant

        var rejected = WithVariant(accepted: false);
        Assert.Equal("fr_detect", new InferenceSessionFactory(rejected).Resolve("fr_detect").Id);
        Assert.Equal("fr_detect.int8", new InferenceSessionFactory(rejected, new InferenceOptions { Precision = "int8" }).Resolve("fr_detect").Id);
        Assert.Throws<ArgumentException>(() => new InferenceSessionFactory(rejected, new InferenceOptions { Precision = "fp8" }));
    }

    [Fact]
    public void An_embedder_variant_is_swapped_in_unasked_only_when_it_shares_the_float_templates()
    {
        var separate = WithVariant(accepted: true, task: "face-embed", id: "fr_feature");
        Assert.Equal("fr_feature", new InferenceSessionFactory(separate).Resolve("fr_feature").Id);
        using (var asked = new InferenceSessionFactory(separate, new InferenceOptions { Precision = "int8" }).Create("fr_feature"))
            Assert.Equal("fr_feature.int8", asked.TemplateModelId); // its own templates: the gallery's float ones never mix with it

        var sharing = WithVariant(accepted: true, task: "face-embed", id: "fr_feature", shares: true);
        using var session = new InferenceSessionFactory(sharing).Create("fr_feature");
        Assert.Equal("fr_feature.int8", session.ModelId);
        Assert.Equal("fr_feature", session.TemplateModelId);
    }

    [Fact]
    public void A_damaged_variants_file_is_an_error_naming_it()
    {
        var manifest = WithVariant(accepted: true);
        File.WriteAllText(Path.Combine(manifest.Directory, ModelManifest.VariantsFile), "{ not json");
        var e = Assert.Throws<ModelException>(() => ModelManifest.Load(manifest.Directory));
        Assert.Contains("variants.json", e.Message);
        Assert.Contains("models quantize", e.Message);
    }

    // ---- the command, end to end on the real embedder and the shared evaluation data

    [Trait("Category", "Slow")]
    [Fact]
    public void Models_quantize_measures_the_face_embedder_and_records_the_verdict()
    {
        var (cli, r) = Quantize("fr_feature", "int8", 12);
        var models = cli.ModelsDirectory;
        var outcome = r.Json[0];
        var variant = outcome.GetProperty("variant");
        Assert.Equal("fr_feature", variant.GetProperty("of").GetString());
        Assert.Equal(12, outcome.GetProperty("calibrationInputs").GetInt32());
        Assert.True(variant.GetProperty("floatMs").GetDouble() > 0 && variant.GetProperty("ms").GetDouble() > 0);
        var sets = outcome.GetProperty("accuracy").EnumerateArray().ToList();
        Assert.Equal(["yaleb", "photos"], sets.Select(s => s.GetProperty("set").GetString()));
        // measured on the real data: a working int8 embedder stays within a few points of the float one
        Assert.All(sets, s => Assert.InRange(s.GetProperty("float").GetDouble() - s.GetProperty("variant").GetDouble(), -0.02, 0.03));
        var accepted = variant.GetProperty("accepted").GetBoolean();
        Assert.Contains(accepted ? "faster" : "float kept", variant.GetProperty("reason").GetString());

        var manifest = ModelManifest.Load(models);
        var entry = manifest.Get("fr_feature.int8");
        Assert.Equal(ModelStatus.Ok, manifest.Verify(entry));                     // the recorded hash is the file's
        var loaded = new InferenceSessionFactory(manifest, new InferenceOptions { Precision = "int8" }).Create("fr_feature");
        using (loaded) Assert.Equal("fr_feature.int8", loaded.ModelId);

        var listing = cli.Run("--json", "models");
        var rows = listing.Json.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(accepted && entry.Variant!.SharesTemplates ? "fr_feature.int8" : "fr_feature",
            rows.Single(m => m.GetProperty("id").GetString() == "fr_feature").GetProperty("loads").GetString());
        Assert.Contains(rows, m => m.GetProperty("id").GetString() == "fr_feature.int8" && m.GetProperty("variant").GetProperty("precision").GetString() == "int8");
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Models_quantize_fp16_keeps_the_embedders_accuracy_and_templates()
    {
        var (cli, r) = Quantize("fr_feature", "fp16", 4);
        var variant = r.Json[0].GetProperty("variant");
        Assert.Equal("fp16", variant.GetProperty("precision").GetString());
        // half precision loses nothing measurable here: accepted, and float templates match its probes
        Assert.True(variant.GetProperty("accepted").GetBoolean(), variant.ToString());
        Assert.True(variant.GetProperty("sharesTemplates").GetBoolean(), variant.ToString());
        var rows = cli.Run("--json", "models").Json.GetProperty("models").EnumerateArray().ToList();
        var embedder = rows.Single(m => m.GetProperty("id").GetString() == "fr_feature");
        Assert.Equal("fr_feature", embedder.GetProperty("loads").GetString());
        Assert.Equal("fr_feature.fp16", embedder.GetProperty("loadsOnGpu").GetString());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Models_quantize_opt_measures_the_liveness_model_by_its_eer_on_nuaa()
    {
        var (cli, r) = Quantize("fr_liveness", "opt", 4);
        var outcome = r.Json[0];
        var variant = outcome.GetProperty("variant");
        Assert.Equal("EER", variant.GetProperty("metric").GetString());
        Assert.Equal(4, outcome.GetProperty("calibrationInputs").GetInt32());
        var set = Assert.Single(outcome.GetProperty("accuracy").EnumerateArray());
        Assert.Equal("nuaa-subset", set.GetProperty("set").GetString());
        // the PRelu rewrite is exact: the same EER as the float model (0.00% fed BGR on this subset)
        Assert.Equal(set.GetProperty("float").GetDouble(), set.GetProperty("variant").GetDouble(), 4);
        Assert.True(set.GetProperty("float").GetDouble() < 0.01, set.ToString());
        var accepted = variant.GetProperty("accepted").GetBoolean();
        Assert.Contains(accepted ? "faster" : "slower on this CPU", variant.GetProperty("reason").GetString());
        var rows = cli.Run("--json", "models").Json.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(accepted ? "fr_liveness.opt" : "fr_liveness", rows.Single(m => m.GetProperty("id").GetString() == "fr_liveness").GetProperty("loads").GetString());
    }

    [Fact]
    public void Quantizing_a_model_with_no_measure_or_without_calibration_data_is_refused_clearly()
    {
        var cli = new CliRunner();
        var r = cli.Run("models", "quantize", "eye_blink");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("quantization is measured for", r.Stderr);
        var missing = cli.Run("models", "quantize", "fr_feature", "--calibration", "/nonexistent/folder");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("/nonexistent/folder", missing.Stderr);
    }

    /// <summary>`models quantize MODEL --precision P` on a models folder of the test's own, checked to succeed.</summary>
    private static (CliRunner Cli, CliResult Result) Quantize(string model, string precision, int count)
    {
        var cli = new CliRunner { ModelsDirectory = ModelsCopy("fr_detect", "pfld_68", "fr_feature", "fr_liveness", "minifasnet_v2") };
        var r = cli.Run("--json", "models", "quantize", model, "--precision", precision, "--count", $"{count}", "--eval-data", TestEnvironment.SharedData);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        return (cli, r);
    }

    /// <summary>A models folder of its own (a test that writes variants must not touch the repository's): the manifest and these models.</summary>
    internal static string ModelsCopy(params string[] ids)
    {
        var dir = Path.Combine(TestEnvironment.TempDirectory(), "models");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(TestEnvironment.ModelsDirectory, "manifest.json"), Path.Combine(dir, "manifest.json"));
        foreach (var id in ids) File.Copy(TestEnvironment.Manifest.PathOf(TestEnvironment.Manifest.Get(id)), Path.Combine(dir, TestEnvironment.Manifest.Get(id).File));
        return dir;
    }

    /// <summary>The embedder's input for the first few photos of one person (her face aligned, as the pipeline feeds it).</summary>
    internal static List<CalibrationInput> AlignedFaces(int count)
    {
        using var pipeline = TestEnvironment.Pipeline();
        var inputs = new List<CalibrationInput>();
        foreach (var file in CliRunner.Photos("df_angelina_jolie").Take(count))
        {
            var image = EchoFace.Media.ImageDecoder.DecodeFile(file);
            var face = pipeline.Analyze(image, EchoFace.Face.FaceSteps.Landmarks)[0];
            var chw = new float[3 * 112 * 112];
            pipeline.Embedder.Prepare(image, face.Points5, chw);
            inputs.Add(new CalibrationInput(chw, [1, 3, 112, 112]));
        }
        return inputs;
    }

    /// <summary>
    /// A models folder with every model the daemon loads and int8 fr_feature and nnid_speaker made from them (calibrated on 4 faces
    /// and 4 recordings, recorded as not sharing the float templates): a second face and voice embedder to switch to.
    /// </summary>
    internal static string ModelsWithInt8Embedder()
    {
        var source = TestEnvironment.Manifest;
        var dir = ModelsCopy([.. source.Fetchable.Where(m => !m.Optional).Select(m => m.Id)]);
        var float32 = source.Get("fr_feature");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source.PathOf(float32)));
        var quantized = QdqQuantizer.Quantize(model, ActivationCalibrator.Calibrate(model, QdqQuantizer.TensorsToCalibrate(model), AlignedFaces(4)));
        var speaker = source.Get("nnid_speaker");
        var speakerModel = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source.PathOf(speaker)));
        var chunks = TestEnvironment.Speech("1688").Take(4)
            .Select(f => EchoFace.Voice.AudioDecoder.DecodeFile(f).Samples.AsSpan(8000, 28_800).ToArray())
            .Select(c => new CalibrationInput(c, [1, c.Length]));
        var speakerInt8 = QdqQuantizer.Quantize(speakerModel, ActivationCalibrator.Calibrate(speakerModel, QdqQuantizer.TensorsToCalibrate(speakerModel), chunks));
        ModelEntry Variant(ModelEntry of, ModelProto model)
        {
            var file = $"{of.Id}.int8.onnx";
            File.WriteAllBytes(Path.Combine(dir, file), model.ToByteArray());
            return of with
            {
                Id = $"{of.Id}.int8",
                File = file,
                Sha256 = ModelManifest.Sha256Of(Path.Combine(dir, file)),
                Sources = [],
                Variant = new VariantInfo { Of = of.Id, Precision = "int8", Reason = "made by a test" },
            };
        }
        ModelManifest.SaveVariants(dir, [Variant(float32, quantized), Variant(speaker, speakerInt8)]);
        return dir;
    }

    [Fact]
    public void Quantized_embeddings_of_one_face_stay_close_to_the_float_ones()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestEnvironment.Manifest.PathOf(TestEnvironment.Manifest.Get("fr_feature"))));
        var inputs = AlignedFaces(6);
        var quantized = QdqQuantizer.Quantize(model, ActivationCalibrator.Calibrate(model, QdqQuantizer.TensorsToCalibrate(model), inputs.Take(4)));
        using var f = new InferenceSession(model.ToByteArray());
        using var q = new InferenceSession(quantized.ToByteArray());
        float[] Embed(InferenceSession s, CalibrationInput i)
        {
            using var v = OrtValue.CreateTensorValueFromMemory(i.Values, i.Shape);
            using var r = s.Run(new RunOptions(), [s.InputMetadata.Keys.First()], [v], [s.OutputMetadata.Keys.First()]);
            var e = r[0].GetTensorDataAsSpan<float>().ToArray();
            Embeddings.Normalize(e);
            return e;
        }
        foreach (var held in inputs.Skip(4)) // faces the calibration did not see
            Assert.InRange(TensorPrimitives.Dot(Embed(f, held), Embed(q, held)), 0.95f, 1.0001f);
    }
}
