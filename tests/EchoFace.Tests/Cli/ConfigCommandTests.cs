using System.Text.Json;

namespace EchoFace.Tests.Cli;

[Trait("Category", "Integration")]
public class ConfigCommandTests
{
    private static string ConfigFile(object settings)
    {
        var path = Path.Combine(TestEnvironment.TempDirectory(), "echoface.json");
        File.WriteAllText(path, JsonSerializer.Serialize(settings));
        return path;
    }

    [Fact]
    public void Config_show_prints_what_is_in_force_with_the_password_masked_unless_asked()
    {
        var cli = new CliRunner();
        var file = ConfigFile(new { Fleet = new { Password = "hunter2", Site = "shop-7" }, Access = new { Policy = "retail" } });
        var shown = cli.Run("config", "show", "--config", file);
        Assert.Equal(0, shown.ExitCode);
        var doc = JsonDocument.Parse(shown.Stdout).RootElement;
        Assert.Equal("***", doc.GetProperty("Fleet").GetProperty("Password").GetString());
        Assert.Equal("shop-7", doc.GetProperty("Fleet").GetProperty("Site").GetString());
        Assert.Equal("retail", doc.GetProperty("Access").GetProperty("Policy").GetString());
        Assert.Equal(0.45f, doc.GetProperty("Match").GetProperty("IdentifyThreshold").GetSingle()); // defaults are shown too
        Assert.DoesNotContain("hunter2", shown.Stdout);
        Assert.Contains("hunter2", cli.Run("config", "show", "--config", file, "--reveal-secrets").Stdout);
        var bad = cli.Run("config", "show", "--config", ConfigFile(new { Access = new { Policy = "iris" } }));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("Access.Policy", bad.Stderr);
    }
}
