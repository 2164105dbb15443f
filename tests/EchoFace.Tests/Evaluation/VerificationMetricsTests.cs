using EchoFace.Evaluation;

namespace EchoFace.Tests.Evaluation;

[Trait("Category", "Unit")]
public class VerificationMetricsTests
{
    [Fact]
    public void Perfectly_separated_scores_have_zero_eer_and_full_tar()
    {
        var m = VerificationMetrics.Compute([0.9, 0.8, 0.7], [0.1, 0.2, 0.3, 0.4]);
        Assert.Equal(0, m.Eer, 6);
        Assert.All(m.AtFar, a => Assert.Equal(1, a.Tar));
        Assert.InRange(m.EerThreshold, 0.4, 0.7);
    }

    [Fact]
    public void Eer_of_a_hand_worked_case()
    {
        // genuine 0.9 0.8 0.6 0.3; impostor 0.7 0.5 0.2 0.1. At threshold 0.6: FRR 1/4, FAR 1/4 -> EER 25%
        var m = VerificationMetrics.Compute([0.9, 0.8, 0.6, 0.3], [0.7, 0.5, 0.2, 0.1]);
        Assert.Equal(0.25, m.Eer, 6);
        // FAR <= 1% allows no impostor: threshold above 0.7, TAR 2/4
        Assert.Equal(0.5, m.AtFar[0].Tar, 6);
        Assert.Equal(0.8, m.AtFar[0].Threshold, 6);
    }

    [Fact]
    public void Eer_interpolates_between_roc_points()
    {
        // one genuine below one impostor among 2 each: EER 50% at the crossing
        var m = VerificationMetrics.Compute([0.2, 0.9], [0.5, 0.1]);
        Assert.Equal(0.5, m.Eer, 6);
    }

    [Fact]
    public void Min_dcf_is_zero_when_separable_and_one_for_a_useless_system()
    {
        Assert.Equal(0, VerificationMetrics.Compute([1.0], [0.0]).MinDcf, 6);
        Assert.Equal(1, VerificationMetrics.Compute([0.0], [1.0]).MinDcf, 6);
    }

    [Fact]
    public void Needs_both_kinds_of_score() =>
        Assert.Throws<ArgumentException>(() => VerificationMetrics.Compute([], [0.1]));

    [Fact]
    public void Percentiles_use_nearest_rank() =>
        Assert.Equal(3, Percentiles.Of([5, 1, 4, 2, 3], 50));
}
