using System.Text.Json;
using EchoFace.Api;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Face;
using EchoFace.Media;
using EchoFace.Recognition;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EchoFace.Tests.Daemon;

/// <summary>The engine composed by its one root, without the CLI: enrolment from the root's services, then the door daemon's host.</summary>
[Trait("Category", "Integration")]
public class DaemonHostTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private static string[] Jolie => Cli.CliRunner.Photos("df_angelina_jolie");

    private EchoFaceConfig Config(string camera)
    {
        var config = new EchoFaceConfig();
        config.Camera.Source = camera;
        config.Door.Board = "simulated";
        config.Health.Listen = "http://127.0.0.1:0";
        config.Validate();
        return config;
    }

    [Fact]
    public void A_command_that_asks_for_no_model_loads_none()
    {
        // the root builds services on first use: the gallery opens without the face models being read
        var location = new EngineLocation(_dir, Path.Combine(_dir, "no-models-here"));
        using var engine = new ServiceCollection().AddEchoFace(Config("none"), location).BuildServiceProvider();
        Assert.Empty(engine.GetRequiredService<EchoFace.Storage.GalleryStore>().ListIdentities());
        var e = Assert.ThrowsAny<Exception>(() => engine.GetRequiredService<FacePipeline>());
        Assert.Contains("manifest.json", e.Message);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task The_daemon_runs_inside_a_test_and_opens_the_door_for_a_person_enrolled_through_the_root()
    {
        var location = new EngineLocation(_dir, TestEnvironment.ModelsDirectory);
        var video = TestEnvironment.Video(Path.Combine(_dir, "jolie.mp4"), 2, 0, Jolie[2]);
        var config = Config($"file:{video}");
        using (var engine = new ServiceCollection().AddEchoFace(config, location).BuildServiceProvider())
        {
            var pipeline = engine.GetRequiredService<FacePipeline>();
            var analysed = Jolie.Take(2).Select(p => (p, (IReadOnlyList<FaceResult>)pipeline.Analyze(ImageDecoder.DecodeFile(p)))).ToList();
            var request = new EnrolRequest("jolie", "Angelina Jolie") { Faces = analysed, Via = "test" };
            var enrolled = engine.GetRequiredService<Enrolment>().Enrol(request);
            Assert.Equal(2, enrolled.FaceTemplateIds.Count);
        }

        await using var app = DaemonHost.Build(config, location, new RunRequest(Once: true));
        var daemon = app.Services.GetRequiredService<DoorDaemon>();
        // with --once the daemon stops the host when the file ends (and RunAsync disposes it)
        await app.RunAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Null(daemon.Failure);
        var decisions = daemon.FinalEvents.Where(e => e.Kind == "access").Select(e => JsonDocument.Parse(e.Payload).RootElement)
            .Where(p => p.TryGetProperty("outcome", out _)).ToList();
        var granted = Assert.Single(decisions);
        Assert.Equal("granted", granted.GetProperty("outcome").GetString());
        Assert.Equal("jolie", granted.GetProperty("identity").GetString());
        Assert.Equal(1, daemon.Stats!.Granted);
        // the door was made ready at the start and took its fail position at the stop
        Assert.Contains(daemon.FinalEvents, e => e.Payload.Contains("door_ready", StringComparison.Ordinal));
        Assert.Contains(daemon.FinalEvents,
            e => e.Payload.Contains("door_fail_mode", StringComparison.Ordinal) && e.Payload.Contains("stopping", StringComparison.Ordinal));
    }
}
