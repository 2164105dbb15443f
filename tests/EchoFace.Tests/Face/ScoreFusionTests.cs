using EchoFace.Face;
using EchoFace.Inference;

namespace EchoFace.Tests.Face;

[Trait("Category", "Unit")]
public class ScoreFusionTests
{
    [Fact]
    public void Scores_are_put_on_one_scale_before_they_are_weighted()
    {
        // model B's impostors sit at 0.8 +- 0.04: its 0.88 is as strong as model A's 0.2 (both 2 std above their impostors)
        var fusion = new ScoreFusion([new ScoreNorm(0.0, 0.1), new ScoreNorm(0.8, 0.04)], [1, 3]);
        Assert.Equal(2.0, fusion.Fuse([0.2, 0.88]), 6);
        Assert.Equal(0.25 * 2 + 0.75 * -1, fusion.Fuse([0.2, 0.76]), 6);
    }

    [Fact]
    public void The_impostor_norm_is_their_mean_and_sample_standard_deviation()
    {
        var norm = ScoreNorm.Of([0.1, 0.3, 0.5]);
        Assert.Equal(0.3, norm.ImpostorMean, 9);
        Assert.Equal(0.2, norm.ImpostorStd, 9);
        Assert.Equal(1.0, norm.Normalise(0.5), 9);
    }

    [Theory]
    [InlineData(new[] { "fr_feature" }, new[] { 1.0 }, "at least two")]
    [InlineData(new[] { "fr_feature", "faceapi_resnet" }, new[] { 1.0 }, "1 values for 2")]
    [InlineData(new[] { "fr_feature", "faceapi_resnet" }, new[] { -1.0, 1.0 }, ">= 0")]
    public void A_wrong_fusion_setting_is_refused_naming_the_key(string[] embedders, double[] weights, string expected)
    {
        var options = new FusionOptions { Embedders = [.. embedders], Weights = [.. weights] };
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("Face.Fusion", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
