using System.Text.Json;
using EchoFace.Daemon;
using EchoFace.Storage;

namespace EchoFace.WebConsole;

/// <summary>A door decision as the console lists it, read from its access event.</summary>
public sealed record DecisionRow(long Seq, DateTimeOffset At, string Outcome, string Reason, string? Identity, string? Name, float? Score,
    string? Snapshot)
{
    public static IReadOnlyList<DecisionRow> Latest(DoorDaemon daemon, EventOutbox.Filter filter, int limit) =>
        daemon.Outbox is { } outbox ? [.. outbox.Latest(filter, limit).Select(Of)] : [];

    private static DecisionRow Of(OutboxEvent e)
    {
        var p = JsonDocument.Parse(e.Payload).RootElement;
        string? Text(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var type = Text("type");
        // a remote unlock is an access event too: who asked and why stand in for the face's outcome
        return new DecisionRow(e.Seq, e.At, Text("outcome") ?? (type == "remote_unlock" ? "unlocked" : type ?? "?"), Text("reason") ?? "",
            Text("identity"), Text("name"), p.TryGetProperty("faceScore", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetSingle() : null,
            Text("snapshot"));
    }
}

/// <summary>The decisions partial's model: the rows, and whether unknown faces get an "enrol as" form.</summary>
public sealed record DecisionList(IReadOnlyList<DecisionRow> Rows, bool EnrolForms);
