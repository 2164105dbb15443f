using EchoFace.Configuration;

namespace EchoFace.Tests.Configuration;

/// <summary>How a fleet change reaches running services: whole live sections through options monitors, nothing else until a restart.</summary>
[Trait("Category", "Unit")]
public class ConfigurationInForceTests
{
    [Fact]
    public void A_changed_live_section_is_read_at_the_next_use_and_the_rest_keeps_its_start_values()
    {
        var start = new EchoFaceConfig();
        start.Door.UnlockSeconds = 3;
        start.Api.Workers = 2;
        var inForce = new ConfigurationInForce(start);
        var door = inForce.Monitor(c => c.Door, "Door");
        var seen = new List<double>();
        using var listening = door.OnChange((d, _) => seen.Add(d.UnlockSeconds));

        var pushed = new EchoFaceConfig();
        pushed.Door.UnlockSeconds = 7;
        pushed.Api.Workers = 8; // Api needs a restart: the shadow reports it pending and does not pass it on
        inForce.Apply(pushed, ["Door"]);

        Assert.Equal(7, door.CurrentValue.UnlockSeconds);
        Assert.Equal([7.0], seen);
        Assert.Equal(2, inForce.Current.Api.Workers);
        Assert.Equal(3, start.Door.UnlockSeconds); // the loaded configuration itself is not written to
    }

    [Fact]
    public void A_section_that_needs_a_restart_has_no_monitor_and_cannot_be_applied_live()
    {
        var inForce = new ConfigurationInForce(new EchoFaceConfig());
        Assert.Throws<ArgumentException>(() => inForce.Monitor(c => c.Inference, "Inference"));
        Assert.Throws<ArgumentException>(() => inForce.Apply(new EchoFaceConfig(), ["Inference"]));
    }

    [Fact]
    public void A_listener_that_was_disposed_is_not_told()
    {
        var inForce = new ConfigurationInForce(new EchoFaceConfig());
        var told = 0;
        inForce.Monitor(c => c.Match, "Match").OnChange((_, _) => told++)!.Dispose();
        inForce.Apply(new EchoFaceConfig(), ["Match"]);
        Assert.Equal(0, told);
    }
}
