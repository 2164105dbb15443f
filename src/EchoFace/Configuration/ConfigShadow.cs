using System.Text.Json;
using System.Text.Json.Nodes;
using EchoFace.Storage;
using EchoFace.Sync;

namespace EchoFace.Configuration;

/// <summary>What the device answers on config/reported for one desired document.</summary>
public sealed record ConfigReport(long Version, string Source, string Status, string? Error, DateTimeOffset At, IReadOnlyList<string> PendingRestart);

/// <summary>
/// The device's configuration shadow: desired documents from the fleet (the site's group document and the device's own, device
/// winning), merged over the local file, validated whole, and stored with their versions before they are used. A stale version is
/// ignored, an invalid document is rejected whole and the running configuration stays.
/// </summary>
public sealed class ConfigShadow : IDisposable
{
    public const int MaxBytes = 256 * 1024;
    /// <summary>Sections the running daemon takes over without a restart; the others are stored and used from the next start.</summary>
    public static readonly string[] LiveSections = ["Access", "Match", "Door", "Voice"];
    /// <summary>Single settings taken over live in a section that otherwise needs a restart (the camera switches source; its frame size does not change).</summary>
    public static readonly string[] LiveSettings = ["Camera:Source"];

    private readonly ConfigVersionStore _store;
    private readonly string? _basePath;
    private readonly TimeProvider _clock;
    private readonly Dictionary<string, (long Version, JsonObject Settings)> _documents = new();
    private readonly IReadOnlyDictionary<string, string?> _commandLine;

    /// <param name="commandLine">settings given on the command line: they stay above the fleet's (DESIGN: file, environment, command line).</param>
    public ConfigShadow(string databasePath, string? baseConfigPath, IReadOnlyDictionary<string, string?>? commandLine = null, TimeProvider? clock = null)
    {
        _commandLine = commandLine ?? new Dictionary<string, string?>();
        _store = new ConfigVersionStore(databasePath);
        _basePath = baseConfigPath;
        _clock = clock ?? TimeProvider.System;
        foreach (var applied in _store.All()) _documents[applied.Source] = (applied.Version, (JsonObject)JsonNode.Parse(applied.Document)!);
        Current = Build(_documents);
    }

    /// <summary>The configuration in force: the local file (or built-in defaults), then the group document, then the device's.</summary>
    public EchoFaceConfig Current { get; private set; }

    public long? Version(string source) => _documents.TryGetValue(source, out var d) ? d.Version : null;

    /// <summary>Takes a desired document; on success <see cref="Current"/> is the new configuration (already stored).</summary>
    public ConfigReport Offer(string source, ReadOnlySpan<byte> payload, out IReadOnlyList<string> changedSections)
    {
        changedSections = [];
        var now = _clock.GetUtcNow();
        if (payload.Length > MaxBytes) return new ConfigReport(0, source, "rejected", $"document of {payload.Length} bytes is over the {MaxBytes}-byte limit", now, []);
        // found by fuzzing: text that is not UTF-8 parses as JSON and fails only when a name or value is read
        if (!System.Text.Unicode.Utf8.IsValid(payload)) return new ConfigReport(0, source, "rejected", "the document is not valid UTF-8 text", now, []);
        JsonObject document;
        // a key given twice is an error (found by fuzzing: JsonObject would throw on first use instead)
        try { document = JsonNode.Parse(payload, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject ?? throw new JsonException("the document is not a JSON object"); }
        catch (JsonException e) { return new ConfigReport(0, source, "rejected", $"malformed JSON: {e.Message}", now, []); }
        if (document["version"] is not JsonValue v || !v.TryGetValue<long>(out var version) || version <= 0)
            return new ConfigReport(0, source, "rejected", "`version` must be a positive integer", now, []);
        if (Version(source) is { } applied && version <= applied)
            return new ConfigReport(version, source, "ignored", $"version {version} is not newer than the applied {applied}", now, []);
        var settings = (JsonObject)document.DeepClone();
        settings.Remove("version");

        var candidate = new Dictionary<string, (long, JsonObject)>(_documents) { [source] = (version, settings) };
        EchoFaceConfig next;
        try { next = Build(candidate); }
        catch (BadInputException e) { return new ConfigReport(version, source, "rejected", e.Message, now, []); }

        // stored first: a document the storage refuses is not applied, and the running configuration stays
        try { _store.Save(new AppliedConfig(source, version, settings.ToJsonString()), now); }
        catch (Exception e) when (Storage.StorageGuard.Classify(e) is { } state)
        {
            return new ConfigReport(version, source, "rejected",
                $"the device's storage is {Storage.StorageGuard.Words(state)} ({e.Message}): not applied", now, []);
        }
        var before = JsonSerializer.SerializeToNode(Current)!.AsObject();
        var after = JsonSerializer.SerializeToNode(next)!.AsObject();
        changedSections = [.. after.Select(p => p.Key).Where(k => !JsonNode.DeepEquals(before[k], after[k]))];
        _documents[source] = (version, settings);
        Current = next;
        return new ConfigReport(version, source, "applied", null, now, [.. changedSections.Where(s => !IsLive(s, before[s]!.AsObject(), after[s]!.AsObject()))]);
    }

    /// <summary>The source of the web console's edits (docs/console.md).</summary>
    public const string Console = "console";

    /// <summary>The settings the fleet's documents set ("Access:Policy"): the console may not change them.</summary>
    public IReadOnlySet<string> OwnedByFleet()
    {
        var keys = new Dictionary<string, string?>();
        foreach (var source in new[] { "group", "device" })
            if (_documents.TryGetValue(source, out var d)) Flatten(d.Settings, "", keys);
        return keys.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A live section as the console edits it: replaces the console's earlier settings of that section, refused whole when it
    /// sets anything the fleet owns or is invalid; stored with the next console version before it is used, as the fleet's are.
    /// </summary>
    public ConfigReport OfferSection(string section, JsonObject settings, out IReadOnlyList<string> changedSections)
    {
        changedSections = [];
        var now = _clock.GetUtcNow();
        if (!LiveSections.Contains(section))
            return new ConfigReport(0, Console, "rejected", $"{section} is not one the console edits ({string.Join(", ", LiveSections)})", now, []);
        var keys = new Dictionary<string, string?>();
        Flatten(settings, section, keys);
        var inForce = new Dictionary<string, string?>();
        Flatten(JsonSerializer.SerializeToNode(Current)![section], section, inForce);
        // the section comes back whole: what the fleet sets may stand in it unchanged (the fleet's document still wins)
        var fleet = OwnedByFleet();
        var owned = keys.Where(k => fleet.Contains(k.Key) && inForce.GetValueOrDefault(k.Key) != k.Value).Select(k => k.Key).ToList();
        if (owned.Count > 0)
            return new ConfigReport(0, Console, "rejected", $"the fleet sets {string.Join(", ", owned)}: change it there", now, []);
        var document = _documents.TryGetValue(Console, out var d) ? (JsonObject)d.Settings.DeepClone() : [];
        document[section] = settings.DeepClone();
        document["version"] = (Version(Console) ?? 0) + 1;
        return Offer(Console, JsonSerializer.SerializeToUtf8Bytes(document), out changedSections);
    }

    /// <summary>A changed section is live when it is a live section, or when every setting that changed in it is a live setting.</summary>
    private static bool IsLive(string section, JsonObject before, JsonObject after) =>
        LiveSections.Contains(section) ||
        after.Where(p => !JsonNode.DeepEquals(before[p.Key], p.Value)).All(p => LiveSettings.Contains($"{section}:{p.Key}"));

    private EchoFaceConfig Build(IReadOnlyDictionary<string, (long Version, JsonObject Settings)> documents)
    {
        var overrides = new Dictionary<string, string?>();
        // the console's edits sit on the file and under the fleet's documents, which own what they set
        foreach (var source in new[] { Console, "group", "device" })
            if (documents.TryGetValue(source, out var d)) Flatten(d.Settings, "", overrides);
        foreach (var (k, v) in _commandLine) overrides[k] = v;
        return EchoFaceConfig.Load(_basePath, overrides);
    }

    /// <summary>JSON to configuration keys ("Access:Schedules:staff:0:Days"), the form Microsoft.Extensions.Configuration binds.</summary>
    private static void Flatten(JsonNode? node, string prefix, Dictionary<string, string?> into)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) Flatten(v, prefix.Length == 0 ? k : $"{prefix}:{k}", into);
                break;
            case JsonArray a:
                // a list replaces the one below it whole: clear what a lower document set under this key
                foreach (var key in into.Keys.Where(k => k.StartsWith(prefix + ":", StringComparison.Ordinal)).ToList()) into.Remove(key);
                for (var i = 0; i < a.Count; i++) Flatten(a[i], $"{prefix}:{i}", into);
                break;
            case JsonValue v:
                into[prefix] = v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString();
                break;
            default:
                into[prefix] = null;
                break;
        }
    }

    public static byte[] Encode(ConfigReport report) => JsonSerializer.SerializeToUtf8Bytes(report, FleetLink.Json);

    public void Dispose() => _store.Dispose();
}
