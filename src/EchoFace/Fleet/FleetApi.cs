using System.Globalization;
using EchoFace.Configuration;
using EchoFace.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EchoFace.Fleet;

/// <summary>
/// The fleet server's read API (`FleetServer.Listen`), in the device API's conventions: `Authorization: Bearer` keys made with
/// `echoface api-key create` on the fleet host, RFC 7807 problems, an OpenAPI document at /openapi.json; and /healthz for the
/// collector (503 while the broker or the database is away).
/// </summary>
public static class FleetApi
{
    public static WebApplication Build(EchoFaceConfig config, string keysDatabase)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddSystemd();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.UseUrls(config.FleetServer.Listen!);
        if (config.FleetServer.Listen!.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) builder.WebHost.UseKestrelHttpsConfiguration();
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton<FleetServerService>();
        builder.Services.AddHostedService(s => s.GetRequiredService<FleetServerService>());
        builder.Services.AddSingleton(_ => new ApiKeyStore(keysDatabase));
        builder.Services.AddSingleton(_ => FleetStore.Open(config.FleetServer.ConnectionString()));
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi("v1", o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "EchoFace fleet API";
            doc.Info.Description = "The fleet's stored events and device registry. Authenticate with `Authorization: Bearer <key>` " +
                                   "(`echoface api-key create --role read` on the fleet host).";
            return Task.CompletedTask;
        }));
        var app = builder.Build();
        var service = app.Services.GetRequiredService<FleetServerService>();
        app.MapOpenApi("/openapi.json");
        app.MapGet("/healthz", () =>
        {
            var s = service.Collector?.Stats;
            var ok = s is { BrokerConnected: true, DatabaseDown: false };
            var body = new
            {
                ok, collector = config.FleetServer.Collector, broker = s?.BrokerConnected ?? false, database = s is { DatabaseDown: false },
                received = s?.Received ?? 0, events = s?.Events ?? 0, duplicates = s?.Duplicates ?? 0, refused = s?.Refused ?? 0,
                lastError = s?.LastError,
            };
            return ok ? Results.Json(body) : Results.Json(body, statusCode: 503);
        });
        var keys = app.Services.GetRequiredService<ApiKeyStore>();
        app.Use(async (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments("/v1")) { await next(http); return; }
            var key = ApiKeyStore.KeyFrom(http.Request.Headers.Authorization.ToString(), http.Request.Headers["X-Api-Key"].ToString());
            if (key.Length == 0 || keys.Verify(key) is null)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Problem(title: "Unauthorized", statusCode: 401, detail: key.Length == 0
                    ? "no API key: send Authorization: Bearer <key> (`echoface api-key create --role read` on the fleet host)"
                    : "the API key is unknown or revoked").ExecuteAsync(http);
                return;
            }
            try { await next(http); }
            catch (BadInputException e) { await Results.Problem(title: "Bad request", statusCode: 400, detail: e.Message).ExecuteAsync(http); }
            catch (Npgsql.NpgsqlException e)
            {
                await Results.Problem(title: "Fleet database unavailable", statusCode: 503, detail: e.Message).ExecuteAsync(http);
            }
        });
        var db = app.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
        var queries = new FleetQueries(db);
        var v1 = app.MapGroup("/v1/fleet");
        v1.MapGet("/events", async (string? since, string? until, string? site, string? device, string? kind, string? outcome, string? identity,
                int? limit, CancellationToken cancel) =>
            Results.Json(await queries.EventsAsync(new EventQuery(Time(since, "since"), Time(until, "until"), site, device, kind, outcome, identity,
                limit ?? 100), cancel)))
            .WithSummary("Stored events, newest first: since/until (ISO 8601), site, device, kind, outcome, identity, limit (1..100000)");
        v1.MapGet("/devices", async (string? site, CancellationToken cancel) => Results.Json(await queries.DevicesAsync(site, cancel)))
            .WithSummary("The device registry: state, version, provider, last seen, latest telemetry and configuration report");
        v1.MapGet("/refused", async (string? since, CancellationToken cancel) =>
                Results.Json(await queries.RefusedAsync(Time(since, "since"), cancel)))
            .WithSummary("Messages the collectors refused, by reason");
        v1.MapGet("/people", async (string? group, CancellationToken cancel) => Results.Json(await PeopleRegistry.ListAsync(db, group, null, cancel)))
            .WithSummary("The people registry: each person's group, state, revision and how many devices applied, await or refused them");
        v1.MapGet("/people/{id}", async (string id, CancellationToken cancel) =>
                (await PeopleRegistry.ListAsync(db, null, id, cancel)).FirstOrDefault() is { } person
                    ? Results.Json(new { person, devices = await PeopleRegistry.DeliveriesAsync(db, id, cancel) })
                    : Results.Problem(title: "Not found", statusCode: 404, detail: $"unknown person '{id}' in the fleet registry"))
            .WithSummary("One person: what each device was sent and what it answered (an erasure's record)");
        v1.MapGet("/status", async (string? group, CancellationToken cancel) => Results.Json(new
        {
            devices = await Rollouts.StatusAsync(db, group, cancel), rollouts = await Rollouts.ListAsync(db, group, null, cancel),
        }))
            .WithSummary("Each device's configuration (applied, pending or rejected with the reason) and the latest rollouts");
        return app;
    }

    private static DateTimeOffset? Time(string? text, string name) =>
        text is null ? null
        : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t
        : throw new BadInputException($"{name} must be an ISO 8601 time, not '{text}'");
}
