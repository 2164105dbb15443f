using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Face;

[Trait("Category", "Integration")]
public class FaceBudgetTests
{
    private static readonly EmbedderTiming[] Timings = [new("fr_feature", 5, 10), new("faceapi_resnet", 4, 8), new("mobilefacenet_128", 3, 6)];

    private static IReadOnlyList<FaceChoice> Choices() => FaceBudget.Choices(TestEnvironment.Manifest, new FusionOptions(), Timings);

    [Fact]
    public void Each_embedder_alone_and_fused_is_a_choice_costed_by_this_devices_timings()
    {
        var c = Choices().ToDictionary(x => x.Name);
        Assert.Equal(10, c.Count);
        Assert.Equal(5, c["fr_feature"].Ms);
        Assert.Equal(10, c["fr_feature + flip"].Ms);
        Assert.Equal(12, c["fused (fr_feature + faceapi_resnet + mobilefacenet_128)"].Ms);
        // the cascade runs the other models on its measured share of faces
        Assert.Equal(5 + 0.15 * 7, c["cascade (fr_feature + faceapi_resnet + mobilefacenet_128)"].Ms, 6);
        Assert.Equal(TestEnvironment.Manifest.Get("fr_feature").Accuracy!.Flip, c["fr_feature + flip"].Accuracy);
    }

    [Theory]
    [InlineData(3.5, "mobilefacenet_128")]
    [InlineData(6, "mobilefacenet_128 + flip")]
    [InlineData(6.1, "cascade (fr_feature + faceapi_resnet + mobilefacenet_128)")]
    [InlineData(12.5, "cascade + flip (fr_feature + faceapi_resnet + mobilefacenet_128)")]
    [InlineData(100, "cascade + flip (fr_feature + faceapi_resnet + mobilefacenet_128)")] // as accurate as fused + flip, and faster
    public void The_most_accurate_choice_within_the_budget_is_taken(double budget, string expected)
    {
        Assert.Equal(expected, FaceBudget.Choose(Choices(), budget)!.Name);
    }

    [Fact]
    public void A_budget_nothing_fits_chooses_nothing_and_a_choice_sets_the_options_on_a_copy()
    {
        Assert.Null(FaceBudget.Choose(Choices(), 2.5));
        var options = new FaceOptions();
        var chosen = FaceBudget.Apply(FaceBudget.Choose(Choices(), 100)!, options);
        Assert.Equal(("fr_feature", "cascade", true), (chosen.Embedder, chosen.Fusion.Mode, chosen.FlipTest));
        Assert.Equal(("off", false), (options.Fusion.Mode, options.FlipTest));
    }

    [Fact]
    public void Models_measure_times_the_embedders_here_and_the_daemon_without_timings_names_the_command()
    {
        var cli = new CliRunner();
        var before = cli.Run("--config", Budget(12), "identify", CliRunner.Photo("df_angelina_jolie", "img2.jpg"));
        Assert.NotEqual(0, before.ExitCode);
        Assert.Contains("echoface models measure", before.Stderr);

        var measured = cli.Run("--config", Budget(12), "--json", "models", "measure");
        Assert.True(measured.ExitCode == 0, measured.Stderr);
        var timings = measured.Json.GetProperty("timings").EnumerateArray().ToList();
        Assert.Contains(timings, t => t.GetProperty("model").GetString() == "faceapi_resnet" && t.GetProperty("ms").GetDouble() > 0);
        Assert.True(File.Exists(Path.Combine(cli.DataDirectory, FaceBudget.TimingsFile)));
        Assert.Equal(0, cli.Run("--config", Budget(12), "identify", CliRunner.Photo("df_angelina_jolie", "img2.jpg")).ExitCode);
    }

    private static string Budget(double ms)
    {
        var path = Path.Combine(TestEnvironment.TempDirectory(), "echoface.json");
        File.WriteAllText(path, $$"""{ "Face": { "Budget": {{ms}} } }""");
        return path;
    }
}
