using EchoFace.Daemon;
using EchoFace.Storage;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EchoFace.WebConsole.Pages;

public sealed class DoorModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    public string State => Daemon.Door?.State.ToString() ?? "starting";
    public string Board => Daemon.Door?.Board ?? "";
    // Door is a live section: the name in force, not the one the daemon started with
    public string Name => HttpContext.RequestServices.GetRequiredService<Configuration.ConfigurationInForce>().Current.Door.Name;
    public bool LockedOut { get; private set; }
    public IReadOnlyList<OutboxEvent> Alarms { get; private set; } = [];

    public void OnGet() => Load();

    public async Task<IActionResult> OnPostAsync(string? reason, string? @override)
    {
        var result = await ChangeAsync(ApiRole.Admin, _ =>
        {
            var unlock = HttpContext.RequestServices.GetRequiredService<RemoteUnlock>();
            var request = new UnlockRequest($"console-{Guid.NewGuid():N}"[..20], reason?.Trim(), @override == "yes", Via: "console", By: Via);
            var refusal = unlock.Open(request);
            return refusal is null ? Task.FromResult("the door is unlocked") : throw new BadInputException($"not unlocked: {refusal}");
        });
        Load();
        return result;
    }

    private void Load()
    {
        LockedOut = HttpContext.RequestServices.GetService<Access.AccessPolicy>()?.LockedOut ?? false;
        Alarms = Daemon.Outbox is { } o
            ? [.. o.Latest(new EventOutbox.Filter("alarm"), 20).Concat(o.Latest(new EventOutbox.Filter("fault"), 20))
                .OrderByDescending(e => e.Seq).Take(20)]
            : [];
    }
}
