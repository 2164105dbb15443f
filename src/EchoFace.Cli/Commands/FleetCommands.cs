using System.CommandLine;
using System.Text.Json;
using EchoFace.Sync;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>fleet devices | events: what a fleet manager sees of the devices on the broker (same binary, Fleet section for the broker).</summary>
internal static class FleetCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var fleet = new Command("fleet", "Watch devices over MQTT: their status and their events");
        var broker = new Option<string?>("--broker") { Description = "mqtt://host:port or mqtts://host:port (default Fleet.Broker)", Recursive = true };
        var site = new Option<string?>("--site") { Description = "site (default Fleet.Site)", Recursive = true };
        fleet.Options.Add(broker);
        fleet.Options.Add(site);

        var devices = new Command("devices", "Every device of the site from its retained status: online or offline, version, uptime");
        devices.SetAction(async (p, cancel) =>
        {
            var options = Options(p, g, broker, site);
            await using var client = await FleetClient.ConnectAsync(options, cancel);
            await client.SubscribeAsync(FleetTopics.AllStatus(options.Site), cancel);
            var seen = await client.CollectAsync(TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(10), cancel);
            var rows = seen.GroupBy(m => m.Topic).Select(g => g.Last().Payload).OrderBy(s => Str(s, "device")).ToList();
            if (p.GetValue(g.Json)) { o.Json(rows); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("device", "state", "version", "uptime s", "started");
            foreach (var s in rows)
                table.AddRow(Output.Esc(Str(s, "device")), Str(s, "state") == "online" ? "[green]online[/]" : "[red]offline[/]", Output.Esc(Str(s, "version")),
                    Output.Esc(Str(s, "uptimeSeconds")), Output.Esc(Str(s, "startedAt")));
            o.Console.Write(table);
            o.Line($"{rows.Count} device(s) at site {Output.Esc(options.Site)}");
            return EchoFaceCli.Ok;
        });

        var device = new Option<string?>("--device") { Description = "one device only" };
        var follow = new Option<bool>("--follow") { Description = "keep printing new events until stopped (Ctrl-C)" };
        var seconds = new Option<double>("--seconds") { Description = "without --follow: how long to listen", DefaultValueFactory = _ => 3 };
        var events = new Command("events", "Events from the devices (access, alarm, fault, prompt, status), each printed once though QoS 1 may deliver it twice") { device, follow, seconds };
        events.SetAction(async (p, cancel) =>
        {
            var options = Options(p, g, broker, site);
            await using var client = await FleetClient.ConnectAsync(options, cancel);
            await client.SubscribeAsync(FleetTopics.AllEvents(options.Site, p.GetValue(device) ?? "+"), cancel);
            var seen = new HashSet<string>();
            var json = p.GetValue(g.Json);
            using var listen = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            if (!p.GetValue(follow)) listen.CancelAfter(TimeSpan.FromSeconds(p.GetValue(seconds)));
            try
            {
                await foreach (var m in client.Messages.ReadAllAsync(listen.Token))
                {
                    if (!seen.Add(Str(m.Payload, "id"))) continue; // a re-send after a lost PUBACK: same id
                    if (json) o.Stdout.WriteLine(JsonSerializer.Serialize(m.Payload));
                    else o.Line($"{Output.Esc(Str(m.Payload, "at"))} {Output.Esc(Str(m.Payload, "device"))} [bold]{Output.Esc(Str(m.Payload, "kind"))}[/] {Output.Esc(Summary(m.Payload))}");
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
            return EchoFaceCli.Ok;
        });

        var file = new Argument<string>("file") { Description = "JSON settings, the same sections as echoface.json (e.g. {\"Access\": {\"Policy\": \"face\"}})" };
        var target = new Option<string?>("--device") { Description = "one device; without it (--all) the site's group document, under every device's own" };
        var all = new Option<bool>("--all") { Description = "the whole site (group document)" };
        var version = new Option<long?>("--version") { Description = "document version (default: now, in milliseconds since 1970, so later pushes are newer)" };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for the devices' reports", DefaultValueFactory = _ => 10 };
        var push = new Command("push-config", "Publish a desired configuration (retained) and print each device's report: applied, ignored or rejected with why") { file, target, all, version, wait };
        push.SetAction(async (p, cancel) =>
        {
            var options = Options(p, g, broker, site);
            var device = p.GetValue(target);
            if ((device is null) != p.GetValue(all)) throw new BadInputException("give --device D or --all");
            var path = p.GetValue(file)!;
            if (!File.Exists(path)) throw new BadInputException($"configuration file not found: {path}");
            System.Text.Json.Nodes.JsonObject settings;
            try { settings = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonObject ?? throw new JsonException("not a JSON object"); }
            catch (JsonException e) { throw new BadInputException($"{path}: not a JSON object of settings: {e.Message}"); }
            var v = p.GetValue(version) ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            settings["version"] = v;

            await using var client = await FleetClient.ConnectAsync(options, cancel);
            // who should answer: the one device, or every device the site's retained status knows as online
            await client.SubscribeAsync(FleetTopics.AllStatus(options.Site), cancel);
            var online = (await client.CollectAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), cancel))
                .Where(m => Str(m.Payload, "state") == "online").Select(m => Str(m.Payload, "device")).ToHashSet();
            var expected = device is null ? online : [device];
            await client.SubscribeAsync(FleetTopics.AllReported(options.Site), cancel);
            await client.PublishRetainedAsync(FleetTopics.Desired(options.Site, device), System.Text.Encoding.UTF8.GetBytes(settings.ToJsonString()), cancel);
            var published = System.Diagnostics.Stopwatch.StartNew();
            var answeredMs = new Dictionary<string, double>();
            var reports = new Dictionary<string, JsonElement>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(p.GetValue(wait)));
            try
            {
                await foreach (var m in client.Messages.ReadAllAsync(timeout.Token))
                {
                    if (!m.Topic.EndsWith("/config/reported", StringComparison.Ordinal) || m.Payload.GetProperty("version").GetInt64() != v) continue;
                    reports[m.Topic.Split('/')[2]] = m.Payload;
                    answeredMs[m.Topic.Split('/')[2]] = published.Elapsed.TotalMilliseconds;
                    if (expected.Count > 0 && expected.All(reports.ContainsKey)) break;
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
            var rows = expected.Union(reports.Keys).Order().Select(d => new
            {
                device = d, status = reports.TryGetValue(d, out var r) ? Str(r, "status") : "no answer",
                error = reports.TryGetValue(d, out var r2) ? Str(r2, "error") : "", pendingRestart = reports.TryGetValue(d, out var r3) ? Str(r3, "pendingRestart") : "",
                answerMs = answeredMs.TryGetValue(d, out var ms) ? Math.Round(ms, 1) : (double?)null,
            }).ToList();
            if (p.GetValue(g.Json)) o.Json(new { version = v, target = device ?? "_all", reports = rows });
            else
            {
                var table = new Table().AddColumns("device", "status", "error", "needs restart", "answer ms");
                foreach (var r in rows)
                    table.AddRow(Output.Esc(r.device), r.status == "applied" ? "[green]applied[/]" : $"[red]{Output.Esc(r.status)}[/]", Output.Esc(r.error),
                        Output.Esc(r.pendingRestart), r.answerMs is { } a ? $"{a:F0}" : "");
                o.Console.Write(table);
                o.Line($"version {v} pushed to {Output.Esc(device ?? $"all devices of {options.Site}")}");
            }
            // a device that refused or did not answer is a failed push
            return rows.Count > 0 && rows.All(r => r.status == "applied") ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });

        var who = new Argument<string>("id") { Description = "identity to copy" };
        var from = new Option<string>("--from-device") { Description = "device that holds the identity's templates", Required = true };
        var to = new Option<string[]>("--to") { Description = "devices to copy it to", AllowMultipleArgumentsPerToken = true };
        var enrollWait = new Option<double>("--wait") { Description = "seconds to wait for each answer", DefaultValueFactory = _ => 10 };
        var enroll = new Command("enroll", "Copy an enrolled identity (its templates, sealed at rest, sent over the broker: use TLS) from one device to others") { who, from, to, enrollWait };
        enroll.SetAction(async (p, cancel) =>
        {
            var options = Options(p, g, broker, site);
            var id = p.GetValue(who)!;
            var targets = p.GetValue(to) ?? [];
            if (targets.Length == 0) throw new BadInputException("give --to DEVICE (one or more)");
            var timeout = TimeSpan.FromSeconds(p.GetValue(enrollWait));
            await using var client = await FleetClient.ConnectAsync(options, cancel);
            var source = p.GetValue(from)!;
            await client.SubscribeAsync(FleetTopics.DeviceTopic(options.Site, source, "cmd/export/result"), cancel);
            foreach (var t in targets) await client.SubscribeAsync(FleetTopics.DeviceTopic(options.Site, t, "enroll/result"), cancel);
            var requestId = Guid.NewGuid().ToString("N");
            await client.PublishAsync(FleetTopics.DeviceTopic(options.Site, source, "cmd/export"),
                JsonSerializer.SerializeToUtf8Bytes(new { requestId, identity = id }), retain: false, cancel);
            var exported = await WaitFor(client, m => m.Topic.EndsWith("/cmd/export/result", StringComparison.Ordinal) && Str(m.Payload, "requestId") == requestId, timeout, cancel)
                ?? throw new ToolException($"{source} did not answer the export of '{id}' within {timeout.TotalSeconds:F0} s (is it online? `echoface fleet devices`)");
            if (Str(exported.Payload, "status") != "done") throw new BadInputException($"{source} refused the export: {Str(exported.Payload, "error")}");
            var set = new System.Text.Json.Nodes.JsonObject
            {
                ["requestId"] = requestId, ["action"] = "upsert",
                ["identity"] = System.Text.Json.Nodes.JsonNode.Parse(exported.Payload.GetProperty("identity").GetRawText()),
                ["templates"] = System.Text.Json.Nodes.JsonNode.Parse(exported.Payload.GetProperty("templates").GetRawText()),
            };
            if (Str(exported.Payload, "customer") is { Length: > 0 } customer) set["customer"] = customer; // the retail opt-in goes along
            foreach (var t in targets)
                await client.PublishAsync(FleetTopics.DeviceTopic(options.Site, t, "enroll/set"), System.Text.Encoding.UTF8.GetBytes(set.ToJsonString()), retain: false, cancel);
            var rows = (await Answers(client, targets, "enroll/result", requestId, "templates", timeout, cancel))
                .Select(r => new { r.device, r.status, templates = r.count, r.error }).ToList();
            if (p.GetValue(g.Json)) o.Json(new { identity = id, from = source, results = rows });
            else
            {
                var table = new Table().AddColumns("device", "status", "templates", "error");
                foreach (var r in rows) table.AddRow(Output.Esc(r.device), r.status == "applied" ? "[green]applied[/]" : $"[red]{Output.Esc(r.status)}[/]", r.templates, Output.Esc(r.error));
                o.Console.Write(table);
            }
            return rows.All(r => r.status == "applied") ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });

        fleet.Subcommands.Add(RecommendPush(g, o, broker, site));
        fleet.Subcommands.Add(push);
        fleet.Subcommands.Add(enroll);
        fleet.Subcommands.Add(devices);
        fleet.Subcommands.Add(events);
        return fleet;
    }

    /// <summary>fleet recommend push: per-customer lists, from a JSON set or a trained artifact, to one device or every online one.</summary>
    private static Command RecommendPush(GlobalOptions g, Output o, Option<string?> broker, Option<string?> site)
    {
        var source = new Argument<string>("source") { Description = "a recommender artifact folder (`recommend train --out`) or a JSON set {version, mode, lists: {customer: [items]}}" };
        var target = new Option<string?>("--device") { Description = "one device" };
        var all = new Option<bool>("--all") { Description = "every device of the site that is online" };
        var k = new Option<int>("--k") { Description = "items per customer when the source is an artifact", DefaultValueFactory = _ => 10 };
        var merge = new Option<bool>("--merge") { Description = "add to and update the device's lists instead of replacing them all" };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for the devices' answers", DefaultValueFactory = _ => 15 };
        var push = new Command("push", "Send per-customer top-K lists; each device applies the set whole (newer versions only) and answers") { source, target, all, k, merge, wait };
        push.SetAction(async (p, cancel) =>
        {
            var options = Options(p, g, broker, site);
            var device = p.GetValue(target);
            if ((device is null) != p.GetValue(all)) throw new BadInputException("give --device D or --all");
            var set = ListsFrom(p.GetValue(source)!, p.GetValue(k), !p.GetValue(merge));
            var payload = set.Encode();
            await using var client = await FleetClient.ConnectAsync(options, cancel);
            await client.SubscribeAsync(FleetTopics.AllStatus(options.Site), cancel);
            var online = (await client.CollectAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), cancel))
                .Where(m => Str(m.Payload, "state") == "online").Select(m => Str(m.Payload, "device")).ToHashSet();
            var targets = device is null ? online.Order().ToList() : [device];
            if (targets.Count == 0) throw new ToolException($"no device of site {options.Site} is online (`echoface fleet devices`)");
            foreach (var t in targets) await client.SubscribeAsync(FleetTopics.DeviceTopic(options.Site, t, "recommendations/result"), cancel);
            foreach (var t in targets) await client.PublishAsync(FleetTopics.DeviceTopic(options.Site, t, "recommendations/set"), payload, retain: false, cancel);
            var rows = (await Answers(client, targets, "recommendations/result", set.RequestId, "customers", TimeSpan.FromSeconds(p.GetValue(wait)), cancel))
                .Select(r => new { r.device, r.status, customers = r.count, r.error }).ToList();
            if (p.GetValue(g.Json)) o.Json(new { version = set.Version, customers = set.Lists.Count, results = rows });
            else
            {
                var table = new Table().AddColumns("device", "status", "customers", "error");
                foreach (var r in rows) table.AddRow(Output.Esc(r.device), r.status == "applied" ? "[green]applied[/]" : $"[red]{Output.Esc(r.status)}[/]", r.customers, Output.Esc(r.error));
                o.Console.Write(table);
                o.Line($"version {set.Version}: {set.Lists.Count} customers' lists");
            }
            return rows.All(r => r.status == "applied") ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
        var recommend = new Command("recommend", "Product recommendations for the site's shelf cameras");
        recommend.Subcommands.Add(push);
        return recommend;
    }

    /// <summary>A set from an artifact (every customer's top k, versioned by the artifact) or from a JSON file checked as a device would.</summary>
    private static RecommendationSet ListsFrom(string source, int k, bool replace)
    {
        var requestId = Guid.NewGuid().ToString("N");
        if (Directory.Exists(source))
        {
            var model = Recommend.RecommenderModel.Load(source);
            var scratch = new float[model.History.ItemCount];
            var lists = model.Set.Customers.ToDictionary(c => c, c => (IReadOnlyList<Storage.ListedItem>)
                [.. model.Recommend(c, k, scratch: scratch).Items.Select(i => new Storage.ListedItem(i.Item, i.Score))], StringComparer.Ordinal);
            return new RecommendationSet(requestId, model.Manifest.Version, replace, lists);
        }
        if (!File.Exists(source)) throw new BadInputException($"{source} is neither a recommender artifact folder nor a JSON file");
        System.Text.Json.Nodes.JsonObject node;
        try { node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllBytes(source)) as System.Text.Json.Nodes.JsonObject ?? throw new JsonException("not a JSON object"); }
        catch (JsonException e) { throw new BadInputException($"{source}: not a JSON recommendation set: {e.Message}", e); }
        node["requestId"] = requestId;
        node["version"] ??= DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        node["mode"] ??= replace ? "replace" : "merge";
        try { return RecommendationSet.Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString())); }
        catch (BadInputException e) { throw new BadInputException($"{source}: {e.Message}", e); }
    }

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

    /// <summary>Each target's answer to one request on its result topic (waiting up to <paramref name="timeout"/> for each), "no answer" where none came.</summary>
    private static async Task<List<(string device, string status, string count, string error)>> Answers(FleetClient client, IReadOnlyList<string> targets,
        string resultTopic, string? requestId, string countField, TimeSpan timeout, CancellationToken cancel)
    {
        var answers = new Dictionary<string, JsonElement>();
        while (answers.Count < targets.Count)
        {
            var a = await WaitFor(client, m => m.Topic.EndsWith("/" + resultTopic, StringComparison.Ordinal) && Str(m.Payload, "requestId") == requestId, timeout, cancel);
            if (a is null) break;
            answers[a.Topic.Split('/')[2]] = a.Payload;
        }
        return [.. targets.Select(t => answers.TryGetValue(t, out var a)
            ? (t, Str(a, "status"), Str(a, countField), Str(a, "error"))
            : (t, "no answer", "", ""))];
    }

    private static async Task<FleetMessage?> WaitFor(FleetClient client, Func<FleetMessage, bool> match, TimeSpan timeout, CancellationToken cancel)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout);
        try
        {
            await foreach (var m in client.Messages.ReadAllAsync(limit.Token))
                if (match(m)) return m;
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
        return null;
    }

    private static string Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString()! : v.ToString() : "";

    private static string Summary(JsonElement e)
    {
        if (!e.TryGetProperty("data", out var d)) return "";
        return string.Join(" ", new[] { "outcome", "reason", "identity", "type", "detail" }.Select(k => Str(d, k)).Where(v => v.Length > 0));
    }
}
