using System.Text.Json;
using System.Text.Json.Nodes;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Storage;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EchoFace.WebConsole.Pages;

[Authorize(Policy = nameof(ApiRole.Admin))]
public sealed class SettingsModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public IReadOnlyList<(string Section, string Json)> Sections { get; private set; } = [];
    public IReadOnlyList<string> Editable => ConfigShadow.LiveSections;
    /// <summary>The section just submitted and its text, shown again as sent when it was refused.</summary>
    public string? Section { get; private set; }
    public string? Json { get; private set; }

    private ConfigShadow? Shadow => HttpContext.RequestServices.GetService<RunRequest>()?.Shadow;
    public bool CanEdit => Shadow is not null;

    public IReadOnlyList<string> Owned(string section) =>
        Shadow is { } s ? [.. s.OwnedByFleet().Where(k => k.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase)).Order()] : [];

    public void OnGet() => Load();

    /// <summary>Applies one live section: validated whole with the rest, stored before it is used, taken over by the door at once.</summary>
    public async Task<IActionResult> OnPostAsync(string? section, string? json)
    {
        (Section, Json) = (section, json);
        var result = await ChangeAsync(ApiRole.Admin, _ =>
        {
            var shadow = Shadow ?? throw new BadInputException("this daemon runs without a configuration store: change the file and restart");
            JsonObject settings;
            try
            {
                settings = JsonNode.Parse(json ?? "", documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                           ?? throw new BadInputException($"{section} must be a JSON object");
            }
            catch (JsonException e) { throw new BadInputException($"{section} is not valid JSON: {e.Message}"); }
            var report = shadow.OfferSection(section ?? "", settings, out var changed);
            if (report.Status != "applied") throw new BadInputException($"{section} not applied: {report.Error}");
            var inForce = HttpContext.RequestServices.GetRequiredService<ConfigurationInForce>();
            inForce.Apply(shadow.Current, changed.Where(ConfigShadow.LiveSections.Contains));
            var what = new { type = "config_changed", source = ConfigShadow.Console, version = report.Version, changed, by = Via };
            Daemon.Outbox?.Append("status", inForce.Current.Door.Name, what); // Door is live: the name in force, not the one at start
            (Section, Json) = (null, null);
            return Task.FromResult(changed.Count == 0 ? $"{section}: nothing changed"
                : $"{string.Join(", ", changed)} applied (console version {report.Version})");
        });
        Load();
        return result;
    }

    private void Load()
    {
        var config = HttpContext.RequestServices.GetRequiredService<ConfigurationInForce>().Current;
        var root = JsonSerializer.SerializeToNode(config)!.AsObject();
        SecretMask.Mask(root);
        Sections = [.. root.Select(p => (p.Key, p.Value?.ToJsonString(Indented) ?? "null"))];
    }
}
