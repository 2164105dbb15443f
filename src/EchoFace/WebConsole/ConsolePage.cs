using System.Security.Claims;
using EchoFace.Api;
using EchoFace.Daemon;
using EchoFace.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EchoFace.WebConsole;

/// <summary>What every console page has: the daemon, the signed-in key and its role, and one way to run a change and say how it went.</summary>
public abstract class ConsolePage(DoorDaemon daemon) : PageModel
{
    public DoorDaemon Daemon => daemon;

    /// <summary>The engine behind the API; null while the models load (the pages say so).</summary>
    public RecognitionService? Engine => daemon.Recognition;

    public ApiRole Role => ConsoleSite.RoleOf(User) ?? ApiRole.Read;
    public bool Can(ApiRole role) => ConsoleSite.RoleOf(User) >= role;
    public string KeyId => User.FindFirstValue(ConsoleSite.KeyClaim) ?? "";

    /// <summary>What the last change did, or why it was refused (shown at the top of the page).</summary>
    public string? Message { get; protected set; }
    public string? Error { get; protected set; }

    /// <summary>How the audit trail names a change made here.</summary>
    protected object Via => new { via = "console", key = KeyId, name = User.Identity?.Name };

    /// <summary>
    /// Runs a change a role at least <paramref name="role"/> may make. Refused server-side below it (403, whatever the page showed);
    /// bad input is a message on the page with the status the API would answer, and the change has not happened.
    /// </summary>
    protected async Task<IActionResult> ChangeAsync(ApiRole role, Func<RecognitionService, Task<string>> change)
    {
        if (!Can(role)) return Forbid();
        if (Engine is not { } engine)
        {
            (Error, Response.StatusCode) = ("the device is still loading its models: try again in a moment", 503);
            return Page();
        }
        try { Message = await change(engine); }
        catch (Exception e) when (Status(e) is { } status)
        {
            (Error, Response.StatusCode) = (e.Message, status);
        }
        return Page();
    }

    // beside the API's refusals: the storage refused a write (full or failing), so nothing was stored
    private static int? Status(Exception e) => ApiEndpoints.StatusOf(e) ?? (e is Microsoft.Data.Sqlite.SqliteException ? 507 : null);
}
