using EchoFace.Access;
using EchoFace.Daemon;
using EchoFace.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EchoFace.WebConsole;

/// <summary>What the console's pages load besides themselves: its stylesheet and script, the live picture and decision snapshots.</summary>
internal static class ConsoleEndpoints
{
    public static void Map(WebApplication app)
    {
        var daemon = app.Services.GetRequiredService<DoorDaemon>();
        foreach (var (name, type) in new[] { ("site.css", "text/css"), ("console.js", "text/javascript") })
        {
            var bytes = Asset(name);
            app.MapGet($"/console/{name}", (HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=3600";
                return Results.Bytes(bytes, type);
            }).AllowAnonymous();
        }
        // one picture per ask: the page asks again every second while it is open, and the frames stop being copied once it is closed
        app.MapGet("/console/live.jpg", () => daemon.Live?.Picture() is { } p
                ? Results.File(p.Jpeg, "image/jpeg", lastModified: p.At)
                : Results.Problem(statusCode: 503, detail: "no frame yet: the camera has not delivered one since the view opened"))
            .RequireAuthorization(nameof(ApiRole.Read));
        app.MapGet("/console/snapshots/{name}", (string name) => Snapshot(daemon, name, face: false)).RequireAuthorization(nameof(ApiRole.Enrol));
        app.MapGet("/console/snapshots/{name}/face", (string name) => Snapshot(daemon, name, face: true)).RequireAuthorization(nameof(ApiRole.Enrol));
    }

    private static IResult Snapshot(DoorDaemon daemon, string name, bool face)
    {
        if (!DecisionSnapshots.IsName(name)) return Results.Problem(statusCode: 400, detail: $"'{name}' is not a snapshot name");
        try
        {
            var jpeg = face ? daemon.Snapshots?.ReadFace(name) : daemon.Snapshots?.Read(name);
            return jpeg is null ? Results.Problem(statusCode: 404, detail: $"no snapshot {name} (only the newest Access.SnapshotKeep are kept)")
                : Results.File(jpeg, "image/jpeg");
        }
        catch (InvalidDataException e) { return Results.Problem(statusCode: 500, detail: e.Message); }
    }

    private static byte[] Asset(string name)
    {
        using var stream = typeof(ConsoleEndpoints).Assembly.GetManifestResourceStream($"console/{name}")
            ?? throw new InvalidOperationException($"the console's {name} is not embedded in the engine (EchoFace.csproj)");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
