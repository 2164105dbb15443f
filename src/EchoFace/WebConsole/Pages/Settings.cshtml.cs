using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EchoFace.Configuration;
using EchoFace.Daemon;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace EchoFace.WebConsole.Pages;

[Authorize(Policy = nameof(Storage.ApiRole.Admin))]
public sealed partial class SettingsModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public IReadOnlyList<(string Section, string Json)> Sections { get; private set; } = [];
    public bool FleetOwned => Daemon.Config.Fleet.Enabled;

    public void OnGet()
    {
        var config = HttpContext.RequestServices.GetRequiredService<ConfigurationInForce>().Current;
        var root = JsonSerializer.SerializeToNode(config)!.AsObject();
        Mask(root);
        Sections = [.. root.Select(p => (p.Key, p.Value?.ToJsonString(Indented) ?? "null"))];
    }

    private const string Masked = "••••••";

    [GeneratedRegex("password|secret|token", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();

    /// <summary>A password inside a connection string (Host=...;Password=...).</summary>
    [GeneratedRegex(@"(password|pwd)\s*=\s*[^;]*", RegexOptions.IgnoreCase)]
    private static partial Regex InlinePassword();

    /// <summary>Blanks every value whose name says it is a secret (a file that holds one is only a path, and stays), and passwords inside connection strings.</summary>
    public static void Mask(JsonNode? node)
    {
        if (node is JsonObject o)
            foreach (var (name, value) in o.ToList())
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var text) && text.Length > 0)
                {
                    if (Secret().IsMatch(name) && !name.EndsWith("File", StringComparison.Ordinal)) o[name] = Masked;
                    else if (InlinePassword().IsMatch(text)) o[name] = InlinePassword().Replace(text, m => $"{m.Groups[1].Value}={Masked}");
                }
                else Mask(value);
            }
        else if (node is JsonArray a)
            foreach (var item in a) Mask(item);
    }
}
