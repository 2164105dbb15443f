using EchoFace.Configuration;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Tests.Face;

/// <summary>The liveness crop's fits, opinion specs, fusion settings and the screen cues, without models.</summary>
[Trait("Category", "Unit")]
public class LivenessOpinionTests
{
    private static readonly BoxF Face = new(200, 100, 300, 240); // 100 x 140, centre (250, 170)

    [Fact]
    public void Clamp_cuts_the_scaled_box_at_the_edges_shift_shrinks_and_moves_it_inside_pad_keeps_it()
    {
        var clamp = LivenessScorer.ContextBox(Face, 2.7f, "clamp", false, 640, 320);
        Assert.Equal(new BoxF(115, 0, 385, 320), clamp); // 270 x 378 about the centre, cut at the top and bottom

        var shift = LivenessScorer.ContextBox(Face, 2.7f, "shift", false, 640, 320);
        Assert.Equal(319f / 140, shift.Height / Face.Height, 3); // the largest scale that fits the image's height
        Assert.True(shift.Y1 >= 0 && shift.Y2 <= 319 && shift.X1 >= 0 && shift.X2 <= 639, shift.ToString());
        Assert.Equal(shift.Width / shift.Height, Face.Width / Face.Height, 3); // the face keeps its shape

        var moved = LivenessScorer.ContextBox(new BoxF(10, 100, 110, 240), 2f, "shift", false, 640, 480);
        Assert.Equal(0, moved.X1, 3); // moved right rather than cut
        Assert.Equal(200, moved.Width, 3);

        var pad = LivenessScorer.ContextBox(Face, 2.7f, "pad", true, 640, 320);
        Assert.Equal(378, pad.Width, 3); // squared on the larger side, then scaled, past the edges
        Assert.Equal(378, pad.Height, 3);
        Assert.True(pad.Y1 < 0);
    }

    [Fact]
    public void An_opinion_spec_with_an_unknown_change_is_refused_naming_it()
    {
        // refused before any model loads
        var e = Assert.Throws<ArgumentException>(() =>
            LivenessOpinions.Create("fr_liveness:scale=9", _ => throw new InvalidOperationException("loaded")));
        Assert.Contains("'scale=9'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'sideways'", Assert.Throws<ArgumentException>(() => LivenessOpinions.Create("fr_liveness:sideways", _ => null!)).Message);
    }

    [Fact]
    public void A_screen_cue_spec_makes_the_cue_and_an_unknown_cue_is_refused()
    {
        using var cue = LivenessOpinions.Create("screen:moire", _ => throw new InvalidOperationException("a cue loads no model"));
        Assert.Equal("screen:moire", cue.Name);
        Assert.Contains("one of moire", Assert.Throws<ArgumentException>(() => new ScreenCue("sparkle")).Message);
    }

    [Fact]
    public void Fusion_settings_are_checked_and_a_configured_list_replaces_the_default()
    {
        Assert.Contains("one value per opinion", Assert.Throws<ArgumentException>(() =>
            new LivenessFusionOptions { Opinions = ["fr_liveness", "minifasnet_v2"], Weights = [1] }.Validate()).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() =>
            new LivenessFusionOptions { Opinions = ["minifasnet_v2", "minifasnet_v2"], Weights = [1, 1] }.Validate()).Message);
        new LivenessFusionOptions { Opinions = [] }.Validate(); // off: Face.Liveness alone

        var config = EchoFaceConfig.Load(overrides: new Dictionary<string, string?>
        {
            ["Face:LivenessFusion:Opinions:0"] = "minifasnet_v2", ["Face:LivenessFusion:Weights:0"] = "2", ["Face:LivenessFusion:Bias"] = "1",
        });
        Assert.Equal(["minifasnet_v2"], config.Face.LivenessFusion.Opinions);
        Assert.Equal([2.0], config.Face.LivenessFusion.Weights);
        Assert.Contains("minifasnet_v2", config.ModelsInUse);
    }

    [Fact]
    public void Fusion_weighs_log_odds_so_a_confident_opinion_outvotes_a_doubtful_one()
    {
        var options = new LivenessFusionOptions { Opinions = ["a", "b"], Weights = [1, 1], Bias = 0 };
        using var fusion = new LivenessFusion([new Fixed("a"), new Fixed("b")], options);
        Assert.Equal(0.5f, fusion.Combine([0.5f, 0.5f]), 4);
        Assert.True(fusion.Combine([0.99f, 0.3f]) > 0.9f);
        Assert.True(fusion.Combine([0.01f, 0.7f]) < 0.1f);
        Assert.Equal(1e-4f * 1e-4f / (1e-4f * 1e-4f + 1), fusion.Combine([0f, 0f]), 6); // held off 0 and 1: finite log-odds
    }

    private sealed class Fixed(string name) : ILivenessOpinion
    {
        public string Name => name;
        public float Score(RgbImage image, in BoxF box, bool tightCrop = false) => 0.5f;
        public void Dispose() { }
    }

    [Fact]
    public void Moire_reads_a_fine_pixel_grid_above_a_smooth_face_and_chroma_reads_warm_above_blue()
    {
        var smooth = Fill(240, 240, (x, y) => ((byte)(120 + x / 4), (byte)(90 + y / 4), (byte)70));
        var grid = Fill(240, 240, (x, y) => ((byte)(120 + x / 4 + ((x + y) % 3 == 0 ? 40 : 0)), (byte)(90 + y / 4), (byte)70));
        var blue = Fill(240, 240, (x, y) => ((byte)90, (byte)110, (byte)170));
        var box = new BoxF(40, 40, 200, 200);
        using var moire = new ScreenCue("moire");
        Assert.True(moire.Score(grid, box) > moire.Score(smooth, box) + 1, $"{moire.Score(grid, box)} vs {moire.Score(smooth, box)}");
        using var chroma = new ScreenCue("chroma");
        Assert.True(chroma.Score(smooth, box) > 0 && chroma.Score(blue, box) < 0);
        using var clipped = new ScreenCue("clipped");
        Assert.Equal(1, clipped.Score(Fill(240, 240, (_, _) => (255, 255, 255)), box));
    }

    private static RgbImage Fill(int w, int h, Func<int, int, (byte R, byte G, byte B)> pixel)
    {
        var image = new RgbImage(w, h);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var (r, g, b) = pixel(x, y);
                var o = (y * w + x) * 3;
                (image.Data[o], image.Data[o + 1], image.Data[o + 2]) = (r, g, b);
            }
        return image;
    }
}
