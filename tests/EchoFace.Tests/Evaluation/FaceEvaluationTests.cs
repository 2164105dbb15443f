using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Evaluation;

/// <summary>The accuracy targets of the face core, measured on the real data with `echoface eval faces`.</summary>
[Trait("Category", "Slow")]
public class FaceEvaluationTests
{
    private static System.Text.Json.JsonElement Eval(string set, string report)
    {
        var r = new CliRunner().Run("eval", "faces", TestEnvironment.Data("faces", set), "--report", report, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Json;
    }

    [Fact]
    public void Photos_reach_eer_at_most_1_5_percent_with_a_det_plot()
    {
        var report = TestEnvironment.TempDirectory();
        var json = Eval("photos", report);
        Assert.True(json.GetProperty("eer").GetDouble() <= 0.015, $"EER {json.GetProperty("eer")}");
        Assert.Equal(114, json.GetProperty("images").GetInt32());
        Assert.Equal(0, json.GetProperty("failures").GetArrayLength());
        Assert.True(new FileInfo(Path.Combine(report, "det.png")).Length > 10_000);
        Assert.Contains("<svg", File.ReadAllText(Path.Combine(report, "det.svg")));
        Assert.True(File.Exists(Path.Combine(report, "report.json")));
    }

    [Fact]
    public void Yale_b_reaches_eer_at_most_2_percent()
    {
        var json = Eval("yaleb", TestEnvironment.TempDirectory());
        Assert.True(json.GetProperty("eer").GetDouble() <= 0.02, $"EER {json.GetProperty("eer")}");
        Assert.True(json.GetProperty("failures").GetArrayLength() <= 5, "failures to detect");
    }
}
