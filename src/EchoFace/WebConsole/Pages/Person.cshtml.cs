using EchoFace.Daemon;
using EchoFace.Recognition;
using EchoFace.Storage;
using Microsoft.AspNetCore.Mvc;

namespace EchoFace.WebConsole.Pages;

public sealed class PersonModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    [BindProperty(SupportsGet = true)] public string Id { get; set; } = "";

    public IdentityRecord? Person { get; private set; }
    public string? Customer { get; private set; }
    public IReadOnlyList<StoredTemplate> Templates { get; private set; } = [];
    public IReadOnlyList<AuditRecord> Audit { get; private set; } = [];

    public IActionResult OnGet()
    {
        Load();
        if (Person is null) Response.StatusCode = 404;
        return Page();
    }

    public Task<IActionResult> OnPostAddAsync(CancellationToken cancel) => ThenLoad(ChangeAsync(ApiRole.Enrol, engine =>
    {
        var who = Known(engine);
        return ConsoleEnrolment.EnrolAsync(engine, Request, new EnrolRequest(Id, who.DisplayName, who.Group) { Via = Via }, cancel);
    }));

    public Task<IActionResult> OnPostOptInAsync(string? customer) => ThenLoad(ChangeAsync(ApiRole.Enrol, engine =>
    {
        Known(engine);
        if (string.IsNullOrWhiteSpace(customer) || customer.Trim().Length > 128) throw new BadInputException("a customer id is 1 to 128 characters");
        var c = customer.Trim();
        engine.Gallery(() =>
        {
            engine.Store.LinkCustomer(Id, c, GalleryStore.Json(new { customer = c, by = Via }));
            return true;
        });
        return Task.FromResult($"{Id} opted in as customer {c}");
    }));

    public Task<IActionResult> OnPostOptOutAsync() => ThenLoad(ChangeAsync(ApiRole.Enrol, engine =>
    {
        Known(engine);
        var done = engine.Gallery(() => engine.Store.UnlinkCustomer(Id, GalleryStore.Json(new { by = Via })));
        return Task.FromResult(done ? $"{Id}'s opt-in withdrawn" : $"{Id} had not opted in");
    }));

    public Task<IActionResult> OnPostRemoveAsync(string? confirm) => ThenLoad(ChangeAsync(ApiRole.Enrol, engine =>
    {
        Known(engine);
        if (confirm != "yes") throw new BadInputException("tick the box to confirm the removal: nothing was removed");
        engine.Gallery(() => engine.Enrolment.Remove(Id, $"removed in the web console with key {KeyId} ({User.Identity?.Name})"));
        return Task.FromResult($"{Id} and every template removed");
    }));

    private async Task<IActionResult> ThenLoad(Task<IActionResult> change)
    {
        var result = await change;
        Load();
        return result;
    }

    private IdentityRecord Known(RecognitionService engine) =>
        engine.Gallery(() => engine.Store.GetIdentity(Id)) ?? throw new BadInputException($"there is no person '{Id}'", kind: BadInputKind.NotFound);

    private void Load()
    {
        if (Engine is not { } engine) return;
        (Person, Customer, Templates, Audit) = engine.Gallery(() => (engine.Store.GetIdentity(Id), engine.Store.CustomerOf(Id),
            (IReadOnlyList<StoredTemplate>)[.. engine.Store.LoadTemplates("face", Id), .. engine.Store.LoadTemplates("voice", Id)],
            engine.Store.Audit(Id)));
    }
}
