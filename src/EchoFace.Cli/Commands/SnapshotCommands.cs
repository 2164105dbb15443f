using System.CommandLine;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>snapshots list | export: the sealed pictures behind door decisions, opened with this device's template key (no model is loaded).</summary>
internal static class SnapshotCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var snapshots = new Command("snapshots", "The pictures behind door decisions (each access event names its snapshot), sealed at rest");

        var list = new Command("list", "Snapshots kept, newest last");
        list.WithAction(g, o, (ctx, _) =>
        {
            var names = ctx.Snapshots.List();
            if (ctx.Json) { o.Json(names); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("snapshot", "taken (UTC)");
            foreach (var n in names)
                table.AddRow(n, Access.DecisionSnapshots.TakenAt(n).ToString("yyyy-MM-dd HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture));
            o.Console.Write(table);
            o.Line($"{names.Count} snapshots in {Output.Esc(ctx.Snapshots.Directory)}");
            return EchoFaceCli.Ok;
        });

        var name = new Argument<string>("name") { Description = "the snapshot field of an access event, e.g. 20261130T101500123Z-t4.jpg" };
        var output = new Argument<string>("output") { Description = "where to write the JPEG" };
        var export = new Command("export", "Open one snapshot and write it as a JPEG (it holds a face: keep it as carefully as the device does)") { name, output };
        export.WithAction(g, o, (ctx, p) =>
        {
            var n = p.GetValue(name)!;
            if (!Access.DecisionSnapshots.IsName(n)) throw new BadInputException($"'{n}' is not a snapshot name (see `echoface snapshots list`)");
            byte[] jpeg;
            try { jpeg = ctx.Snapshots.Read(n) ?? throw new BadInputException($"no snapshot {n} (see `echoface snapshots list`)", BadInputKind.NotFound); }
            catch (InvalidDataException e) { throw new BadInputException(e.Message); }
            var path = Path.GetFullPath(p.GetValue(output)!);
            Storage.AtomicFile.Write(path, jpeg);
            if (ctx.Json) o.Json(new { snapshot = n, path, bytes = jpeg.Length });
            else o.Line($"{Output.Esc(n)} written to {Output.Esc(path)} ({jpeg.Length / 1024} KiB)");
            return EchoFaceCli.Ok;
        });

        snapshots.Subcommands.Add(list);
        snapshots.Subcommands.Add(export);
        return snapshots;
    }
}
