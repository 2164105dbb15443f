using EchoFace.Daemon;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace EchoFace.WebConsole.Pages;

/// <summary>An API key exchanged for a session cookie; the key itself is not kept anywhere.</summary>
public sealed class SignInModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }

    public void OnGet() { }

    public async Task<IActionResult> OnPostAsync(string? key)
    {
        if (Engine is not { } engine)
        {
            (Error, Response.StatusCode) = ("the device is still loading its models: try again in a moment", 503);
            return Page();
        }
        if (string.IsNullOrWhiteSpace(key) || engine.Keys.Verify(key.Trim()) is not { } record)
        {
            (Error, Response.StatusCode) = ("that key is unknown or revoked", 401);
            return Page();
        }
        await HttpContext.SignInAsync(ConsoleSite.Scheme, ConsoleSite.Principal(record), new AuthenticationProperties { IsPersistent = false });
        // only a page of the console: a link from elsewhere cannot send a fresh session on to another site
        var local = ReturnUrl is { } r && r.StartsWith("/console", StringComparison.Ordinal) && !r.StartsWith("//", StringComparison.Ordinal);
        return LocalRedirect(local ? ReturnUrl! : "/console");
    }
}
