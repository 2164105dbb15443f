using EchoFace.Daemon;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;

namespace EchoFace.WebConsole.Pages;

[AllowAnonymous]
public sealed class SignOutModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    public IActionResult OnGet() => Redirect("/console");

    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(ConsoleSite.Scheme);
        return Page();
    }
}
