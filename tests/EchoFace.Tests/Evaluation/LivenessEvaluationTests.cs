using EchoFace.Face;
using EchoFace.Access;
using EchoFace.Evaluation;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Evaluation;

/// <summary>Single-frame liveness on the shared attack data: the channel order measured, the default threshold's error rates, the CLI report.</summary>
[Trait("Category", "Integration")]
public class LivenessEvaluationTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>
{
    private static readonly float Threshold = new AccessOptions().LivenessThreshold;

    private List<LivenessSample> Score(string set, string? split, params string[] specs)
    {
        var opinions = specs.Select(spec => LivenessOpinions.Create(spec, fixture.Factory.Create)).ToList();
        try
        {
            var items = LivenessEvaluation.ListSamples(TestEnvironment.Data("faces", set), split);
            var samples = LivenessEvaluation.Run(fixture.Pipeline, items, opinions);
            Assert.DoesNotContain(samples, s => s.Failure is not null && set != "replay-a");
            return samples;
        }
        finally
        {
            foreach (var o in opinions) o.Dispose();
        }
    }

    /// <summary>The pipeline's fused liveness of a sample scored by its fusion's opinions (null where no face was found).</summary>
    private float? Fused(LivenessSample s)
    {
        var fusion = fixture.Pipeline.LivenessFusion!;
        return s.Failure is null ? fusion.Combine([.. fusion.Opinions.Select(o => s.Scores[o.Name])]) : null;
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Nuaa_test_split_meets_apcer_1_percent_at_bpcer_3_percent_fr_liveness_alone_and_fused()
    {
        var samples = LivenessEvaluation.Run(fixture.Pipeline, LivenessEvaluation.ListSamples(TestEnvironment.Data("faces", "nuaa-subset"), "test"),
            [.. fixture.Pipeline.LivenessOpinions, fixture.Pipeline.Liveness]);
        Assert.DoesNotContain(samples, s => s.Failure is not null);
        var ways = new (string, Func<LivenessSample, float?>)[] { ("fused", Fused), ("fr_liveness", s => s.Score(fixture.Pipeline.Liveness.Name)) };
        foreach (var (name, score) in ways)
        {
            var at = LivenessEvaluation.At(samples, score, Threshold);
            Assert.True(at.Apcer <= 0.01 && at.Bpcer <= 0.03, $"{name}: APCER {at.Apcer:P2}, BPCER {at.Bpcer:P2} at {Threshold}");
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Fed_rgb_fr_liveness_is_measurably_worse_than_fed_bgr()
    {
        // the order the package's JS uses: keep the measurement honest if the model or pre-processing changes
        var samples = Score("nuaa-subset", "test", "fr_liveness:bgr", "fr_liveness:rgb");
        double Eer(string opinion) => LivenessEvaluation.Metrics(samples, s => s.Score(opinion)).Eer;
        Assert.True(Eer("fr_liveness:bgr") < Eer("fr_liveness:rgb"));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Screen_replays_are_refused_and_live_crops_accepted_within_5_percent_where_each_model_alone_is_not()
    {
        var fusion = fixture.Pipeline.LivenessFusion!;
        var items = LivenessEvaluation.ListSamples(TestEnvironment.Data("faces", "replay-a"));
        var samples = LivenessEvaluation.Run(fixture.Pipeline, items, fusion.Opinions);
        Assert.True(samples.Count(s => s.Failure is not null) <= 2, "replay-a's crops are found through the tight-crop retry");
        Assert.All(samples.Where(s => s.Failure is null), s => Assert.True(s.Ms.Values.Sum() < 1000));
        var fused = LivenessEvaluation.At(samples, Fused, Threshold);
        Assert.True(fused.Apcer <= 0.05 && fused.Bpcer <= 0.05, $"fused: replays accepted {fused.Apcer:P2}, live refused {fused.Bpcer:P2}");
        foreach (var o in fusion.Opinions)
        {
            var alone = LivenessEvaluation.At(samples, s => s.Score(o.Name), Threshold);
            Assert.True(alone.Apcer > 0.05 || alone.Bpcer > 0.05, $"{o.Name} alone meets the target too ({alone}): is the fusion still needed?");
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void A_tight_crop_is_scored_padded_not_stretched_to_the_image()
    {
        // MiniFASNetV2 on replay-a: the face at the scale it was trained on (black around it) against the crop stretched to its input
        var samples = Score("replay-a", null, "minifasnet_v2", "minifasnet_v2:tight=shift");
        var padded = LivenessEvaluation.Metrics(samples, s => s.Score("minifasnet_v2")).Eer;
        var stretched = LivenessEvaluation.Metrics(samples, s => s.Score("minifasnet_v2:tight=shift")).Eer;
        Assert.True(padded < 0.03 && padded < stretched, $"EER padded {padded:P2}, stretched {stretched:P2}");
    }

    [Fact]
    public void The_four_independent_spoof_samples_rank_every_live_face_above_every_attack()
    {
        var samples = Score("spoof-samples", null, "fr_liveness", "fr_liveness:rgb");
        Assert.Equal(4, samples.Count);
        Assert.All(samples, s =>
            Assert.True(s.Score("fr_liveness") >= Threshold == s.Live, $"{Path.GetFileName(s.Path)}: {s.Live}, {s.Score("fr_liveness"):F3}"));
        Assert.Contains(samples, s => s.Score("fr_liveness:rgb") >= Threshold != s.Live); // fed RGB, at least one is wrong (3 of 4 at the JS's 0.3)
        // fused: every live face above every attack; at the shipped threshold the second phone photo (both models doubtful) is refused
        var items = LivenessEvaluation.ListSamples(TestEnvironment.Data("faces", "spoof-samples"));
        var scores = LivenessEvaluation.Run(fixture.Pipeline, items, fixture.Pipeline.LivenessOpinions)
            .Select(s => (s.Live, Score: Fused(s)!.Value)).ToList();
        Assert.True(scores.Where(x => x.Live).Min(x => x.Score) > scores.Where(x => !x.Live).Max(x => x.Score), string.Join(", ", scores));
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
        Assert.Equal(["liveness", "blink", "liveness", "head", "non-planar", "liveness", "texture", "liveness"],
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
    public void Eval_liveness_reports_each_opinion_and_the_fused_one_per_attack_and_writes_a_det_plot()
    {
        var cli = new CliRunner();
        var report = Path.Combine(TestEnvironment.TempDirectory(), "liveness");
        var r = cli.Run("eval", "liveness", TestEnvironment.Data("faces", "spoof-samples"), "--report", report, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = r.Json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["fr_liveness:square", "minifasnet_v2", "fused (Face.LivenessFusion)"],
            results.Select(x => x.GetProperty("opinion").GetString()));
        Assert.All(results, x => Assert.Equal(0, x.GetProperty("eer").GetDouble()));
        Assert.Equal(0, results[2].GetProperty("perAttack").GetProperty("spoof").GetDouble());
        Assert.True(File.Exists(Path.Combine(report, "det.png")) && File.Exists(Path.Combine(report, "det.svg")));
        Assert.Equal(2, cli.Run("eval", "liveness", TestEnvironment.Data("faces", "photos")).ExitCode);
        var bad = cli.Run("eval", "liveness", TestEnvironment.Data("faces", "spoof-samples"), "--opinion", "fr_liveness:sideways");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("'sideways'", bad.Stderr);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Eval_liveness_fit_returns_weights_that_reproduce_its_fused_scores_and_a_cross_validated_row()
    {
        var cli = new CliRunner();
        var r = cli.Run("eval", "liveness", TestEnvironment.Data("faces", "nuaa-subset"), "--split", "test", "--fit",
            "--opinion", "minifasnet_v2", "--opinion", "screen:moire", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var fit = r.Json.GetProperty("fit");
        Assert.Equal(["minifasnet_v2", "screen:moire"], fit.GetProperty("opinions").EnumerateArray().Select(x => x.GetString()));
        Assert.True(fit.GetProperty("weights")[0].GetDouble() > 0, "a higher live probability must weigh towards live");
        var names = r.Json.GetProperty("results").EnumerateArray().Select(x => x.GetProperty("opinion").GetString()!).ToList();
        Assert.Equal("fitted", names[2]);
        Assert.StartsWith("fitted, 2-fold", names[3]);
        Assert.True(r.Json.GetProperty("results")[2].GetProperty("eer").GetDouble() <= 0.02);
    }
}
