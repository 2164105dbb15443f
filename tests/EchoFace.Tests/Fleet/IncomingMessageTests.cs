using System.Text;
using EchoFace.Fleet;

namespace EchoFace.Tests.Fleet;

/// <summary>What the collector makes of a device's message: each document checked against its topic, bad ones refused with why.</summary>
[Trait("Category", "Unit")]
public class IncomingMessageTests
{
    private static readonly string Id = Ulid.NewUlid().ToString();

    private static IncomingMessage Read(string topic, string json, int max = 65536) => IncomingMessage.Read(topic, Encoding.UTF8.GetBytes(json), max);

    private static string Event(string id = "", string kind = "access", string device = "door-a", string at = "2026-12-01T08:00:00Z") =>
        $$$"""{"id":"{{{(id == "" ? Id : id)}}}","at":"{{{at}}}","kind":"{{{kind}}}","site":"lab","device":"{{{device}}}","door":"front",""" +
        "\"data\":{\"outcome\":\"denied\",\"identity\":\"p-1\"}}";

    [Fact]
    public void A_valid_event_is_read_with_its_key_fields()
    {
        var m = Read("echoface/lab/door-a/events/access", Event());
        Assert.Equal(MessageKind.Event, m.Kind);
        Assert.Equal((Id, "lab", "door-a", "access", "front", "denied", "p-1"), (m.Id, m.Site, m.Device, m.EventKind, m.Door, m.Outcome, m.Identity));
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero), m.At);
        Assert.Equal(32, m.Hash.Length);
    }

    [Theory]
    [InlineData("echoface/lab/door-a/events/access", "{not json", "not JSON")]
    [InlineData("echoface/lab/door-a/events/access", "[1,2]", "not an object")]
    [InlineData("echoface/lab/door-a/events/access", """{"id":"123","kind":"access","site":"lab","device":"door-a","at":"2026-12-01T08:00Z"}""",
        "not a ULID")]
    [InlineData("echoface/lab/door-b/events/access", "EVENT", "its topic lab/door-b")]
    [InlineData("echoface/lab/door-a/events/alarm", "EVENT", "not its topic's 'alarm'")]
    [InlineData("echoface/lab/door-a/events/access", """{"id":"ID","kind":"access","site":"lab","device":"door-a","at":"yesterday"}""", "valid 'at'")]
    [InlineData("echoface/lab/door-a/status", """{"state":"online","device":"door-b","site":"lab"}""", "on the topic of lab/door-a")]
    [InlineData("echoface/lab/door-a/status", """{"state":"sleeping","device":"door-a","site":"lab"}""", "neither online nor offline")]
    [InlineData("echoface/lab/door-a/config/reported", """{"version":3}""", "no status")]
    [InlineData("somebody/else", "{}", "not an echoface device topic")]
    [InlineData("echoface/lab/door-a/cmd/unlock", "{}", "no collector handles 'cmd/unlock'")]
    public void A_bad_document_is_refused_with_the_reason(string topic, string json, string reason)
    {
        var m = Read(topic, json.Replace("EVENT", Event()).Replace("\"ID\"", $"\"{Id}\""));
        Assert.Equal(MessageKind.Refused, m.Kind);
        Assert.Contains(reason, m.Reason);
        Assert.Equal(topic, m.Topic);
    }

    [Fact]
    public void An_oversized_message_is_refused_before_it_is_parsed()
    {
        var m = Read("echoface/lab/door-a/events/access", Event(), max: 100);
        Assert.Equal(MessageKind.Refused, m.Kind);
        Assert.Contains("over FleetServer.MaxMessageBytes 100", m.Reason);
        Assert.True(m.Body.Length <= 2048);
    }

    [Fact]
    public void A_status_carries_version_and_provider_and_a_report_its_version()
    {
        var s = Read("echoface/lab/door-a/status",
            """{"state":"online","device":"door-a","site":"lab","version":"1.2.0","startedAt":"2026-12-01T07:00Z","details":{"provider":"cuda"}}""");
        Assert.Equal((MessageKind.Status, "online", "1.2.0", "cuda"), (s.Kind, s.State, s.Version, s.Provider));
        var r = Read("echoface/lab/door-a/config/reported",
            """{"version":42,"source":"device","status":"rejected","error":"Face.Embedder unknown"}""");
        Assert.Equal((MessageKind.ConfigReport, "rejected", 42L, "Face.Embedder unknown"), (r.Kind, r.State, r.ConfigVersion, r.Error));
    }
}
