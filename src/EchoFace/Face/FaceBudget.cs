using System.Diagnostics;
using System.Text.Json;
using EchoFace.Inference;
using EchoFace.Media;

namespace EchoFace.Face;

/// <summary>One way to embed faces: a model alone or the fused pair, with or without the test-time flip.</summary>
/// <param name="Accuracy">mean TAR at FAR 1e-3 over the development sets (photos, yaleb, celeba), from the manifest and Face.Fusion</param>
/// <param name="Ms">embedding time per face on this device (a cascade: the first model plus its measured share of the second)</param>
public sealed record FaceChoice(string Name, string Embedder, string FusionMode, bool Flip, double Accuracy, double Ms);

/// <summary>Milliseconds per face of each face embedder on this device, plain and flipped: `echoface models measure` writes them.</summary>
public sealed record EmbedderTiming(string Model, double Ms, double FlipMs);

/// <summary>
/// Face.Budget: of the embedders and their fusion, the most accurate that embeds a face within the budget on this device
/// (the source documents' selection by resources, done with measurements). Timings are measured here, at install.
/// </summary>
public static class FaceBudget
{
    public const string TimingsFile = "face-timings.json";

    /// <summary>Median ms per face of one embedder, plain and with the flip, on a blank crop after a warm-up.</summary>
    public static EmbedderTiming Measure(InferenceSessionFactory factory, string modelId)
    {
        using var plain = new FaceEmbedder(factory.Create(modelId));
        using var flip = new FaceEmbedder(factory.Create(modelId)) { FlipTest = true };
        return new EmbedderTiming(modelId, Median(plain), Median(flip));
    }

    private static double Median(FaceEmbedder embedder)
    {
        var image = new RgbImage(embedder.InputSize, embedder.InputSize);
        var output = new float[embedder.Dimension];
        for (var i = 0; i < 3; i++) embedder.Embed(image, embedder.CropTemplate, output);
        var ms = new double[15];
        for (var i = 0; i < ms.Length; i++)
        {
            var clock = Stopwatch.StartNew();
            embedder.Embed(image, embedder.CropTemplate, output);
            ms[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(ms);
        return Math.Round(ms[ms.Length / 2], 2);
    }

    public static void Save(string dataDirectory, IReadOnlyList<EmbedderTiming> timings)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, TimingsFile);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(timings, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The timings measured on this device, or an error naming the command that measures them.</summary>
    public static IReadOnlyList<EmbedderTiming> Load(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, TimingsFile);
        if (!File.Exists(path)) throw new ModelException($"Face.Budget needs this device's embedder timings ({path}): run `echoface models measure`");
        try
        {
            return JsonSerializer.Deserialize<List<EmbedderTiming>>(File.ReadAllText(path)) ?? throw new ModelException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelException($"{path} is damaged ({e.Message}): run `echoface models measure` again", e);
        }
    }

    /// <summary>Every choice that can be measured here: each embedder with an accuracy in the manifest, and the fused models.</summary>
    public static IReadOnlyList<FaceChoice> Choices(ModelManifest manifest, FusionOptions fusion, IReadOnlyList<EmbedderTiming> timings)
    {
        var ms = timings.ToDictionary(t => t.Model);
        var choices = new List<FaceChoice>();
        foreach (var t in timings)
        {
            if (manifest.Get(t.Model).Accuracy is not { } a) continue;
            choices.Add(new FaceChoice(t.Model, t.Model, "off", false, a.Plain, t.Ms));
            choices.Add(new FaceChoice($"{t.Model} + flip", t.Model, "off", true, a.Flip, t.FlipMs));
        }
        if (fusion.Embedders.All(ms.ContainsKey))
        {
            var (first, rest) = (ms[fusion.Embedders[0]], fusion.Embedders.Skip(1).Select(id => ms[id]).ToList());
            var name = string.Join(" + ", fusion.Embedders);
            choices.Add(new FaceChoice($"fused ({name})", fusion.Embedders[0], "sum", false, fusion.Accuracy, first.Ms + rest.Sum(r => r.Ms)));
            choices.Add(new FaceChoice($"fused + flip ({name})", fusion.Embedders[0], "sum", true, fusion.FlipAccuracy,
                first.FlipMs + rest.Sum(r => r.FlipMs)));
            // a cascade scores as the fused models do at their thresholds (docs/fusion.md) and runs the others on a share of faces
            choices.Add(new FaceChoice($"cascade ({name})", fusion.Embedders[0], "cascade", false, fusion.Accuracy,
                first.Ms + fusion.CascadeShare * rest.Sum(r => r.Ms)));
            choices.Add(new FaceChoice($"cascade + flip ({name})", fusion.Embedders[0], "cascade", true, fusion.FlipAccuracy,
                first.FlipMs + fusion.CascadeShare * rest.Sum(r => r.FlipMs)));
        }
        return choices;
    }

    /// <summary>The most accurate choice within the budget (the faster of equals), or null when none fits.</summary>
    public static FaceChoice? Choose(IReadOnlyList<FaceChoice> choices, double budgetMs) =>
        choices.Where(c => c.Ms <= budgetMs).OrderByDescending(c => Math.Round(c.Accuracy, 4)).ThenBy(c => c.Ms).FirstOrDefault();

    /// <summary>The configuration the choice stands for, on a copy of <paramref name="options"/>.</summary>
    public static FaceOptions Apply(FaceChoice choice, FaceOptions options)
    {
        var chosen = options.Copy();
        (chosen.Embedder, chosen.Fusion.Mode, chosen.FlipTest) = (choice.Embedder, choice.FusionMode, choice.Flip);
        return chosen;
    }
}
