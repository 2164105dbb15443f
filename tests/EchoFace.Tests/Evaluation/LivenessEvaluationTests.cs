using EchoFace.Access;
using EchoFace.Evaluation;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Evaluation;

/// <summary>Single-frame liveness on the shared attack data: the channel order measured, the default threshold's error rates, the CLI report.</summary>
[Trait("Category", "Integration")]
public class LivenessEvaluationTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>
{
    private static readonly float Threshold = new AccessOptions().LivenessThreshold;

    [Trait("Category", "Slow")]
    [Fact]
    public void Nuaa_subjects_not_tuned_on_meet_apcer_1_percent_at_bpcer_3_percent_fed_bgr()
    {
        var samples = LivenessEvaluation.Run(fixture.Pipeline, LivenessEvaluation.ListSamples(TestEnvironment.Data("faces", "nuaa-subset"), "test"));
        Assert.DoesNotContain(samples, s => s.Failure is not null);
        var at = LivenessEvaluation.At(samples, s => s.Bgr, Threshold);
        Assert.True(at.Apcer <= 0.01 && at.Bpcer <= 0.03, $"APCER {at.Apcer:P2}, BPCER {at.Bpcer:P2} at {Threshold}");
        // the order the package's JS uses is measurably worse: keep the measurement honest if the model or pre-processing changes
        Assert.True(LivenessEvaluation.Metrics(samples, s => s.Bgr).Eer < LivenessEvaluation.Metrics(samples, s => s.Rgb).Eer);
    }

    [Fact]
    public void All_four_independent_spoof_samples_are_called_right()
    {
        var samples = LivenessEvaluation.Run(fixture.Pipeline, LivenessEvaluation.ListSamples(TestEnvironment.Data("faces", "spoof-samples")));
        Assert.Equal(4, samples.Count);
        Assert.All(samples, s => Assert.True(s.Bgr >= Threshold == s.Live, $"{Path.GetFileName(s.Path)}: live={s.Live}, score {s.Bgr:F3}, threshold {Threshold}"));
        Assert.Contains(samples, s => s.Rgb >= Threshold != s.Live); // fed RGB, at least one is wrong (3 of 4 at the JS's 0.3)
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Per_presence_decisions_on_nuaa_videos_are_no_worse_than_per_frame()
    {
        var root = Path.Combine(TestEnvironment.TempDirectory(), "videos");
        foreach (var label in new[] { "live", "spoof" })
            foreach (var subject in Enumerable.Range(1, 8).Select(i => $"{i:D4}"))
                TestEnvironment.NuaaVideo(Path.Combine(root, label == "live" ? "live" : "spoof/print", $"{subject}.mp4"), label, subject, 20);
        var r = new CliRunner().Run("eval", "liveness", root, "--video", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = r.Json;
        Assert.Equal(3, json.GetProperty("live").GetInt32()); // NUAA's test split has live frames of 3 subjects
        Assert.Equal(8, json.GetProperty("spoof").GetInt32());
        var frame = json.GetProperty("perFrame");
        var presence = json.GetProperty("perPresence");
        Assert.True(frame.GetProperty("apcer").GetDouble() <= 0.01 && frame.GetProperty("bpcer").GetDouble() <= 0.03, frame.ToString());
        Assert.Equal(0, presence.GetProperty("apcer").GetDouble());
        Assert.Equal(0, presence.GetProperty("bpcer").GetDouble());
        Assert.True(presence.GetProperty("acer").GetDouble() <= frame.GetProperty("acer").GetDouble());

        // each cue measured alone and beside the model; on NUAA neither blink nor motion adds anything (docs/liveness.md)
        Assert.Equal(["fr_liveness", "blink", "fr_liveness", "head", "non-planar", "fr_liveness", "texture", "fr_liveness"],
            json.GetProperty("cues").EnumerateArray().Select(c => c.GetProperty("cue").GetString()!.Split(' ')[0]));
        var blink = json.GetProperty("cues")[1];
        Assert.InRange(blink.GetProperty("liveMedian").GetDouble(), 0, 1);
        Assert.True(blink.GetProperty("eer").GetDouble() > 0.05, "the eye model separates NUAA's prints from live people far worse than fr_liveness");
        var motion = json.GetProperty("cues")[3];
        Assert.True(motion.GetProperty("spoofMedian").GetDouble() > motion.GetProperty("liveMedian").GetDouble(), "NUAA's hand-held prints move more than its still subjects");
        // ...but a print moves as a plane: its landmarks follow an affine map, a head's do not
        var planar = json.GetProperty("cues")[4];
        Assert.True(planar.GetProperty("spoofMedian").GetDouble() * 4 < planar.GetProperty("liveMedian").GetDouble(), planar.ToString());
        Assert.All(json.GetProperty("presences").EnumerateArray(), p => Assert.InRange(p.GetProperty("cues").GetProperty("nonPlanar").GetDouble(), 0, 1));
    }

    [Fact]
    public void Eval_liveness_reports_both_channel_orders_and_writes_a_det_plot()
    {
        var cli = new CliRunner();
        var report = Path.Combine(TestEnvironment.TempDirectory(), "liveness");
        var r = cli.Run("eval", "liveness", TestEnvironment.Data("faces", "spoof-samples"), "--report", report, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = r.Json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["rgb", "bgr"], results.Select(x => x.GetProperty("channels").GetString()));
        Assert.Equal(0, results[1].GetProperty("atThreshold").GetProperty("acer").GetDouble());
        Assert.True(File.Exists(Path.Combine(report, "det.png")) && File.Exists(Path.Combine(report, "det.svg")));
        Assert.Equal(2, cli.Run("eval", "liveness", TestEnvironment.Data("faces", "photos")).ExitCode);
    }
}
