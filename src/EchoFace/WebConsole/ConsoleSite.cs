using System.Security.Claims;
using EchoFace.Api;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EchoFace.WebConsole;

/// <summary>
/// The web console at /console (docs/console.md): Razor Pages on the daemon's own listener. An operator signs in with an API key of
/// the existing roles and gets a session cookie (HttpOnly, SameSite=Strict, Secure over https) that ends after
/// Api.ConsoleSessionMinutes without a request or when the key is revoked. Every form carries an anti-forgery token.
/// </summary>
public sealed class ConsoleSite(EchoFaceConfig config) : IListenerPart
{
    public const string Scheme = "echoface.console", RoleClaim = ClaimTypes.Role, KeyClaim = "echoface.key";

    public void AddServices(IServiceCollection services)
    {
        services.AddRazorPages(o =>
        {
            o.RootDirectory = "/WebConsole/Pages";
            o.Conventions.AuthorizeFolder("/", nameof(ApiRole.Read));
            o.Conventions.AllowAnonymousToPage("/SignIn");
        }).AddApplicationPart(typeof(ConsoleSite).Assembly);
        // keys live in memory: a restart ends every session and voids every form, which a door device may well want
        services.AddSingleton<IDataProtectionProvider>(new EphemeralDataProtectionProvider());
        services.AddAuthentication(Scheme).AddCookie(Scheme, o =>
        {
            o.Cookie.Name = "echoface_console";
            o.Cookie.Path = "/console";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.LoginPath = "/console/sign-in";
            o.AccessDeniedPath = "/console/denied";
            o.ExpireTimeSpan = TimeSpan.FromMinutes(config.Api.ConsoleSessionMinutes);
            o.SlidingExpiration = true;
            o.Events.OnValidatePrincipal = ValidateAsync;
        });
        services.AddAuthorization(o =>
        {
            foreach (var role in Enum.GetValues<ApiRole>())
                o.AddPolicy(role.ToString(), p => p.AddAuthenticationSchemes(Scheme).RequireAssertion(c => RoleOf(c.User) >= role));
        });
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "echoface_console_form";
            o.Cookie.Path = "/console";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
    }

    public void Map(WebApplication app)
    {
        app.Use(async (http, next) =>
        {
            if (http.Request.Path.StartsWithSegments("/console"))
            {
                var h = http.Response.Headers;
                // nothing from elsewhere, no inline script, never framed: the pages work offline and resist injection
                h.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
                                          "frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
                h.XContentTypeOptions = "nosniff";
                h["Referrer-Policy"] = "no-referrer";
                // what anti-forgery sets on every page with a form (set here for all, it does not warn of overriding it)
                (h.CacheControl, h.Pragma) = ("no-cache, no-store", "no-cache");
            }
            await next(http);
        });
        // what the framework answers without a body (a form whose anti-forgery token is missing or stale, an unknown page) gets words
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            if (!http.Request.Path.StartsWithSegments("/console")) return;
            var status = http.Response.StatusCode;
            var said = status switch
            {
                400 => "This form did not pass the anti-forgery check: it is from a session that has ended, from another site, or was " +
                       "kept open too long. Nothing was changed. Go back, reload the page and try again.",
                404 => "There is no such page in the console.",
                405 => "That page does not take this kind of request.",
                _ => $"The console answered {status}.",
            };
            http.Response.ContentType = "text/html; charset=utf-8";
            await http.Response.WriteAsync($"""
                <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>{status} · EchoFace</title><link rel="stylesheet" href="/console/site.css"></head>
                <body><main id="main"><h1>Not done</h1><p class="error" role="alert">{said}</p>
                <p><a href="/console">Back to the console</a></p></main></body></html>
                """);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapRazorPages();
        ConsoleEndpoints.Map(app);
    }

    /// <summary>The role a signed-in session holds (none: -1).</summary>
    public static ApiRole? RoleOf(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true && Enum.TryParse<ApiRole>(user.FindFirstValue(RoleClaim), out var r) ? r : null;

    /// <summary>A session lasts only as long as its key: a key revoked (`echoface api-key revoke`) signs out at its next request.</summary>
    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var daemon = context.HttpContext.RequestServices.GetRequiredService<DoorDaemon>();
        var id = context.Principal?.FindFirstValue(KeyClaim);
        var key = daemon.Recognition?.Keys.List().FirstOrDefault(k => k.Id == id);
        if (key is null || key.RevokedAt is not null || key.Role.ToString() != context.Principal?.FindFirstValue(RoleClaim))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }

    /// <summary>The signed-in session for a key.</summary>
    public static ClaimsPrincipal Principal(ApiKeyRecord key) => new(new ClaimsIdentity(
        [new Claim(ClaimTypes.Name, key.Name), new Claim(RoleClaim, key.Role.ToString()), new Claim(KeyClaim, key.Id)], Scheme));
}
