using System.Text.Json;
using EchoFace.Configuration;
using EchoFace.WebConsole;

namespace EchoFace.Tests.WebConsole;

[Trait("Category", "Unit")]
public class SettingsMaskTests
{
    [Fact]
    public void Secrets_are_masked_and_the_files_that_hold_them_stay_named()
    {
        var config = new EchoFaceConfig();
        config.Fleet.Password = "hunter2";
        config.Fleet.PasswordFile = "/etc/echoface/broker.secret";
        config.FleetServer.Database = "Host=db;Password=topsecret;Username=fleet";
        var node = JsonSerializer.SerializeToNode(config)!;
        SecretMask.Mask(node);
        var text = node.ToJsonString();
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("topsecret", text, StringComparison.Ordinal);
        Assert.Contains("/etc/echoface/broker.secret", text, StringComparison.Ordinal);
        Assert.Equal("••••••", node["Fleet"]!["Password"]!.GetValue<string>());
        Assert.Equal("Host=db;Password=••••••;Username=fleet", node["FleetServer"]!["Database"]!.GetValue<string>());
        Assert.Equal(config.Door.Name, node["Door"]!["Name"]!.GetValue<string>()); // the rest as it is
    }
}
