using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EchoFace.Inference;

/// <summary>Where a model file comes from: an npm package entry, or a path relative to the repository root.</summary>
public sealed record ModelSource
{
    [JsonPropertyName("npm")] public string? Npm { get; init; }
    [JsonPropertyName("entry")] public string? Entry { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("url")] public string? Url { get; init; }
    /// <summary>A conversion the fetched entry goes through (Conversion/ModelConverters); the manifest's sha256 is of its output.</summary>
    [JsonPropertyName("convert")] public string? Convert { get; init; }
    /// <summary>For a tfjs-graph conversion: the node to output, where the graph has several ends or the wanted tensor is inside.</summary>
    [JsonPropertyName("graphOutput")] public string? GraphOutput { get; init; }

    public override string ToString() => (Npm is not null ? $"npm {Npm}:{Entry}" : Path ?? Url ?? "?") + (Convert is null ? "" : $" ({Convert})");
}

public sealed record ModelEntry
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("task")] public required string Task { get; init; }
    [JsonPropertyName("file")] public required string File { get; init; }
    [JsonPropertyName("sha256")] public required string Sha256 { get; init; }
    [JsonIgnore] public string ShortHash => Sha256[..12];
    [JsonPropertyName("licence")] public string Licence { get; init; } = "";
    [JsonPropertyName("sources")] public IReadOnlyList<ModelSource> Sources { get; init; } = [];
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("output")] public string Output { get; init; } = "";
    /// <summary>For speaker models: what the graph takes (raw waveform, or Kaldi fbank computed by EchoFace).</summary>
    [JsonPropertyName("frontEnd")] public FrontEndSpec? FrontEnd { get; init; }
    /// <summary>For face embedders: the aligned crop the graph takes (absent: 112x112 on the ArcFace template, (x-127)/128).</summary>
    [JsonPropertyName("faceCrop")] public FaceCropSpec? FaceCrop { get; init; }
    /// <summary>A liveness model's input: context around the box, channel order, which output is "live".</summary>
    [JsonPropertyName("livenessCrop")] public LivenessCropSpec? LivenessCrop { get; init; }
    /// <summary>For embedders: the impostor score distribution measured on the development sets, for score fusion.</summary>
    [JsonPropertyName("scoreNorm")] public ScoreNorm? ScoreNorm { get; init; }
    /// <summary>For face embedders: mean TAR at FAR 1e-3 over the development sets, plain and with the test-time flip (Face.Budget).</summary>
    [JsonPropertyName("accuracy")] public EmbedderAccuracy? Accuracy { get; init; }
    /// <summary>Optional models (evaluation references, measured candidates) may be absent without failing set-up; packages leave them out.</summary>
    [JsonPropertyName("optional")] public bool Optional { get; init; }
    /// <summary>Set for a variant made on this device (`echoface models quantize`), kept in variants.json beside the manifest.</summary>
    [JsonPropertyName("variant")] public VariantInfo? Variant { get; init; }
}

/// <summary>A quantized copy of a manifest model, what it was measured at and whether it was accepted.</summary>
public sealed record VariantInfo
{
    [JsonPropertyName("of")] public required string Of { get; init; }
    [JsonPropertyName("precision")] public required string Precision { get; init; }
    /// <summary>Faster on this CPU and within the accuracy budget: `Inference.Precision` auto then loads it instead of its float model.</summary>
    [JsonPropertyName("accepted")] public bool Accepted { get; init; }
    [JsonPropertyName("reason")] public string Reason { get; init; } = "";
    /// <summary>Embedders: templates of the float model match this one's probes within the budget, so both share templates.</summary>
    [JsonPropertyName("sharesTemplates")] public bool SharesTemplates { get; init; }
    [JsonPropertyName("metric")] public string Metric { get; init; } = "";
    [JsonPropertyName("floatAccuracy")] public double FloatAccuracy { get; init; }
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
    [JsonPropertyName("mixedAccuracy")] public double? MixedAccuracy { get; init; }
    [JsonPropertyName("floatMs")] public double FloatMs { get; init; }
    [JsonPropertyName("ms")] public double Ms { get; init; }
    [JsonPropertyName("calibration")] public string Calibration { get; init; } = "";
    [JsonPropertyName("created")] public DateTimeOffset Created { get; init; }
}

/// <summary>
/// A face embedder's input: a Size x Size crop on the 5-point ArcFace template, scaled by TemplateScale about the crop's centre and
/// moved down by TemplateShiftY (a fraction of Size), then RGB (or BGR) values as x * PixelScale + PixelOffset, then per channel
/// (x - Mean) / Std when given.
/// </summary>
public sealed record FaceCropSpec
{
    public static readonly FaceCropSpec ArcFace = new();

    [JsonPropertyName("size")] public int Size { get; init; } = 112;
    [JsonPropertyName("templateScale")] public float TemplateScale { get; init; } = 1;
    [JsonPropertyName("templateShiftY")] public float TemplateShiftY { get; init; }
    [JsonPropertyName("pixelScale")] public float PixelScale { get; init; } = 1f / 128;
    [JsonPropertyName("pixelOffset")] public float PixelOffset { get; init; } = -127f / 128;
    [JsonPropertyName("bgr")] public bool Bgr { get; init; }
    /// <summary>Per-channel normalisation after the pixel scaling, in the channels' order: (x - mean) / std (ImageNet-style models).</summary>
    [JsonPropertyName("mean")] public float[]? Mean { get; init; }
    [JsonPropertyName("std")] public float[]? Std { get; init; }
}

/// <summary>
/// A liveness model's input: the detector's box scaled by Scale about its centre, resized to the model's square input, values x *
/// PixelScale in RGB or BGR order; output LiveClass is the "live" class (softmax applied when the graph has none; one output is a
/// sigmoid's probability). Fit says what happens where the
/// scaled box leaves the image: "clamp" cuts it at the edges (fr_liveness's package), "shift" shrinks the scale until the box fits and
/// moves it inside (Silent-Face-Anti-Spoofing's own crop), "pad" keeps it and reads outside pixels as black.
/// </summary>
public sealed record LivenessCropSpec
{
    public static readonly LivenessCropSpec FrLiveness = new();
    public static readonly string[] Fits = ["clamp", "shift", "pad"];

    [JsonPropertyName("scale")] public float Scale { get; init; } = 2.7f;
    [JsonPropertyName("bgr")] public bool Bgr { get; init; } = true;
    [JsonPropertyName("liveClass")] public int LiveClass { get; init; }
    /// <summary>Pixel values are x * PixelScale (1: raw 0..255; 1/255 for models trained on 0..1).</summary>
    [JsonPropertyName("pixelScale")] public float PixelScale { get; init; } = 1;
    [JsonPropertyName("fit")] public string Fit { get; init; } = "clamp";
    /// <summary>Square the box on its larger side before scaling it.</summary>
    [JsonPropertyName("square")] public bool Square { get; init; }
}

/// <summary>A face embedder's measured accuracy: mean TAR at FAR 1e-3 over photos, yaleb and celeba (docs/fusion.md).</summary>
public sealed record EmbedderAccuracy
{
    [JsonPropertyName("plain")] public double Plain { get; init; }
    [JsonPropertyName("flip")] public double Flip { get; init; }
}

/// <summary>The input a speaker-embedding model expects: "waveform" ([B, N] samples, cut in chunks) or "kaldi-fbank" ([1, T, melBins]).</summary>
public sealed record FrontEndSpec
{
    [JsonPropertyName("type")] public string Type { get; init; } = "waveform";
    /// <summary>waveform: chunk length in seconds (the model's training length); 0 = the whole utterance at once.</summary>
    [JsonPropertyName("chunkSeconds")] public double ChunkSeconds { get; init; }
    [JsonPropertyName("melBins")] public int MelBins { get; init; } = 80;
    /// <summary>kaldi-fbank: factor on the [-1, 1] waveform (WeSpeaker: 32768).</summary>
    [JsonPropertyName("inputScale")] public float InputScale { get; init; } = 1;
    /// <summary>kaldi-fbank: subtract each bin's utterance mean first.</summary>
    [JsonPropertyName("cmn")] public bool Cmn { get; init; } = true;
}

/// <summary>models/manifest.json: what each model is, where it comes from and its sha256.</summary>
public sealed class ModelManifest
{
    public const string SetupHint = "run the set-up command from README.md (./setup.sh), or `echoface models fetch`";

    public required string Directory { get; init; }
    public required IReadOnlyList<ModelEntry> Models { get; init; }

    private sealed record ManifestFile
    {
        [JsonPropertyName("version")] public int Version { get; init; }
        [JsonPropertyName("comment")] public string? Comment { get; init; }
        [JsonPropertyName("models")] public List<ModelEntry> Models { get; init; } = [];
    }

    /// <summary>The repository (or install) root: path sources are relative to it.</summary>
    public string Root => System.IO.Path.GetFullPath(System.IO.Path.Combine(Directory, ".."));

    public static ModelManifest Load(string directory)
    {
        var path = System.IO.Path.Combine(directory, "manifest.json");
        if (!System.IO.File.Exists(path))
            throw new ModelException($"model manifest not found at {path}: set --models or ECHOFACE_MODELS to the folder holding manifest.json");
        ManifestFile parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<ManifestFile>(System.IO.File.ReadAllText(path), Strict)
                ?? throw new ModelException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelException($"{path} is not a valid model manifest: {e.Message}", e);
        }
        var models = new List<ModelEntry>(parsed.Models);
        models.AddRange(ReadVariants(directory, parsed.Models));
        var dup = models.GroupBy(m => m.Id).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ModelException($"{path}: model id '{dup.Key}' appears twice");
        return new ModelManifest { Directory = System.IO.Path.GetFullPath(directory), Models = models };
    }

    public const string VariantsFile = "variants.json";

    /// <summary>The manifest and the variants file alike: a key nobody reads is a mistake, not something to skip.</summary>
    private static readonly JsonSerializerOptions Strict = new() { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    /// <summary>Variants made on this device: a damaged file is reported, never half-read (the float models still work without it).</summary>
    private static List<ModelEntry> ReadVariants(string directory, IReadOnlyList<ModelEntry> models)
    {
        var path = System.IO.Path.Combine(directory, VariantsFile);
        if (!System.IO.File.Exists(path)) return [];
        List<ModelEntry> variants;
        try
        {
            variants = JsonSerializer.Deserialize<List<ModelEntry>>(System.IO.File.ReadAllText(path), Strict) ?? [];
        }
        catch (JsonException e)
        {
            throw new ModelException($"{path} is not a valid variants file ({e.Message}): delete it and run `echoface models quantize` again", e);
        }
        foreach (var v in variants)
            if (v.Variant is null || models.All(m => m.Id != v.Variant.Of))
                throw new ModelException($"{path}: '{v.Id}' is not a variant of a model in the manifest: delete it and run `echoface models quantize` again");
        return variants;
    }

    /// <summary>Replaces or adds variants in variants.json (written to a temporary file and moved into place).</summary>
    public static void SaveVariants(string directory, IReadOnlyList<ModelEntry> variants)
    {
        var path = System.IO.Path.Combine(directory, VariantsFile);
        var temp = path + ".tmp";
        System.IO.File.WriteAllText(temp, JsonSerializer.Serialize(variants, new JsonSerializerOptions { WriteIndented = true }));
        System.IO.File.Move(temp, path, overwrite: true);
    }

    /// <summary>The models set-up fetches: the manifest's own, not the variants made here.</summary>
    public IReadOnlyList<ModelEntry> Fetchable => [.. Models.Where(m => m.Variant is null)];

    /// <summary>What a package ships: every model not optional (evaluation references and candidates stay out), and their variants.</summary>
    public IReadOnlyList<ModelEntry> Shipped =>
        [.. Models.Where(m => m.Variant is null ? !m.Optional : Models.Any(o => o.Id == m.Variant.Of && o.Variant is null && !o.Optional))];

    /// <summary>The variants of a model, if any were made.</summary>
    public IEnumerable<ModelEntry> VariantsOf(string id) => Models.Where(m => m.Variant?.Of == id);

    /// <summary>Finds models/manifest.json: ECHOFACE_MODELS, then upwards from the working directory and from the executable, then /usr/share/echoface/models.</summary>
    public static ModelManifest Discover(string? explicitDirectory = null)
    {
        if (explicitDirectory is not null) return Load(explicitDirectory);
        var env = Environment.GetEnvironmentVariable("ECHOFACE_MODELS");
        if (!string.IsNullOrEmpty(env)) return Load(env);
        foreach (var start in new[] { System.IO.Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "models");
                if (System.IO.File.Exists(System.IO.Path.Combine(candidate, "manifest.json"))) return Load(candidate);
            }
        }
        return Load("/usr/share/echoface/models");
    }

    public ModelEntry Get(string id) =>
        Models.FirstOrDefault(m => m.Id == id)
        ?? throw new ModelException($"model '{id}' is not in {System.IO.Path.Combine(Directory, "manifest.json")} (known: {string.Join(", ", Models.Select(m => m.Id))})");

    /// <summary>What templates and events name a model's version by: the first 12 hex digits of its file's SHA-256.</summary>
    public string Version(string id) => Get(id).ShortHash;

    public string PathOf(ModelEntry model) => System.IO.Path.Combine(Directory, model.File);

    /// <summary>The verified path of a model: throws a message naming the model and the set-up command when missing or altered.</summary>
    public string RequireVerified(string id)
    {
        var model = Get(id);
        var status = Verify(model);
        return status switch
        {
            ModelStatus.Ok => PathOf(model),
            ModelStatus.Missing => throw new ModelException($"model '{id}' is missing ({PathOf(model)}): {SetupHint}"),
            _ => throw new ModelException($"model '{id}' at {PathOf(model)} has the wrong sha256 (expected {model.Sha256}): delete it and {SetupHint}"),
        };
    }

    private readonly Dictionary<string, ModelStatus> _verified = new();

    /// <summary>Checks a model file against its hash, once per process (hashing every load would cost start-up time).</summary>
    public ModelStatus Verify(ModelEntry model)
    {
        lock (_verified)
        {
            if (_verified.TryGetValue(model.Id, out var known)) return known;
            var path = PathOf(model);
            var status = !System.IO.File.Exists(path) ? ModelStatus.Missing
                : string.Equals(Sha256Of(path), model.Sha256, StringComparison.OrdinalIgnoreCase) ? ModelStatus.Ok
                : ModelStatus.HashMismatch;
            if (status == ModelStatus.Ok) _verified[model.Id] = status;
            return status;
        }
    }

    public static string Sha256Of(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

public enum ModelStatus { Ok, Missing, HashMismatch }
