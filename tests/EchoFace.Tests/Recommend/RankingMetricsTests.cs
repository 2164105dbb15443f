using EchoFace.Recommend;

namespace EchoFace.Tests.Recommend;

/// <summary>Each metric against an answer worked by hand: list [1, 2, 3, 4, 5], bought {2, 5, 9}.</summary>
[Trait("Category", "Unit")]
public class RankingMetricsTests
{
    private static readonly int[] List = [1, 2, 3, 4, 5];
    private static readonly HashSet<int> Bought = [2, 5, 9];

    [Fact]
    public void Precision_counts_hits_over_k() =>
        Assert.Equal(0.4, RankingMetrics.Precision(List, Bought, 5), 10); // 2 of 5

    [Fact]
    public void Precision_at_a_shorter_k_sees_only_the_head() =>
        Assert.Equal(1.0 / 3, RankingMetrics.Precision(List, Bought, 3), 10); // item 2 of [1, 2, 3]

    [Fact]
    public void Recall_counts_hits_over_everything_bought() =>
        Assert.Equal(2.0 / 3, RankingMetrics.Recall(List, Bought, 5), 10);

    [Fact]
    public void Hit_rate_is_one_when_anything_in_the_head_was_bought()
    {
        Assert.Equal(1, RankingMetrics.HitRate(List, Bought, 5));
        Assert.Equal(0, RankingMetrics.HitRate(List, Bought, 1));
    }

    [Fact]
    public void Average_precision_means_precision_at_each_hit_over_min_k_and_bought() =>
        Assert.Equal((1.0 / 2 + 2.0 / 5) / 3, RankingMetrics.AveragePrecision(List, Bought, 5), 10); // 0.3

    [Fact]
    public void Ndcg_divides_by_the_ideal_list()
    {
        var dcg = 1 / Math.Log2(3) + 1 / Math.Log2(6); // hits at positions 2 and 5
        var ideal = 1 + 1 / Math.Log2(3) + 1 / Math.Log2(4); // three bought items at the top
        Assert.Equal(dcg / ideal, RankingMetrics.Ndcg(List, Bought, 5), 10); // 0.4776
        Assert.Equal(1.0, RankingMetrics.Ndcg([9, 5, 2], Bought, 3), 10);
    }

    [Fact]
    public void Nothing_bought_scores_zero_everywhere()
    {
        var none = new HashSet<int>();
        Assert.Equal(0, RankingMetrics.Recall(List, none, 5));
        Assert.Equal(0, RankingMetrics.AveragePrecision(List, none, 5));
        Assert.Equal(0, RankingMetrics.Ndcg(List, none, 5));
    }

    [Fact]
    public void Coverage_is_the_share_of_the_catalogue_shown_to_anyone() =>
        Assert.Equal(0.75, RankingMetrics.Coverage([[0, 1, 3], [1, 2, 3]], 2, 4), 10); // {0, 1, 2} of 4

    [Fact]
    public void Diversity_is_one_minus_the_mean_pairwise_similarity()
    {
        float[] similarity =
        [
            0, 0.5f, 0.1f,
            0.5f, 0, 0.3f,
            0.1f, 0.3f, 0,
        ];
        Assert.Equal(1 - (0.5 + 0.1 + 0.3) / 3, RankingMetrics.Diversity([0, 1, 2], 3, similarity, 3), 5); // 0.7
        Assert.Equal(0.5, RankingMetrics.Diversity([0, 1, 2], 2, similarity, 3), 5);
    }
}
