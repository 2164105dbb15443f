using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using EchoFace.Sync;
using Spectre.Console;
using static EchoFace.Sync.FleetManager;

namespace EchoFace.Cli.Commands;

/// <summary>fleet devices | events | push-config | enroll | recommend push: a fleet manager's view of the devices on the broker.</summary>
internal static class FleetCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var fleet = new Command("fleet", "Watch devices over MQTT: their status and their events");
        var broker = new Option<string?>("--broker") { Description = "mqtt://host:port or mqtts://host:port (default Fleet.Broker)", Recursive = true };
        var site = new Option<string?>("--site") { Description = "site (default Fleet.Site)", Recursive = true };
        var database = FleetServerCommands.DatabaseOption();
        fleet.Options.Add(broker);
        fleet.Options.Add(site);
        fleet.Options.Add(database);
        // the store when there is one (FleetServer.Database or --database), else what the broker holds now
        EchoFace.Configuration.EchoFaceConfig? Store(ParseResult p)
        {
            var config = FleetServerCommands.Config(p, g, database, broker, site);
            return string.IsNullOrWhiteSpace(config.FleetServer.Database) ? null : config;
        }
        Task<FleetManager> Connect(ParseResult p, CancellationToken cancel) => FleetManager.ConnectAsync(Options(p, g, broker, site), cancel);

        var devices = new Command("devices",
            "Every device: from the fleet store's registry when there is one, else from the broker's retained status");
        devices.SetAction(async (p, cancel) =>
        {
            if (Store(p) is { } stored) return await FleetServerCommands.DevicesAsync(o, p.GetValue(g.Json), stored, p.GetValue(site), cancel);
            await using var manager = await Connect(p, cancel);
            var rows = await manager.DevicesAsync(cancel);
            if (p.GetValue(g.Json)) { o.Json(rows); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("device", "state", "version", "uptime s", "started");
            foreach (var s in rows)
                table.AddRow(Output.Esc(Str(s, "device")), Str(s, "state") == "online" ? "[green]online[/]" : "[red]offline[/]", Output.Esc(Str(s, "version")),
                    Output.Esc(Str(s, "uptimeSeconds")), Output.Esc(Str(s, "startedAt")));
            o.Console.Write(table);
            o.Line($"{rows.Count} device(s) at site {Output.Esc(manager.Site)}");
            return EchoFaceCli.Ok;
        });

        var device = new Option<string?>("--device") { Description = "one device only" };
        var follow = new Option<bool>("--follow") { Description = "keep printing new events until stopped (Ctrl-C)" };
        var seconds = new Option<double>("--seconds") { Description = "live, without --follow: how long to listen", DefaultValueFactory = _ => 3 };
        var since = new Option<string?>("--since") { Description = "store: from then on (ISO time or an age: 30m, 12h, 7d)" };
        var until = new Option<string?>("--until") { Description = "store: before then" };
        var outcome = new Option<string?>("--outcome") { Description = "store: granted or denied only" };
        var kind = new Option<string?>("--kind") { Description = "store: one kind (access, alarm, fault, prompt, customer_seen)" };
        var identity = new Option<string?>("--identity") { Description = "store: one person's events" };
        var limit = new Option<int>("--limit") { Description = "store: at most this many, newest first", DefaultValueFactory = _ => 100 };
        var events = new Command("events",
            "Events from the fleet store (when there is one; --follow: live from the broker), each once though QoS 1 may deliver it twice")
            { device, follow, seconds, since, until, outcome, kind, identity, limit };
        events.SetAction(async (p, cancel) =>
        {
            if (!p.GetValue(follow) && Store(p) is { } stored)
                return await FleetServerCommands.EventsAsync(o, p.GetValue(g.Json), stored, new Fleet.EventQuery(
                    FleetServerCommands.Time(p.GetValue(since), "--since"), FleetServerCommands.Time(p.GetValue(until), "--until"), p.GetValue(site),
                    p.GetValue(device), p.GetValue(kind), p.GetValue(outcome), p.GetValue(identity), p.GetValue(limit)), cancel);
            if (p.GetValue(since) is not null || p.GetValue(outcome) is not null)
                throw new BadInputException("--since and --outcome read the fleet store: set FleetServer.Database or give --database");
            await using var manager = await Connect(p, cancel);
            using var listen = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            if (!p.GetValue(follow)) listen.CancelAfter(TimeSpan.FromSeconds(p.GetValue(seconds)));
            await foreach (var e in manager.EventsAsync(p.GetValue(device) ?? "+", listen.Token))
            {
                if (p.GetValue(g.Json)) o.Stdout.WriteLine(JsonSerializer.Serialize(e));
                else o.Line($"{Output.Esc(Str(e, "at"))} {Output.Esc(Str(e, "device"))} [bold]{Output.Esc(Str(e, "kind"))}[/] {Output.Esc(Summary(e))}");
            }
            return EchoFaceCli.Ok;
        });

        fleet.Subcommands.Add(RecommendPush(g, o, Connect));
        fleet.Subcommands.Add(PushConfig(g, o, Connect));
        fleet.Subcommands.Add(Enroll(g, o, Connect));
        fleet.Subcommands.Add(devices);
        fleet.Subcommands.Add(events);
        foreach (var c in FleetServerCommands.Build(g, o, database, broker, site)) fleet.Subcommands.Add(c);
        foreach (var c in FleetRegistryCommands.Build(g, o, database, broker, site)) fleet.Subcommands.Add(c);
        return fleet;
    }

    private static Command PushConfig(GlobalOptions g, Output o, Func<ParseResult, CancellationToken, Task<FleetManager>> connect)
    {
        var file = new Argument<string>("file") { Description = "JSON settings, the same sections as echoface.json (e.g. {\"Access\": {\"Policy\": \"face\"}})" };
        var target = new Option<string?>("--device") { Description = "one device; without it (--all) the site's group document, under every device's own" };
        var all = new Option<bool>("--all") { Description = "the whole site (group document)" };
        var version = new Option<long?>("--version") { Description = "document version (default: now, in milliseconds since 1970, so later pushes are newer)" };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for the devices' reports", DefaultValueFactory = _ => 10 };
        var push = new Command("push-config",
            "Publish a desired configuration (retained) and print each device's report: applied, ignored or rejected with why")
            { file, target, all, version, wait };
        push.SetAction(async (p, cancel) =>
        {
            var device = p.GetValue(target);
            if ((device is null) != p.GetValue(all)) throw new BadInputException("give --device D or --all");
            var path = p.GetValue(file)!;
            if (!File.Exists(path)) throw new BadInputException($"configuration file not found: {path}");
            JsonObject settings;
            try { settings = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not a JSON object"); }
            catch (JsonException e) { throw new BadInputException($"{path}: not a JSON object of settings: {e.Message}"); }
            var v = p.GetValue(version) ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await using var manager = await connect(p, cancel);
            var rows = await manager.PushConfigAsync(settings, device, v, TimeSpan.FromSeconds(p.GetValue(wait)), cancel);
            if (p.GetValue(g.Json))
                o.Json(new
                {
                    version = v, target = device ?? "_all",
                    reports = rows.Select(r => new
                    {
                        device = r.Device, status = r.Status, error = r.Error, pendingRestart = r.PendingRestart, answerMs = r.AnswerMs,
                    }),
                });
            else
            {
                var table = new Table().AddColumns("device", "status", "error", "needs restart", "answer ms");
                foreach (var r in rows)
                    table.AddRow(Output.Esc(r.Device), Status(r), Output.Esc(r.Error), Output.Esc(r.PendingRestart), r.AnswerMs is { } a ? $"{a:F0}" : "");
                o.Console.Write(table);
                o.Line($"version {v} pushed to {Output.Esc(device ?? $"all devices of {manager.Site}")}");
            }
            // a device that refused or did not answer is a failed push
            return rows.Count > 0 && rows.All(r => r.Applied) ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
        return push;
    }

    private static Command Enroll(GlobalOptions g, Output o, Func<ParseResult, CancellationToken, Task<FleetManager>> connect)
    {
        var who = new Argument<string>("id") { Description = "identity to copy" };
        var from = new Option<string>("--from-device") { Description = "device that holds the identity's templates", Required = true };
        var to = new Option<string[]>("--to") { Description = "devices to copy it to", AllowMultipleArgumentsPerToken = true };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for each answer", DefaultValueFactory = _ => 10 };
        var enroll = new Command("enroll", "Copy an enrolled identity (its templates, sealed at rest, sent over the broker: use TLS) from one device to others")
            { who, from, to, wait };
        enroll.SetAction(async (p, cancel) =>
        {
            var (id, source, targets) = (p.GetValue(who)!, p.GetValue(from)!, p.GetValue(to) ?? []);
            if (targets.Length == 0) throw new BadInputException("give --to DEVICE (one or more)");
            await using var manager = await connect(p, cancel);
            var rows = await manager.CopyIdentityAsync(id, source, targets, TimeSpan.FromSeconds(p.GetValue(wait)), cancel);
            if (p.GetValue(g.Json))
                o.Json(new
                {
                    identity = id, from = source,
                    results = rows.Select(r => new { device = r.Device, status = r.Status, templates = r.Count, error = r.Error }),
                });
            else Answers(o, rows, "templates");
            return rows.All(r => r.Applied) ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
        return enroll;
    }

    /// <summary>fleet recommend push: per-customer lists, from a JSON set or a trained artifact, to one device or every online one.</summary>
    private static Command RecommendPush(GlobalOptions g, Output o, Func<ParseResult, CancellationToken, Task<FleetManager>> connect)
    {
        var source = new Argument<string>("source")
        {
            Description = "a recommender artifact folder (`recommend train --out`) or a JSON set {version, mode, lists: {customer: [items]}}",
        };
        var target = new Option<string?>("--device") { Description = "one device" };
        var all = new Option<bool>("--all") { Description = "every device of the site that is online" };
        var k = new Option<int>("--k") { Description = "items per customer when the source is an artifact", DefaultValueFactory = _ => 10 };
        var merge = new Option<bool>("--merge") { Description = "add to and update the device's lists instead of replacing them all" };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for the devices' answers", DefaultValueFactory = _ => 15 };
        var push = new Command("push", "Send per-customer top-K lists; each device applies the set whole (newer versions only) and answers")
            { source, target, all, k, merge, wait };
        push.SetAction(async (p, cancel) =>
        {
            var device = p.GetValue(target);
            if ((device is null) != p.GetValue(all)) throw new BadInputException("give --device D or --all");
            var set = RecommendationSet.From(p.GetValue(source)!, p.GetValue(k), !p.GetValue(merge));
            await using var manager = await connect(p, cancel);
            var rows = await manager.PushRecommendationsAsync(set, device, TimeSpan.FromSeconds(p.GetValue(wait)), cancel);
            if (p.GetValue(g.Json))
                o.Json(new
                {
                    version = set.Version, customers = set.Lists.Count,
                    results = rows.Select(r => new { device = r.Device, status = r.Status, customers = r.Count, error = r.Error }),
                });
            else
            {
                Answers(o, rows, "customers");
                o.Line($"version {set.Version}: {set.Lists.Count} customers' lists");
            }
            return rows.All(r => r.Applied) ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
        var recommend = new Command("recommend", "Product recommendations for the site's shelf cameras");
        recommend.Subcommands.Add(push);
        return recommend;
    }

    private static void Answers(Output o, IReadOnlyList<DeviceAnswer> rows, string counted)
    {
        var table = new Table().AddColumns("device", "status", counted, "error");
        foreach (var r in rows) table.AddRow(Output.Esc(r.Device), Status(r), Output.Esc(r.Count), Output.Esc(r.Error));
        o.Console.Write(table);
    }

    private static string Status(DeviceAnswer r) => r.Applied ? "[green]applied[/]" : $"[red]{Output.Esc(r.Status)}[/]";

    private static FleetOptions Options(ParseResult p, GlobalOptions g, Option<string?> broker, Option<string?> site)
    {
        var config = Configuration.EchoFaceConfig.Load(p.GetValue(g.Config));
        var f = config.Fleet;
        if (p.GetValue(broker) is { } b) f.Broker = b;
        if (p.GetValue(site) is { } s) f.Site = s;
        try { f.Validate(); }
        catch (ArgumentException e) { throw new BadInputException(e.Message); }
        return f;
    }

    private static string Summary(JsonElement e)
    {
        if (!e.TryGetProperty("data", out var d)) return "";
        return string.Join(" ", new[] { "outcome", "reason", "identity", "type", "detail" }.Select(k => Str(d, k)).Where(v => v.Length > 0));
    }
}
