using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EchoFace.Inference.Conversion;

/// <summary>One named tensor of a TF.js weights file, dequantized to float32, in TensorFlow's layout (filters are HWIO).</summary>
public sealed record TfjsTensor(string Name, int[] Shape, float[] Values);

/// <summary>
/// Reads TF.js's weights format (a `*-weights_manifest.json` naming binary shards, tensors stored back to back, float32 or
/// uint8/uint16 quantized as min + q * scale). Written here: the only readers are TF.js itself and Python's tensorflowjs.
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
        var folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        var tensors = new Dictionary<string, TfjsTensor>();
        foreach (var group in groups)
        {
            var data = group.Paths.SelectMany(p => File.ReadAllBytes(Path.Combine(folder, p))).ToArray();
            var at = 0;
            foreach (var w in group.Weights)
            {
                if (w.Dtype != "float32") throw new ModelException($"{manifestPath}: '{w.Name}' is {w.Dtype}; only float32 weights are read");
                var count = w.Shape.Aggregate(1, (a, d) => a * d);
                var width = BytesPer(w, manifestPath);
                if (at + count * width > data.Length)
                    throw new ModelException($"{manifestPath}: the shards end inside '{w.Name}' ({data.Length} bytes, {at + count * width} needed)");
                tensors[w.Name] = new TfjsTensor(w.Name, w.Shape, Decode(data.AsSpan(at, count * width), count, w.Quantization));
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
        "uint16" => 2,
        var other => throw new ModelException($"{manifestPath}: '{w.Name}' is quantized as {other}; uint8 and uint16 are read"),
    };

    private static float[] Decode(ReadOnlySpan<byte> bytes, int count, Quantization? q)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = q is null ? BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..])
                : (float)(q.Min + q.Scale * (q.Dtype == "uint8" ? bytes[i] : BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..])));
        }
        return values;
    }
}
