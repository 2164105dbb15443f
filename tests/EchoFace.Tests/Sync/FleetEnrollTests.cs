using System.Text;
using EchoFace.Sync;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Sync;

/// <summary>Enrolment sync between two running devices over a real broker: copy, then identify on the second; a wrong model is refused.</summary>
[Trait("Category", "Slow")]
public class FleetEnrollTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();

    [Fact]
    public async Task A_person_enrolled_on_one_device_is_copied_to_another_which_then_identifies_them()
    {
        using var broker = new Mosquitto();
        var first = new CliRunner();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, first.Run("enroll", "jolie", "--name", "Angelina Jolie", "--group", "staff", jolie[0], jolie[1]).ExitCode);
        Assert.Equal(0, first.Run("customers", "opt-in", "jolie", "c42").ExitCode);
        var second = new CliRunner();
        Assert.Contains("unknown", second.Run("identify", jolie[3]).Stdout);

        using var a = new DaemonProcess(broker, first.DataDirectory, "door-e1");
        using var b = new DaemonProcess(broker, second.DataDirectory, "door-e2");
        a.WaitConnected();
        b.WaitConnected();
        var copied = first.Run("fleet", "enroll", "jolie", "--from-device", "door-e1", "--to", "door-e2", "--broker", broker.Url(), "--site", "lab", "--json");
        Assert.True(copied.ExitCode == 0, copied.Stdout + copied.Stderr + a.Log + b.Log);
        var result = Assert.Single(copied.Json.GetProperty("results").EnumerateArray());
        Assert.Equal("applied", result.GetProperty("status").GetString());
        Assert.Equal("2", result.GetProperty("templates").GetString());

        // a template from another face model is refused with the reason, and nothing changes
        await using (var fleet = await FleetClient.ConnectAsync(new FleetOptions { Broker = broker.Url(), Site = "lab" }, CancellationToken.None))
        {
            await fleet.SubscribeAsync("echoface/lab/door-e2/enroll/result", CancellationToken.None);
            var vector = Convert.ToBase64String(new byte[512 * 4]);
            await fleet.PublishAsync("echoface/lab/door-e2/enroll/set", Encoding.UTF8.GetBytes($$"""
                {"requestId": "bad", "action": "upsert", "identity": {"id": "mallory"}, "templates": [{"modality": "face", "modelId": "arcface_r100", "vector": "{{vector}}"}]}
                """), false, CancellationToken.None);
            await fleet.PublishAsync("echoface/lab/door-e2/enroll/set", Encoding.UTF8.GetBytes("{\"requestId\": \"broken\""), false, CancellationToken.None);
            // a voice template of the right model but the wrong size is refused too (it used to be stored)
            await fleet.PublishAsync("echoface/lab/door-e2/enroll/set", Encoding.UTF8.GetBytes($$"""
                {"requestId": "short", "action": "upsert", "identity": {"id": "mallory"}, "templates": [{"modality": "voice", "modelId": "nnid_speaker", "vector": "{{Convert.ToBase64String(new byte[8])}}"}]}
                """), false, CancellationToken.None);
            var answers = await fleet.CollectAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15), CancellationToken.None);
            var refused = Assert.Single(answers, m => m.Payload.GetProperty("requestId").GetString() == "bad").Payload;
            Assert.Equal("refused", refused.GetProperty("status").GetString());
            Assert.Contains("arcface_r100", refused.GetProperty("error").GetString());
            Assert.Contains(answers, m => m.Payload.GetProperty("status").GetString() == "refused" && m.Payload.GetProperty("requestId").ValueKind == System.Text.Json.JsonValueKind.Null);
            var shortVoice = Assert.Single(answers, m => m.Payload.GetProperty("requestId").GetString() == "short").Payload;
            Assert.Contains("voice template has 2 values", shortVoice.GetProperty("error").GetString());
        }
        Assert.True(b.Stop(), b.Log);
        Assert.True(a.Stop(), a.Log);

        var found = second.Run("identify", jolie[3], "--json");
        Assert.Equal("jolie", Assert.Single(found.Json.GetProperty("faces").EnumerateArray()).GetProperty("identity").GetString());
        var person = second.Run("people", "show", "jolie", "--json").Json;
        Assert.Equal("staff", person.GetProperty("identity").GetProperty("group").GetString());
        Assert.Contains(person.GetProperty("audit").EnumerateArray(), e => e.GetProperty("action").GetString() == "sync");
        Assert.Equal(2, second.Run("people", "show", "mallory").ExitCode);
        // the opt-in went along: the second device may report her as customer c42 at a shelf
        Assert.Equal("c42", Assert.Single(second.Run("customers", "list", "--json").Json.EnumerateArray()).GetProperty("customer").GetString());
    }
}
