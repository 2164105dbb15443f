using System.Text.Json;
using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Media;
using EchoFace.Tests.Cli;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.Recognition;

/// <summary>Face.Fusion in the product: enrolment stores a template per fused model, 1:1 and 1:N and the door score with both.</summary>
[Trait("Category", "Integration")]
public class FaceFusionTests
{
    private readonly CliRunner _cli = new();

    private string Config(string mode)
    {
        var path = Path.Combine(TestEnvironment.TempDirectory(), "echoface.json");
        File.WriteAllText(path, $$"""{ "Face": { "Fusion": { "Mode": "{{mode}}" } } }""");
        return path;
    }

    private void EnrolJolie(string? config)
    {
        string[] photos = [CliRunner.Photo("df_angelina_jolie", "img1.jpg"), CliRunner.Photo("df_angelina_jolie", "img10.jpg")];
        var r = _cli.Run([.. config is null ? [] : new[] { "--config", config }, "enroll", "jolie", "--name", "Angelina Jolie", .. photos]);
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    [Fact]
    public void Under_cascade_clear_answers_take_the_first_model_and_close_ones_are_fused()
    {
        var config = Config("cascade");
        EnrolJolie(config);
        var list = _cli.Run("--json", "people", "list").Json.EnumerateArray().Single();
        Assert.Equal(6, list.GetProperty("faceTemplates").GetInt32()); // 2 photos x 3 models

        var genuine = _cli.Run("--config", config, "--json", "verify", "jolie", CliRunner.Photo("df_angelina_jolie", "img2.jpg")).Json;
        Assert.True(genuine.GetProperty("accepted").GetBoolean());
        Assert.Equal("fr_feature (cascade)", genuine.GetProperty("method").GetString());
        Assert.Equal(0.58, genuine.GetProperty("threshold").GetDouble(), 3);

        // other women: each is rejected, and those the first model leaves between 0.15 and 0.58 are scored by both models
        var methods = new List<string>();
        foreach (var photo in CliRunner.Photos("df_jennifer_aniston").Concat(CliRunner.Photos("df_katy_perry")))
        {
            var v = _cli.Run("--config", config, "--json", "verify", "jolie", photo).Json;
            Assert.False(v.GetProperty("accepted").GetBoolean(), $"{photo} accepted as jolie: {v}");
            var method = v.GetProperty("method").GetString()!;
            methods.Add(method);
            if (method == "fused")
                Assert.Equal(["fr_feature", "faceapi_resnet", "mobilefacenet_128"], v.GetProperty("scores").EnumerateObject().Select(p => p.Name));
        }
        Assert.Contains("fused", methods);
        Assert.Contains("fr_feature (cascade)", methods);
    }

    [Fact]
    public void Under_sum_every_search_is_fused_and_an_identity_enrolled_before_fusion_is_scored_by_the_first_model()
    {
        EnrolJolie(config: null); // fusion off: fr_feature templates only
        var config = Config("sum");
        var r = _cli.Run("--config", config, "enroll", "aniston", "--name", "Jennifer Aniston", CliRunner.Photos("df_jennifer_aniston")[0]);
        Assert.True(r.ExitCode == 0, r.Stderr);

        var aniston = _cli.Run("--config", config, "--json", "identify", CliRunner.Photos("df_jennifer_aniston")[1]).Json.GetProperty("faces")[0];
        Assert.Equal("aniston", aniston.GetProperty("identity").GetString());
        Assert.Equal("fused", aniston.GetProperty("method").GetString());
        Assert.Equal(3.0, aniston.GetProperty("threshold").GetDouble(), 3);
        Assert.Equal(3, aniston.GetProperty("scores").EnumerateObject().Count());

        var jolie = _cli.Run("--config", config, "--json", "identify", CliRunner.Photo("df_angelina_jolie", "img2.jpg")).Json.GetProperty("faces")[0];
        Assert.Equal("jolie", jolie.GetProperty("identity").GetString());
        Assert.Equal("fr_feature", jolie.GetProperty("method").GetString());
        Assert.Equal(0.45, jolie.GetProperty("threshold").GetDouble(), 3);
    }

    [Fact]
    public void Fused_models_that_do_not_start_with_the_pipelines_embedder_are_refused_naming_the_key()
    {
        var path = Path.Combine(TestEnvironment.TempDirectory(), "echoface.json");
        File.WriteAllText(path, """{ "Face": { "Fusion": { "Mode": "sum", "Embedders": ["faceapi_resnet", "fr_feature"], "Weights": [0.5, 0.5] } } }""");
        var r = _cli.Run("--config", path, "identify", CliRunner.Photo("df_angelina_jolie", "img2.jpg"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Face.Fusion.Embedders must start with Face.Embedder", r.Stderr);
    }

    [Fact]
    public void At_the_door_a_fused_presence_is_granted_against_the_fused_threshold()
    {
        var config = Config("sum");
        EnrolJolie(config);
        var engineConfig = new EchoFaceConfig();
        (engineConfig.Door.Board, engineConfig.Camera.Source, engineConfig.Face.Fusion.Mode) = ("simulated", "none", "sum");
        engineConfig.Validate();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero));
        using var engine = new ServiceCollection().AddSingleton<TimeProvider>(clock)
            .AddEchoFace(engineConfig, new EngineLocation(_cli.DataDirectory, TestEnvironment.ModelsDirectory, CameraFrames: true)).BuildServiceProvider();
        var terminal = engine.GetRequiredService<DoorTerminal>();
        var door = engine.GetRequiredService<EchoFace.Hardware.DoorController>();
        door.Resume();
        var decisions = new List<AccessDecision>();
        terminal.Decided += decisions.Add;
        var frame = ImageDecoder.DecodeFile(CliRunner.Photo("df_angelina_jolie", "img2.jpg"));
        for (var i = 0; i < 40 && decisions.Count == 0; i++)
        {
            terminal.Process(new CameraFrame(i + 1, clock.GetUtcNow(), frame));
            door.Tick();
            clock.Advance(TimeSpan.FromMilliseconds(200));
        }
        var d = Assert.Single(decisions);
        Assert.Equal("granted", d.Outcome);
        Assert.Equal("jolie", d.Identity);
        Assert.Equal(3.0f, d.FaceThreshold, 3);
        Assert.True(d.FaceScore >= 3.0f, $"fused score {d.FaceScore}");
    }
}
