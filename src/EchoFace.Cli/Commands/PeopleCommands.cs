using System.CommandLine;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>people list | show | remove: the gallery's identities (no model is loaded).</summary>
internal static class PeopleCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var people = new Command("people", "List, show and remove enrolled identities");

        var list = new Command("list", "Every enrolled identity with its template counts");
        list.WithAction(g, o, (ctx, _) =>
        {
            var all = ctx.Store.ListIdentities();
            if (ctx.Json) { o.Json(all); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("id", "name", "group", "face", "voice", "enrolled");
            foreach (var i in all) table.AddRow(Output.Esc(i.Id), Output.Esc(i.DisplayName), Output.Esc(i.Group), $"{i.FaceTemplates}", $"{i.VoiceTemplates}", i.CreatedAt.ToString("u"));
            o.Console.Write(table);
            o.Line($"{all.Count} identities");
            return EchoFaceCli.Ok;
        });

        var showId = new Argument<string>("id");
        var show = new Command("show", "One identity: its templates and audit trail") { showId };
        show.WithAction(g, o, (ctx, p) =>
        {
            var id = p.GetValue(showId)!;
            var who = ctx.Store.GetIdentity(id) ?? throw new BadInputException($"unknown identity '{id}' (see `echoface people list`)");
            var templates = ctx.Store.LoadTemplates("face", id).Concat(ctx.Store.LoadTemplates("voice", id))
                .Select(t => new { t.Id, t.Modality, t.ModelId, t.ModelVersion, t.Quality, t.Source }).ToList();
            var audit = ctx.Store.Audit(id);
            if (ctx.Json) { o.Json(new { identity = who, templates, audit }); return EchoFaceCli.Ok; }
            o.Line($"[bold]{Output.Esc(who.Id)}[/] {Output.Esc(who.DisplayName)} (group {Output.Esc(who.Group)}, enrolled {who.CreatedAt:u})");
            var table = new Table().AddColumns("template", "modality", "model", "version", "quality", "source");
            foreach (var t in templates) table.AddRow($"{t.Id}", t.Modality, Output.Esc(t.ModelId), t.ModelVersion, CommandBase.F(t.Quality), Output.Esc(t.Source));
            o.Console.Write(table);
            foreach (var a in audit) o.Line($"  {a.At:u} {Output.Esc(a.Action)} {Output.Esc(a.Detail)}");
            return EchoFaceCli.Ok;
        });

        var removeId = new Argument<string>("id");
        var reason = new Option<string>("--reason") { Description = "why (kept in the audit trail)", DefaultValueFactory = _ => "removed from the command line" };
        var remove = new Command("remove", "Delete an identity and every template it has (audited)") { removeId, reason };
        remove.WithAction(g, o, (ctx, p) =>
        {
            var id = p.GetValue(removeId)!;
            if (!ctx.Store.Remove(id, Storage.GalleryStore.Json(new { reason = p.GetValue(reason) })))
                throw new BadInputException($"unknown identity '{id}' (see `echoface people list`)");
            if (ctx.Json) o.Json(new { removed = id }); else o.Line($"removed {Output.Esc(id)}");
            return EchoFaceCli.Ok;
        });

        people.Subcommands.Add(list);
        people.Subcommands.Add(show);
        people.Subcommands.Add(remove);
        return people;
    }
}
