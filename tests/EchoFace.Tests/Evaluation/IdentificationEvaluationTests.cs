using EchoFace.Evaluation;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Evaluation;

[Trait("Category", "Integration")]
public class IdentificationEvaluationTests
{
    [Fact]
    public void Kmeans_finds_the_two_looks_of_one_person()
    {
        static float[] Unit(params float[] v)
        {
            EchoFace.Inference.Embeddings.Normalize(v);
            return v;
        }
        // three photos in daylight, two under a lamp: the two centroids must sit one in each group
        var points = new[] { Unit(1, 0.1f, 0), Unit(1, 0, 0.1f), Unit(1, 0.05f, 0.05f), Unit(0, 1, 0.1f), Unit(0.1f, 1, 0) };
        var centres = IdentificationEvaluation.KMeans(points, 2).OrderByDescending(c => c[0]).ToList();
        Assert.True(centres[0][0] > 0.95f && centres[1][1] > 0.95f, string.Join(" | ", centres.Select(c => string.Join(",", c))));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Eval_identify_compares_the_methods_on_held_out_photos_and_rejects_people_never_enrolled()
    {
        var cli = new CliRunner();
        var report = Path.Combine(cli.DataDirectory, "identify");
        var r = cli.Run("eval", "identify", TestEnvironment.Data("faces", "photos"), "--report", report, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var methods = r.Json.GetProperty("methods").EnumerateArray().ToDictionary(m => m.GetProperty("method").GetString()!);
        Assert.Equal(["nearest", "average", "kmeans3", "classifier"], methods.Keys);
        var nearest = methods["nearest"];
        Assert.True(nearest.GetProperty("accuracy").GetDouble() >= 0.95, nearest.ToString());
        Assert.True(nearest.GetProperty("openSetRejection").GetDouble() >= 0.9, nearest.ToString());
        Assert.Equal("nearest", r.Json.GetProperty("best").GetString()); // the gallery's default wins on these photos
        Assert.True(r.Json.GetProperty("openSetImages").GetInt32() > 0);
        Assert.True(new FileInfo(Path.Combine(report, "confusion.png")).Length > 10_000);
    }
}
