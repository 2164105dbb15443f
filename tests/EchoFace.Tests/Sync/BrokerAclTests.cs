using System.Diagnostics;
using EchoFace.Sync;

namespace EchoFace.Tests.Sync;

/// <summary>deploy/mosquitto/echoface.acl on a real mosquitto: devices confined to their own topics, only the fleet account changes a device.</summary>
[Trait("Category", "Integration")]
public class BrokerAclTests
{
    private static string PasswordFile(params string[] users)
    {
        var file = Path.Combine(TestEnvironment.TempDirectory(), "passwd");
        File.WriteAllText(file, "");
        foreach (var user in users)
        {
            using var p = Process.Start(new ProcessStartInfo("mosquitto_passwd", ["-b", file, user, $"{user}-secret"]) { RedirectStandardError = true })!;
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"mosquitto_passwd failed: {p.StandardError.ReadToEnd()} (is mosquitto installed? {TestEnvironment.SetupCommand})");
        }
        return file;
    }

    private static Task<FleetClient> As(Mosquitto broker, string user) => FleetClient.ConnectAsync(new FleetOptions
    {
        Enabled = true, Broker = broker.Url(), Site = "lab", DeviceId = "x", Username = user, Password = $"{user}-secret",
    }, CancellationToken.None);

    private static async Task<bool> Publishes(FleetClient client, string topic)
    {
        try
        {
            await client.PublishAsync(topic, """{"requestId":"t"}"""u8.ToArray(), retain: false, CancellationToken.None);
            return true;
        }
        catch (ToolException e) when (e.Message.Contains("NotAuthorized"))
        {
            return false;
        }
    }

    private static async Task<List<string>> Received(FleetClient client) =>
        [.. (await client.CollectAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3), CancellationToken.None)).Select(m => m.Topic)];

    [Fact]
    public async Task Devices_reach_only_their_own_topics_and_only_the_fleet_account_changes_a_device()
    {
        var acl = Path.Combine(TestEnvironment.RepoRoot, "deploy", "mosquitto", "echoface.acl");
        // a bounded queue, as in deploy/mosquitto/echoface.conf: with max_queued_messages 0 (the other tests' unbounded queue),
        // mosquitto 2.0.11 drops an MQTT 5 client right after refusing one of its publishes
        using var broker = new Mosquitto($"password_file {PasswordFile("lab/door-1", "lab/door-2", "fleet", "monitor")}\nacl_file {acl}\nmax_queued_messages 10000\n",
            anonymous: false);
        await using var door1 = await As(broker, "lab/door-1");
        await using var door2 = await As(broker, "lab/door-2");
        await using var fleet = await As(broker, "fleet");
        await using var monitor = await As(broker, "monitor");
        await door1.SubscribeAsync("echoface/#", CancellationToken.None);
        await door2.SubscribeAsync("echoface/#", CancellationToken.None);
        await monitor.SubscribeAsync("echoface/#", CancellationToken.None);
        await fleet.SubscribeAsync("echoface/#", CancellationToken.None);

        // a device writes its own status, events and answers, and nothing that changes a device, not even itself
        Assert.True(await Publishes(door1, "echoface/lab/door-1/status"));
        Assert.True(await Publishes(door1, "echoface/lab/door-1/events/access"));
        Assert.True(await Publishes(door1, "echoface/lab/door-1/cmd/export/result"));
        Assert.False(await Publishes(door1, "echoface/lab/door-2/status"));
        Assert.False(await Publishes(door1, "echoface/lab/door-1/enroll/set"));
        Assert.False(await Publishes(door1, "echoface/lab/door-1/config/desired"));
        Assert.False(await Publishes(door1, "echoface/lab/door-2/cmd/unlock"));
        Assert.False(await Publishes(monitor, "echoface/lab/door-1/cmd/unlock"));
        // the fleet account pushes to devices
        Assert.True(await Publishes(fleet, "echoface/lab/door-1/enroll/set"));
        Assert.True(await Publishes(fleet, "echoface/lab/_all/config/desired"));

        var one = await Received(door1);
        var two = await Received(door2);
        var seenByFleet = await Received(fleet);
        var seenByMonitor = await Received(monitor);
        Assert.Contains("echoface/lab/door-1/enroll/set", one);
        Assert.Contains("echoface/lab/_all/config/desired", one);
        Assert.Contains("echoface/lab/_all/config/desired", two);
        // door-2 sees nothing of door-1: not its status, not the enrolment sent to it, not its export (templates)
        Assert.DoesNotContain(two, t => t.StartsWith("echoface/lab/door-1/", StringComparison.Ordinal));
        Assert.DoesNotContain("echoface/lab/door-1/cmd/export/result", one); // a device does not even read its own answers back
        Assert.Contains("echoface/lab/door-1/cmd/export/result", seenByFleet);
        Assert.Contains("echoface/lab/door-1/status", seenByMonitor);
        Assert.Contains("echoface/lab/door-1/events/access", seenByMonitor);
        Assert.DoesNotContain("echoface/lab/door-1/cmd/export/result", seenByMonitor);
        Assert.DoesNotContain("echoface/lab/door-1/enroll/set", seenByMonitor);

        // and no account or a wrong password, no connection, said so
        var anonymous = await Assert.ThrowsAsync<ToolException>(() => FleetClient.ConnectAsync(new FleetOptions { Enabled = true, Broker = broker.Url(), Site = "lab", DeviceId = "x" }, CancellationToken.None));
        Assert.Contains("refused the connection", anonymous.Message);
        var wrong = await Assert.ThrowsAsync<ToolException>(() => FleetClient.ConnectAsync(new FleetOptions
        {
            Enabled = true, Broker = broker.Url(), Site = "lab", DeviceId = "x", Username = "fleet", Password = "guess",
        }, CancellationToken.None));
        Assert.Contains("Fleet.Password", wrong.Message);

        // the password from a file (a systemd credential), trailing newline and all; a wrong one is named by its file
        var secret = Path.Combine(TestEnvironment.TempDirectory(), "fleet-password");
        File.WriteAllText(secret, "monitor-secret\n");
        var fromFile = new FleetOptions { Enabled = true, Broker = broker.Url(), Site = "lab", DeviceId = "x", Username = "monitor", PasswordFile = secret };
        fromFile.Validate();
        await using (await FleetClient.ConnectAsync(fromFile, CancellationToken.None)) { }
        File.WriteAllText(secret, "guess\n");
        Assert.Contains($"Fleet.PasswordFile {secret}", (await Assert.ThrowsAsync<ToolException>(() => FleetClient.ConnectAsync(fromFile, CancellationToken.None))).Message);
        Assert.Contains("set one", Assert.Throws<ArgumentException>(() => new FleetOptions { Password = "a", PasswordFile = secret }.Validate()).Message);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => new FleetOptions { Enabled = true, PasswordFile = secret + ".gone" }.Validate()).Message);
    }
}
