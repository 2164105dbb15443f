using System.CommandLine;
using System.Globalization;
using EchoFace.Configuration;
using EchoFace.Fleet;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>fleet serve | migrate | refused, and the store's side of fleet events and fleet devices.</summary>
internal static class FleetServerCommands
{
    /// <summary>--database: the fleet store's connection string (default FleetServer.Database).</summary>
    public static Option<string?> DatabaseOption() =>
        new("--database") { Description = "PostgreSQL connection string of the fleet store (default FleetServer.Database)", Recursive = true };

    public static EchoFaceConfig Config(ParseResult p, GlobalOptions g, Option<string?> database, Option<string?> broker, Option<string?> site)
    {
        var config = EchoFaceConfig.Load(p.GetValue(g.Config));
        if (p.GetValue(database) is { } d) config.FleetServer.Database = d;
        if (p.GetValue(broker) is { } b) config.Fleet.Broker = b;
        if (p.GetValue(site) is { } s) config.Fleet.Site = s;
        return config;
    }

    public static IEnumerable<Command> Build(GlobalOptions g, Output o, Option<string?> database, Option<string?> broker, Option<string?> site)
    {
        var group = new Option<string?>("--group") { Description = "shared-subscription group (default FleetServer.Group)" };
        var id = new Option<string?>("--collector-id") { Description = "this collector's MQTT client id (default FleetServer.CollectorId)" };
        var listen = new Option<string?>("--listen") { Description = "serve the fleet read API and /healthz here (default FleetServer.Listen)" };
        var serve = new Command("serve",
            "Run a fleet collector: store every device's events, status, telemetry and configuration reports in PostgreSQL (until SIGTERM)")
            { group, id, listen };
        serve.SetAction(async (p, cancel) =>
        {
            var config = Config(p, g, database, broker, site);
            if (p.GetValue(group) is { } gr) config.FleetServer.Group = gr;
            if (p.GetValue(id) is { } i) config.FleetServer.CollectorId = i;
            if (p.GetValue(listen) is { } l) config.FleetServer.Listen = l;
            Validate(config);
            config.FleetServer.ConnectionString();
            if (config.FleetServer.Listen is null)
            {
                using var host = FleetServerService.Build(config);
                await host.RunAsync(cancel);
                return EchoFaceCli.Ok;
            }
            var data = CliContext.ResolveDataDirectory(p.GetValue(g.Data));
            Directory.CreateDirectory(data);
            await using var app = FleetApi.Build(config, Path.Combine(data, config.Storage.Database));
            await app.RunAsync(cancel);
            return EchoFaceCli.Ok;
        });

        var migrate = new Command("migrate", "Bring the fleet store's schema up to this version (fleet serve does it too)");
        migrate.SetAction(async (p, cancel) =>
        {
            await using var store = Open(Config(p, g, database, broker, site));
            var applied = await store.MigrateAsync(cancel);
            if (p.GetValue(g.Json)) o.Json(new { version = FleetSchema.Latest, applied });
            else o.Line(applied.Count == 0 ? $"schema at version {FleetSchema.Latest}: nothing to do"
                : $"schema at version {FleetSchema.Latest}: applied {string.Join(", ", applied)}");
            return EchoFaceCli.Ok;
        });

        var since = new Option<string?>("--since") { Description = "only since then: an ISO time or an age (30m, 12h, 7d)" };
        var refused = new Command("refused", "Messages the collectors refused, by reason (malformed, oversized, unknown device, conflicting id)")
            { since };
        refused.SetAction(async (p, cancel) =>
        {
            await using var store = Open(Config(p, g, database, broker, site));
            var rows = await new FleetQueries(store.Source).RefusedAsync(Time(p.GetValue(since), "--since"), cancel);
            if (p.GetValue(g.Json)) { o.Json(rows); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("reason", "count", "last", "a topic");
            foreach (var r in rows) table.AddRow(Output.Esc(r.Reason), $"{r.Count}", $"{r.Last:u}", Output.Esc(r.Topic));
            o.Console.Write(table);
            o.Line($"{rows.Sum(r => r.Count)} refused message(s)");
            return EchoFaceCli.Ok;
        });
        return [serve, migrate, refused, Bench(g, o, database, broker, site)];
    }

    public static FleetStore Open(EchoFaceConfig config)
    {
        Validate(config);
        return new FleetStore(FleetStore.Open(config.FleetServer.ConnectionString()), config.FleetServer.TelemetryHistory);
    }

    private static void Validate(EchoFaceConfig config)
    {
        try
        {
            config.Fleet.Validate();
            config.FleetServer.Validate();
        }
        catch (ArgumentException e) { throw new BadInputException(e.Message); }
    }

    /// <summary>`fleet events` from the store: newest first, filtered.</summary>
    public static async Task<int> EventsAsync(Output o, bool json, EchoFaceConfig config, EventQuery query, CancellationToken cancel)
    {
        await using var store = Open(config);
        var rows = await new FleetQueries(store.Source).EventsAsync(query, cancel);
        if (json)
        {
            foreach (var e in rows) o.Stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(e.Body));
            return EchoFaceCli.Ok;
        }
        var table = new Table().AddColumns("at", "device", "door", "kind", "outcome", "identity", "id");
        foreach (var e in rows)
            table.AddRow($"{e.At:u}", Output.Esc(e.Device), Output.Esc(e.Door ?? ""), Output.Esc(e.Kind), Outcome(e.Outcome),
                Output.Esc(e.Identity ?? ""), e.Id);
        o.Console.Write(table);
        o.Line($"{rows.Count} event(s){(rows.Count == query.Limit ? $" (the newest {query.Limit}; --limit for more)" : "")}");
        return EchoFaceCli.Ok;
    }

    private static string Outcome(string? outcome) => outcome switch
    {
        "granted" => "[green]granted[/]",
        "denied" => "[red]denied[/]",
        null => "",
        _ => Output.Esc(outcome),
    };

    /// <summary>`fleet devices` from the registry: state, version, provider, last seen, configuration applied.</summary>
    public static async Task<int> DevicesAsync(Output o, bool json, EchoFaceConfig config, string? site, CancellationToken cancel)
    {
        await using var store = Open(config);
        var rows = await new FleetQueries(store.Source).DevicesAsync(site, cancel);
        if (json) { o.Json(rows); return EchoFaceCli.Ok; }
        var table = new Table().AddColumns("site", "device", "state", "version", "provider", "last seen", "config");
        foreach (var d in rows)
        {
            var applied = d.ConfigVersion is null ? "" : $"{d.ConfigVersion} {d.ConfigStatus}{(d.ConfigError is null ? "" : $": {d.ConfigError}")}";
            table.AddRow(Output.Esc(d.Site), Output.Esc(d.Device), d.State == "online" ? "[green]online[/]" : "[red]offline[/]",
                Output.Esc(d.Version ?? ""), Output.Esc(d.Provider ?? ""), $"{d.LastSeen:u}", Output.Esc(applied));
        }
        o.Console.Write(table);
        o.Line($"{rows.Count} device(s), {rows.Count(d => d.State == "online")} online");
        return EchoFaceCli.Ok;
    }

    /// <summary>An ISO 8601 time or an age back from now (90s, 30m, 12h, 7d).</summary>
    public static DateTimeOffset? Time(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return at;
        var unit = text[^1];
        if (double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            var span = unit switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => (TimeSpan?)null,
            };
            if (span is { } s) return DateTimeOffset.UtcNow - s;
        }
        throw new BadInputException($"{option} '{text}' is neither an ISO time (2026-12-01T08:00Z) nor an age (30m, 12h, 7d)");
    }

    private static Command Bench(GlobalOptions g, Output o, Option<string?> database, Option<string?> broker, Option<string?> site)
    {
        var devices = new Option<int[]>("--devices")
        {
            Description = "simulated devices, one run each", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [100, 1000]
        };
        var collectors = new Option<int[]>("--collectors")
        {
            Description = "collectors in the share group, one run each",
            AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [1, 2]
        };
        var events = new Option<int>("--events") { Description = "events per run", DefaultValueFactory = _ => 50_000 };
        var rate = new Option<double>("--rate")
        { Description = "events/s offered (0: as fast as the devices can publish)", DefaultValueFactory = _ => 0 };
        var bench = new Command("bench",
            "Load: N simulated devices publish events in their own format against the broker, 1..n collectors store them; events/s, p99")
            { devices, collectors, events, rate };
        bench.SetAction(async (p, cancel) =>
        {
            var config = Config(p, g, database, broker, site);
            Validate(config);
            if (p.GetValue(events) < 1) throw new BadInputException("--events must be at least 1");
            using var loggers = LoggerFactory.Create(b => b
                .AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace).AddFilter(level => level >= LogLevel.Warning));
            var load = new FleetLoad(config.Fleet, config.FleetServer, loggers.CreateLogger("EchoFace.FleetBench"));
            var rows = new List<FleetLoadResult>();
            // warm-up, not reported: the JIT and the connection pools, so the first run measured is not the slowest for that reason
            await load.RunAsync(10, 1, 2000, 0, null, cancel);
            foreach (var d in p.GetValue(devices)!)
                foreach (var c in p.GetValue(collectors)!)
                {
                    if (d < 1 || c < 1) throw new BadInputException("--devices and --collectors must be at least 1");
                    var progress = new Progress<int>(n => o.Stderr.Write($"\r{d} devices, {c} collector(s): {n} of {p.GetValue(events)} stored "));
                    rows.Add(await load.RunAsync(d, c, p.GetValue(events), p.GetValue(rate), progress, cancel));
                    o.Stderr.WriteLine();
                }
            if (p.GetValue(g.Json)) { o.Json(rows); return EchoFaceCli.Ok; }
            // narrow enough for 80 columns (the maximum latency is in --json)
            var table = new Table().AddColumns("dev", "coll", "events", "s", "stored/s", "p50 ms", "p99 ms", "rows/s", "resent");
            foreach (var r in rows)
                table.AddRow($"{r.Devices}", $"{r.Collectors}", $"{r.Events}", $"{r.Seconds:F1}", $"{r.StoredPerSecond:F0}", $"{r.P50Ms:F0}",
                    $"{r.P99Ms:F0}", $"{r.RowsPerSecond:F0}", $"{r.Duplicates}");
            o.Console.Write(table);
            return EchoFaceCli.Ok;
        });
        return bench;
    }
}
