using System.CommandLine;
using System.Text.Json.Nodes;
using EchoFace.Fleet;
using Npgsql;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>fleet people [enroll | show | erase], fleet rollout and fleet status: the fleet store's registry and rollouts.</summary>
internal static class FleetRegistryCommands
{
    public static IEnumerable<Command> Build(GlobalOptions g, Output o, Option<string?> database, Option<string?> broker, Option<string?> site)
    {
        NpgsqlDataSource Db(ParseResult p) => FleetServerCommands.Open(FleetServerCommands.Config(p, g, database, broker, site)).Source;
        var wait = new Option<double>("--wait")
        {
            Description = "seconds to wait for the online devices' answers (offline ones get it when they return)", DefaultValueFactory = _ => 30,
        };
        return [People(g, o, Db, wait), Rollout(g, o, Db, wait), Status(g, o, Db)];
    }

    private static Command People(GlobalOptions g, Output o, Func<ParseResult, NpgsqlDataSource> open, Option<double> wait)
    {
        var group = new Option<string?>("--group") { Description = "only this device group" };
        var people = new Command("people", "The fleet registry: each person, their device group and how many devices hold them") { group };
        people.SetAction(async (p, cancel) =>
        {
            await using var db = open(p);
            var rows = await PeopleRegistry.ListAsync(db, p.GetValue(group), null, cancel);
            if (p.GetValue(g.Json)) { o.Json(rows); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("id", "name", "group", "state", "revision", "templates", "applied", "pending", "refused", "removed");
            foreach (var r in rows)
                table.AddRow(Output.Esc(r.Id), Output.Esc(r.Name ?? ""), Output.Esc(r.Group), State(r.State), $"{r.Revision}", $"{r.Templates}",
                    $"{r.Applied}/{r.Devices}", $"{r.Pending}", r.Refused > 0 ? $"[red]{r.Refused}[/]" : "0", $"{r.Removed}");
            o.Console.Write(table);
            o.Line($"{rows.Count} person(s), {rows.Count(r => r.State == "enrolled")} enrolled");
            return EchoFaceCli.Ok;
        });

        var id = new Argument<string>("id") { Description = "identity id, the same on every device" };
        var photos = new Argument<string[]>("photos") { Description = "photos or folders of photos of this person", Arity = ArgumentArity.OneOrMore };
        var name = new Option<string?>("--name") { Description = "display name (default: the id)" };
        var to = new Option<string>("--group") { Description = "the device group that gets this person", DefaultValueFactory = _ => "default" };
        var face = new Option<int?>("--face")
        {
            Description = "which face to take when a photo holds several (0 = the main face: the largest in focus)",
        };
        var customer = new Option<string?>("--customer") { Description = "retail opt-in: the customer id recorded with their consent" };
        var enroll = new Command("enroll", "Enrol a person once for a device group: templates computed here for each model the group runs, sent to " +
                                           "every device of the group, each device's answer recorded") { id, photos, name, to, face, customer, wait };
        enroll.SetAction(async (p, cancel) =>
        {
            var who = p.GetValue(id)!;
            Recognition.FaceRecognizer.ValidateId(who);
            await using var db = open(p);
            using var ctx = new CliContext(p, g, o);
            var models = await PeopleRegistry.GroupModelsAsync(db, p.GetValue(to)!, cancel);
            // a group whose devices have not said yet gets this server's own model(s)
            if (models.Count == 0) models = [ctx.Pipeline.EmbedderModelId, .. ctx.Pipeline.OtherEmbedders.Select(e => e.ModelId)];
            var images = CommandBase.ExpandImages(p.GetValue(photos)!).Select(path => (path, ctx.Decode(path))).ToList();
            var templates = o.Status(!p.GetValue(g.Json), $"computing templates for {string.Join(", ", models)}",
                _ => FleetTemplates.Compute(ctx.Factory, ctx.Config.Face, models, images, p.GetValue(face)));
            var revision = await PeopleRegistry.EnrollAsync(db, who, p.GetValue(name) ?? who, p.GetValue(to)!, p.GetValue(customer), templates,
                cancel);
            var rows = await WaitAsync(db, who, p.GetValue(wait), o, p.GetValue(g.Json), cancel);
            return Report(o, p.GetValue(g.Json), who, $"revision {revision}, {templates.Count} template(s) of {string.Join(", ", models)}", rows);
        });

        var show = new Command("show", "One person of the registry: what each device was sent and what it answered (an erasure's proof)") { id };
        show.SetAction(async (p, cancel) =>
        {
            await using var db = open(p);
            var person = (await PeopleRegistry.ListAsync(db, null, p.GetValue(id), cancel)).FirstOrDefault()
                         ?? throw new BadInputException($"unknown person '{p.GetValue(id)}' in the fleet registry (`echoface fleet people`)");
            var rows = await PeopleRegistry.DeliveriesAsync(db, person.Id, cancel);
            if (p.GetValue(g.Json)) { o.Json(new { person, devices = rows }); return EchoFaceCli.Ok; }
            o.Line($"{Output.Esc(person.Id)} {Output.Esc(person.Name ?? "")}: {State(person.State)}, group {Output.Esc(person.Group)}, " +
                   $"revision {person.Revision}{(person.ErasedAt is { } at ? $", erased {at:u}" : "")}");
            Table(o, rows);
            return EchoFaceCli.Ok;
        });

        var erase = new Command("erase", "Erase a person from every device that was sent them and from the server; reports each device's answer")
            { id, wait };
        erase.SetAction(async (p, cancel) =>
        {
            var who = p.GetValue(id)!;
            await using var db = open(p);
            if (!await PeopleRegistry.EraseAsync(db, who, cancel))
                throw new BadInputException($"unknown person '{who}' in the fleet registry, or erased already (`echoface fleet people show {who}`)");
            var rows = await WaitAsync(db, who, p.GetValue(wait), o, p.GetValue(g.Json), cancel);
            var person = (await PeopleRegistry.ListAsync(db, null, who, cancel))[0];
            var summary = person.State == "erased" ? $"erased from the server and {rows.Count} device(s) at {person.ErasedAt:u}"
                : "erasing: templates gone from the server, waiting for the devices below";
            return Report(o, p.GetValue(g.Json), who, summary, rows);
        });
        people.Subcommands.Add(enroll);
        people.Subcommands.Add(show);
        people.Subcommands.Add(erase);
        return people;
    }

    /// <summary>Waits until no online device is still owed this person's change (or the wait is over), showing how many are left.</summary>
    private static async Task<IReadOnlyList<Delivery>> WaitAsync(NpgsqlDataSource db, string id, double seconds, Output o, bool json,
        CancellationToken cancel)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        var shown = -1;
        while (true)
        {
            var rows = await PeopleRegistry.DeliveriesAsync(db, id, cancel);
            var waiting = rows.Count(r => r.Status == "pending" && r.DeviceState == "online");
            if (waiting == 0 || DateTime.UtcNow >= until) return rows;
            if (!json && waiting != shown) o.Stderr.WriteLine($"waiting for {waiting} online device(s) to answer...");
            shown = waiting;
            await Task.Delay(200, cancel);
        }
    }

    /// <summary>The per-device table; exit 1 when a device refused (the reason is in the table).</summary>
    private static int Report(Output o, bool json, string id, string summary, IReadOnlyList<Delivery> rows)
    {
        var refused = rows.Count(r => r.Status == "refused");
        if (json) o.Json(new { identity = id, summary, devices = rows });
        else
        {
            o.Line($"{Output.Esc(id)}: {Output.Esc(summary)}");
            Table(o, rows);
            o.Line($"{rows.Count(r => r.Status is "applied" or "removed")} done, {rows.Count(r => r.Status == "pending")} pending " +
                   $"(offline devices get it when they return), {refused} refused");
        }
        return refused > 0 ? EchoFaceCli.Failure : EchoFaceCli.Ok;
    }

    private static void Table(Output o, IReadOnlyList<Delivery> rows)
    {
        var table = new Table().AddColumns("site", "device", "state", "action", "status", "templates", "attempts", "answered", "error");
        foreach (var r in rows)
            table.AddRow(Output.Esc(r.Site), Output.Esc(r.Device), Output.Esc(r.DeviceState), r.Action, State(r.Status), $"{r.Templates}",
                $"{r.Attempts}", r.AnsweredAt is { } at ? $"{at:u}" : "", Output.Esc(r.Error ?? ""));
        o.Console.Write(table);
    }

    private static string State(string state) => state switch
    {
        "enrolled" or "applied" or "removed" or "erased" or "done" => $"[green]{state}[/]",
        "refused" or "rejected" or "stopped" => $"[red]{state}[/]",
        _ => Output.Esc(state),
    };

    private static Command Rollout(GlobalOptions g, Output o, Func<ParseResult, NpgsqlDataSource> open, Option<double> wait)
    {
        var file = new Argument<string>("config") { Description = "JSON settings, the same sections as echoface.json" };
        var group = new Option<string>("--group") { Description = "the device group", DefaultValueFactory = _ => "default" };
        var canary = new Option<int>("--canary") { Description = "devices that get it first; the rest only once every one of them applied it" };
        var device = new Option<string?>("--device") { Description = "one device (DEVICE or SITE/DEVICE): its settings on top of its group's" };
        var rollout = new Command("rollout", "Roll a configuration out to a device group: the canaries first, stopped by any rejection, then the rest")
            { file, group, canary, device, wait };
        rollout.SetAction(async (p, cancel) =>
        {
            var path = p.GetValue(file)!;
            JsonObject document;
            try { document = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new BadInputException($"{path} is not a JSON object"); }
            catch (System.Text.Json.JsonException e) { throw new BadInputException($"{path} is not JSON: {e.Message}"); }
            catch (IOException e) { throw new BadInputException($"{path} cannot be read: {e.Message}"); }
            // the devices check the settings themselves (and refuse with the reason); a version of our own is the rollout's
            document.Remove("version");
            await using var db = open(p);
            var one = p.GetValue(device) is { } d ? await DeviceAsync(db, d, cancel) : ((string, string)?)null;
            var started = await Rollouts.CreateAsync(db, p.GetValue(group)!, document, p.GetValue(canary), cancel, one);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(p.GetValue(wait));
            var r = started;
            while (r.State is "canary" or "rolling" && DateTime.UtcNow < until
                   && !AllOfflineLeft(await Rollouts.StatusAsync(db, r.Group, cancel), r.Id))
            {
                if (!p.GetValue(g.Json)) o.Stderr.WriteLine($"rollout {r.Id} {r.State}: {r.Applied} of {r.Devices} applied...");
                await Task.Delay(500, cancel);
                r = (await Rollouts.ListAsync(db, null, r.Id, cancel))[0];
            }
            var devices = (await Rollouts.StatusAsync(db, r.Group, cancel)).Where(d => d.Rollout == r.Id).ToList();
            if (p.GetValue(g.Json)) o.Json(new { rollout = r, devices });
            else
            {
                var to = r.Device is null ? "group " : $"{r.Device} of group ";
                o.Line($"rollout {r.Id} (version {r.Version}) to {to}{Output.Esc(r.Group)}: {State(r.State)}" +
                       $"{(r.Reason is null ? "" : $" ({Output.Esc(r.Reason)})")}; {r.Applied} of {r.Devices} applied");
                StatusTable(o, devices);
            }
            return r.State == "stopped" ? EchoFaceCli.Failure : EchoFaceCli.Ok;
        });
        return rollout;
    }

    /// <summary>SITE/DEVICE, or a device name that one site holds.</summary>
    private static async Task<(string, string)> DeviceAsync(NpgsqlDataSource db, string name, CancellationToken cancel)
    {
        if (name.Split('/') is [var site, var device]) return (site, device);
        var matches = (await new FleetQueries(db).DevicesAsync(null, cancel)).Where(d => d.Device == name).ToList();
        return matches.Count == 1 ? (matches[0].Site, matches[0].Device)
            : throw new BadInputException(matches.Count == 0 ? $"unknown device '{name}' (`echoface fleet devices`)"
                : $"device '{name}' is at {matches.Count} sites: give SITE/DEVICE");
    }

    /// <summary>Only offline devices are still owed the rollout: waiting longer would not change what is shown.</summary>
    private static bool AllOfflineLeft(IReadOnlyList<DeviceRollout> devices, long rollout) =>
        devices.Where(d => d.Rollout == rollout && d.Status is "pending" or "sent" or "waiting").All(d => d.State != "online");

    private static Command Status(GlobalOptions g, Output o, Func<ParseResult, NpgsqlDataSource> open)
    {
        var group = new Option<string?>("--group") { Description = "only this device group" };
        var status = new Command("status", "Each device's configuration: the version applied, or pending, or rejected with the reason") { group };
        status.SetAction(async (p, cancel) =>
        {
            await using var db = open(p);
            var devices = await Rollouts.StatusAsync(db, p.GetValue(group), cancel);
            var rollouts = await Rollouts.ListAsync(db, p.GetValue(group), null, cancel);
            if (p.GetValue(g.Json)) { o.Json(new { devices, rollouts }); return EchoFaceCli.Ok; }
            StatusTable(o, devices);
            foreach (var r in rollouts.Take(5))
                o.Line($"rollout {r.Id} group {Output.Esc(r.Group)} version {r.Version}: {State(r.State)}" +
                       $"{(r.Reason is null ? "" : $" ({Output.Esc(r.Reason)})")}, {r.Applied}/{r.Devices} applied, {r.Waiting} waiting");
            return EchoFaceCli.Ok;
        });
        return status;
    }

    private static void StatusTable(Output o, IReadOnlyList<DeviceRollout> devices)
    {
        var table = new Table().AddColumns("group", "site", "device", "state", "applied", "rollout", "step", "restart needed", "error");
        foreach (var d in devices)
            table.AddRow(Output.Esc(d.Group), Output.Esc(d.Site), Output.Esc(d.Device), d.State == "online" ? "[green]online[/]" : "[red]offline[/]",
                d.ConfigVersion is { } v ? $"{v} {d.ConfigStatus}" : "", d.Rollout is { } r ? $"{r} (v{d.Version}, {d.Phase})" : "",
                d.Status is null ? "" : State(d.Status), Output.Esc(d.PendingRestart ?? ""), Output.Esc(d.Error ?? d.ConfigError ?? ""));
        o.Console.Write(table);
    }
}
