using System.CommandLine;
using EchoFace.Storage;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>api-key create | list | revoke: keys for the HTTP API, stored hashed in the device database.</summary>
internal static class ApiKeyCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var keys = new Command("api-key", "Keys for the HTTP API (read: recognise and look; enrol: also add and remove people; admin: everything)");

        var role = new Option<string>("--role") { Description = "read | enrol | admin", Required = true };
        var name = new Option<string?>("--name") { Description = "who or what uses the key (shown in lists and logs)" };
        var create = new Command("create", "Create a key; it is printed once and only its hash is kept") { role, name };
        create.WithAction(g, o, (ctx, p) =>
        {
            var store = ctx.ApiKeys;
            var r = ApiKeyStore.ParseRole(p.GetValue(role)!);
            var (record, key) = store.Create(r, p.GetValue(name) ?? $"{r.ToString().ToLowerInvariant()} key");
            if (ctx.Json) { o.Json(new { record.Id, record.Name, role = record.Role, key }); return EchoFaceCli.Ok; }
            o.Line($"key {record.Id} ({Output.Esc(record.Name)}, role {record.Role.ToString().ToLowerInvariant()}): keep it now, it is not shown again");
            o.Stdout.WriteLine(key);
            return EchoFaceCli.Ok;
        });

        var list = new Command("list", "Every key: id, name, role, created, revoked");
        list.WithAction(g, o, (ctx, _) =>
        {
            var store = ctx.ApiKeys;
            var all = store.List();
            if (ctx.Json) { o.Json(all); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("id", "name", "role", "created", "revoked");
            foreach (var k in all) table.AddRow(k.Id, Output.Esc(k.Name), k.Role.ToString().ToLowerInvariant(), k.CreatedAt.ToString("u"), k.RevokedAt?.ToString("u") ?? "");
            o.Console.Write(table);
            return EchoFaceCli.Ok;
        });

        var id = new Argument<string>("id");
        var revoke = new Command("revoke", "Revoke a key: it is refused from the next request") { id };
        revoke.WithAction(g, o, (ctx, p) =>
        {
            var store = ctx.ApiKeys;
            if (!store.Revoke(p.GetValue(id)!)) throw new BadInputException($"no active key '{p.GetValue(id)}' (see `echoface api-key list`)");
            if (ctx.Json) o.Json(new { id = p.GetValue(id), status = "revoked" });
            else o.Line($"key {Output.Esc(p.GetValue(id))} revoked");
            return EchoFaceCli.Ok;
        });

        keys.Subcommands.Add(create);
        keys.Subcommands.Add(list);
        keys.Subcommands.Add(revoke);
        return keys;
    }
}
