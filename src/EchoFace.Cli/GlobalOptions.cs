using System.CommandLine;

namespace EchoFace.Cli;

/// <summary>Options every command takes.</summary>
public sealed class GlobalOptions
{
    public Option<string?> Data { get; } = new("--data") { Description = "state directory (database, template key); default $ECHOFACE_DATA, /var/lib/echoface under systemd, else ~/.local/share/echoface", Recursive = true };
    public Option<string?> Config { get; } = new("--config") { Description = $"configuration file (default {Configuration.EchoFaceConfig.DefaultPath} when present)", Recursive = true };
    public Option<string?> Models { get; } = new("--models") { Description = "folder holding models/manifest.json (default: found from the working directory, or $ECHOFACE_MODELS)", Recursive = true };
    public Option<bool> Json { get; } = new("--json") { Description = "print JSON for machines instead of tables", Recursive = true };

    public void AddTo(Command root)
    {
        root.Options.Add(Data);
        root.Options.Add(Config);
        root.Options.Add(Models);
        root.Options.Add(Json);
    }
}
