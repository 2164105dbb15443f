using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EchoFace.Inference.Conversion;

/// <summary>One named tensor of a TF.js weights file, dequantized to float32, in TensorFlow's layout (filters are HWIO).</summary>
public sealed record TfjsTensor(string Name, int[] Shape, float[] Values);

/// <summary>
/// Reads TF.js's weights format (a `*-weights_manifest.json`, or a graph model's `weightsManifest`, naming binary shards, tensors
/// stored back to back: float32, int32, float16, or uint8/uint16 quantized as min + q * scale). Written here: the only readers are
/// TF.js itself and Python's tensorflowjs.
/// </summary>
public static class TfjsWeights
{
    private sealed record Group
    {
        [JsonPropertyName("paths")] public List<string> Paths { get; init; } = [];
        [JsonPropertyName("weights")] public List<Weight> Weights { get; init; } = [];
    }

    private sealed record Weight
    {
        [JsonPropertyName("name")] public string Name { get; init; } = "";
        [JsonPropertyName("shape")] public int[] Shape { get; init; } = [];
        [JsonPropertyName("dtype")] public string Dtype { get; init; } = "";
        [JsonPropertyName("quantization")] public Quantization? Quantization { get; init; }
    }

    private sealed record Quantization
    {
        [JsonPropertyName("dtype")] public string Dtype { get; init; } = "";
        [JsonPropertyName("scale")] public double Scale { get; init; }
        [JsonPropertyName("min")] public double Min { get; init; }
    }

    /// <summary>Every tensor of the weights manifest at <paramref name="manifestPath"/>, its shards read from beside it.</summary>
    public static Dictionary<string, TfjsTensor> Read(string manifestPath)
    {
        List<Group> groups;
        try
        {
            groups = JsonSerializer.Deserialize<List<Group>>(File.ReadAllText(manifestPath))
                ?? throw new ModelException($"{manifestPath} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelException($"{manifestPath} is not a TF.js weights manifest: {e.Message}", e);
        }
        return Read(groups, manifestPath);
    }

    /// <summary>The weights of a TF.js graph model (its model.json's `weightsManifest`), its shards read from beside it.</summary>
    public static Dictionary<string, TfjsTensor> ReadGraphModel(string modelJsonPath)
    {
        List<Group> groups;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(modelJsonPath));
            groups = doc.RootElement.GetProperty("weightsManifest").Deserialize<List<Group>>() ?? [];
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelException($"{modelJsonPath} is not a TF.js graph model with weights: {e.Message}", e);
        }
        return Read(groups, modelJsonPath);
    }

    private static Dictionary<string, TfjsTensor> Read(List<Group> groups, string manifestPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        var tensors = new Dictionary<string, TfjsTensor>();
        foreach (var group in groups)
        {
            var data = group.Paths.SelectMany(p => File.ReadAllBytes(Path.Combine(folder, p))).ToArray();
            var at = 0;
            foreach (var w in group.Weights)
            {
                if (w.Dtype is not ("float32" or "int32"))
                    throw new ModelException($"{manifestPath}: '{w.Name}' is {w.Dtype}; float32 and int32 are read");
                var count = w.Shape.Aggregate(1, (a, d) => a * d);
                var width = BytesPer(w, manifestPath);
                if (at + count * width > data.Length)
                    throw new ModelException($"{manifestPath}: the shards end inside '{w.Name}' ({data.Length} bytes, {at + count * width} needed)");
                tensors[w.Name] = new TfjsTensor(w.Name, w.Shape, Decode(data.AsSpan(at, count * width), count, w.Dtype, w.Quantization));
                at += count * width;
            }
            if (at != data.Length) throw new ModelException($"{manifestPath}: {data.Length - at} bytes of the shards are not named by any weight");
        }
        return tensors;
    }

    private static int BytesPer(Weight w, string manifestPath) => w.Quantization?.Dtype switch
    {
        null => 4,
        "uint8" => 1,
        "uint16" or "float16" => 2,
        var other => throw new ModelException($"{manifestPath}: '{w.Name}' is quantized as {other}; uint8, uint16 and float16 are read"),
    };

    /// <summary>Every value as float32 (int32 tensors are shapes and indices here, exact as floats up to 2^24).</summary>
    private static float[] Decode(ReadOnlySpan<byte> bytes, int count, string dtype, Quantization? q)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = q switch
            {
                null when dtype == "int32" => BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]),
                null => BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]),
                { Dtype: "float16" } => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]),
                { Dtype: "uint8" } => (float)(q.Min + q.Scale * bytes[i]),
                _ => (float)(q.Min + q.Scale * BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..])),
            };
        }
        return values;
    }
}
