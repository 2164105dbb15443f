using EchoFace.Evaluation;

namespace EchoFace.Tests.Evaluation;

/// <summary>Pair-list protocols: both file formats, their bad lines, and the fold accuracy with missing faces counted as rejections.</summary>
[Trait("Category", "Unit")]
public class PairProtocolTests
{
    private static string Write(string text)
    {
        var file = Path.Combine(TestEnvironment.TempDirectory(), "pairs.txt");
        File.WriteAllText(file, text);
        return file;
    }

    [Fact]
    public void Cfp_lines_and_lfw_pairs_txt_are_read_with_their_folds()
    {
        var cfp = PairProtocol.Read(Write(
            "# comment\n001/frontal_05.jpg 001/profile_01.jpg 1 1\n001/a.jpg 002/b.jpg different 2\n\n003/c.jpg 003/d.jpg same\n"));
        Assert.Equal([new("001/frontal_05.jpg", "001/profile_01.jpg", true, 1), new("001/a.jpg", "002/b.jpg", false, 2),
            new("003/c.jpg", "003/d.jpg", true, 1)], cfp);

        var lfw = PairProtocol.Read(Write("2\t1\nAbel_Pacheco\t1\t4\nAbdel_Madi\t1\tDean_Barker\t12\nAl_Gore\t2\t3\nAl_Pacino\t1\tAmy_Smart\t2\n"));
        Assert.Equal(new FacePair("Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0004.jpg", true, 1), lfw[0]);
        Assert.Equal(new FacePair("Abdel_Madi/Abdel_Madi_0001.jpg", "Dean_Barker/Dean_Barker_0012.jpg", false, 1), lfw[1]);
        Assert.Equal([1, 1, 2, 2], lfw.Select(p => p.Fold));
    }

    [Theory]
    [InlineData("a.jpg b.jpg maybe 1\n", "line 1: 'maybe' is not same|different|1|0")]
    [InlineData("a.jpg b.jpg 1 1\nc.jpg d.jpg 0 x\n", "line 2: fold 'x' is not a positive whole number")]
    [InlineData("a.jpg b.jpg\n", "line 1: expected `relA relB same|different [fold]`")]
    [InlineData("a.jpg b.jpg 1 1\nc.jpg d.jpg 1 1\n", "needs both same-person and different-person pairs")]
    [InlineData("10\t300\nAbel\t1\t4\n", "the header says 10 folds of 300 same + 300 different pairs, the file has 1")]
    [InlineData("1\t1\nAbel\t1\tx\nA\t1\tB\t2\n", "line 2: image number 'x' is not a positive whole number")]
    [InlineData("\n# nothing\n", "has no pairs")]
    public void A_bad_list_names_its_line_and_what_is_wrong(string text, string message)
    {
        var e = Assert.Throws<BadInputException>(() => PairProtocol.Read(Write(text)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_list_that_is_not_there_is_named() =>
        Assert.Contains("/does-not-exist/pairs.txt cannot be read",
            Assert.Throws<BadInputException>(() => PairProtocol.Read("/does-not-exist/pairs.txt")).Message, StringComparison.Ordinal);

    [Fact]
    public void The_best_threshold_separates_and_ties_move_together()
    {
        Assert.Equal(0.5, PairEvaluation.BestThreshold([0.2, 0.4, 0.6, 0.8], [false, false, true, true]), 9);
        // 0.5 twice, once same and once different: no threshold splits them, the best is all of them rejected or accepted alike
        var t = PairEvaluation.BestThreshold([0.1, 0.5, 0.5, 0.9], [false, true, false, true]);
        Assert.True(t is > 0.5 and < 0.9 or > 0.1 and < 0.5, $"threshold {t}");
    }

    [Fact]
    public void Each_fold_is_judged_by_the_threshold_the_other_folds_chose()
    {
        // fold 1 alone would pick 0.5 and be all right; fold 2 (its scores higher) picks 0.75 and so gets two of fold 1's four wrong
        double[] scores = [0.3, 0.4, 0.6, 0.7, 0.7, 0.72, 0.78, 0.9];
        bool[] same = [false, false, true, true, false, false, true, true];
        int[] folds = [1, 1, 1, 1, 2, 2, 2, 2];
        var a = PairEvaluation.Accuracy(scores, same, folds);
        Assert.Equal(0.75, a.Thresholds[0], 9); // chosen on fold 2
        Assert.Equal(0.5, a.PerFold[0], 9); // 0.6 and 0.7 rejected
        Assert.Equal(0.5, a.Thresholds[1], 9); // chosen on fold 1
        Assert.Equal(0.5, a.PerFold[1], 9); // 0.7 and 0.72 accepted
        Assert.Equal(0.5, a.Mean, 9);
    }

    [Fact]
    public void A_pair_with_no_face_is_rejected_so_it_counts_wrong_when_same_and_right_when_different()
    {
        float[] x = [1, 0], y = [0.8f, 0.6f], z = [0, 1];
        var images = new Dictionary<string, EvaluatedImage>
        {
            ["p/1.jpg"] = new("p/1.jpg", "p", x, default, null), ["p/2.jpg"] = new("p/2.jpg", "p", y, default, null),
            ["q/1.jpg"] = new("q/1.jpg", "q", z, default, null), ["q/2.jpg"] = new("q/2.jpg", "q", null, default, "no face detected"),
        };
        FacePair[] pairs = [new("p/1.jpg", "p/2.jpg", true, 1), new("p/1.jpg", "q/1.jpg", false, 1), new("q/1.jpg", "q/2.jpg", true, 1),
            new("p/2.jpg", "q/2.jpg", false, 1)];
        var r = PairEvaluation.Score("test", pairs, images, (a, b) => System.Numerics.Tensors.TensorPrimitives.Dot(a.Embedding, b.Embedding));
        Assert.Equal(2, r.Missing);
        Assert.Equal(0.75, r.Accuracy.Mean, 9); // the same-person pair without a face is the one wrong
        Assert.Equal(1.0, r.AccuracyFound!.Mean, 9);
        Assert.Equal(0.5, r.Metrics.AtFar[0].Tar, 9); // and it is a genuine pair never accepted
    }
}
