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

        fleet.Subcommands.Add(devices);
        fleet.Subcommands.Add(events);
        return fleet;
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

    private static string Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString()! : v.ToString() : "";

    private static string Summary(JsonElement e)
    {
        if (!e.TryGetProperty("data", out var d)) return "";
        return string.Join(" ", new[] { "outcome", "reason", "identity", "type", "detail" }.Select(k => Str(d, k)).Where(v => v.Length > 0));
    }
}
