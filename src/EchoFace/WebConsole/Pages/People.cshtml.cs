using EchoFace.Api;
using EchoFace.Daemon;
using EchoFace.Recognition;
using EchoFace.Storage;
using Microsoft.AspNetCore.Mvc;

namespace EchoFace.WebConsole.Pages;

public sealed class PeopleModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    [BindProperty(SupportsGet = true)] public string? Q { get; set; }
    [BindProperty] public string? Id { get; set; }
    [BindProperty] public string? Name { get; set; }
    [BindProperty] public string? Group { get; set; }

    public IReadOnlyList<IdentityRecord> People { get; private set; } = [];
    public IReadOnlyDictionary<string, string> Customers { get; private set; } = new Dictionary<string, string>();
    public int Total { get; private set; }

    public void OnGet() => Load();

    public async Task<IActionResult> OnPostAsync(CancellationToken cancel)
    {
        var result = await ChangeAsync(ApiRole.Enrol, async engine =>
        {
            var id = Id?.Trim() ?? "";
            FaceRecognizer.ValidateId(id);
            var done = await ConsoleEnrolment.EnrolAsync(engine, Request, new EnrolRequest(id, Name, Group) { Via = Via }, cancel);
            (Id, Name, Group) = (null, null, null);
            return done;
        });
        Load();
        return result;
    }

    private void Load()
    {
        if (Engine is not { } engine) return;
        var (all, customers) = engine.Gallery(() => (engine.Store.ListIdentities(), engine.Store.Customers()));
        Total = all.Count;
        Customers = customers;
        var q = Q?.Trim();
        People = string.IsNullOrEmpty(q) ? all
            : [.. all.Where(p => p.Id.Contains(q, StringComparison.OrdinalIgnoreCase) || p.DisplayName.Contains(q, StringComparison.OrdinalIgnoreCase)
                                 || p.Group.Contains(q, StringComparison.OrdinalIgnoreCase))];
    }
}
