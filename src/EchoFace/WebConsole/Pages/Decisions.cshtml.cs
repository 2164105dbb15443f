using EchoFace.Daemon;
using EchoFace.Recognition;
using EchoFace.Storage;
using Microsoft.AspNetCore.Mvc;

namespace EchoFace.WebConsole.Pages;

public sealed class DecisionsModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    private const int Shown = 100;

    [BindProperty(SupportsGet = true)] public string? Outcome { get; set; }
    [BindProperty(SupportsGet = true)] public string? Person { get; set; }
    /// <summary>The device's local time, as a datetime-local input sends it.</summary>
    [BindProperty(SupportsGet = true)] public DateTime? From { get; set; }
    [BindProperty(SupportsGet = true)] public DateTime? To { get; set; }

    public IReadOnlyList<DecisionRow> Rows { get; private set; } = [];

    public void OnGet() => Load();

    /// <summary>"Enrol as...": an unknown face's snapshot becomes a person (or adds to one), with every check enrolment makes.</summary>
    public async Task<IActionResult> OnPostEnrolAsync(string? snapshot, string? id, string? name, CancellationToken cancel)
    {
        var result = await ChangeAsync(ApiRole.Enrol, async engine =>
        {
            var target = id?.Trim() ?? "";
            FaceRecognizer.ValidateId(target);
            if (snapshot is null || !Access.DecisionSnapshots.IsName(snapshot))
                throw new BadInputException("the form names no snapshot: reload the page");
            var face = Daemon.Snapshots?.ReadFace(snapshot)
                ?? throw new BadInputException($"snapshot {snapshot} is gone (only the newest Access.SnapshotKeep are kept)",
                    kind: BadInputKind.NotFound);
            var known = engine.Gallery(() => engine.Store.GetIdentity(target));
            var enrol = new EnrolRequest(target, known?.DisplayName ?? name, known?.Group) { Via = new { by = Via, snapshot } };
            return await ConsoleEnrolment.FromSnapshotAsync(engine, face, snapshot, enrol, cancel);
        });
        Load();
        return result;
    }

    private void Load()
    {
        var outcome = Outcome is "granted" or "denied" ? Outcome : null;
        var filter = new EventOutbox.Filter("access", outcome, string.IsNullOrWhiteSpace(Person) ? null : Person.Trim(),
            From is { } f ? new DateTimeOffset(DateTime.SpecifyKind(f, DateTimeKind.Local)) : null,
            To is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Local)).AddSeconds(59.999) : null);
        Rows = DecisionRow.Latest(Daemon, filter, Shown);
    }
}
