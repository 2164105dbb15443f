using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EchoFace.Cli.Commands;

/// <summary>config show: the configuration in force (file, then environment), validated, with secrets masked unless asked not to.</summary>
internal static class ConfigCommands
{
    /// <summary>Settings whose values are secrets: shown as "***" when set.</summary>
    private static readonly string[] Secrets = ["Fleet.Password"];

    public static Command Build(GlobalOptions g, Output o)
    {
        var config = new Command("config", "The configuration");
        var reveal = new Option<bool>("--reveal-secrets") { Description = "print secrets (Fleet.Password) instead of ***" };
        var show = new Command("show", "Every setting in force after the file and ECHOFACE__ environment variables, as JSON; secrets masked") { reveal };
        show.WithAction(g, o, (ctx, p) =>
        {
            var node = JsonSerializer.SerializeToNode(ctx.Config, new JsonSerializerOptions { WriteIndented = true })!.AsObject();
            if (!p.GetValue(reveal))
                foreach (var secret in Secrets)
                {
                    var (section, key) = (secret.Split('.')[0], secret.Split('.')[1]);
                    if (node[section] is JsonObject s && s[key] is JsonValue v && v.ToString().Length > 0) s[key] = "***";
                }
            o.Stdout.WriteLine(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return EchoFaceCli.Ok;
        });
        config.Subcommands.Add(show);
        return config;
    }
}
