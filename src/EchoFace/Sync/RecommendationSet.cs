using System.Text.Json;
using EchoFace.Storage;

namespace EchoFace.Sync;

/// <summary>
/// The `recommendations/set` payload: {requestId?, version, mode: replace | merge, lists: {customer: [item | {item, score}], ...}}.
/// Parsed whole before anything is stored: one bad entry rejects the set with the reason, and the lists in force stay.
/// </summary>
public sealed record RecommendationSet(string? RequestId, long Version, bool Replace, IReadOnlyDictionary<string, IReadOnlyList<ListedItem>> Lists)
{
    public const int MaxBytes = 16 * 1024 * 1024, MaxItemsPerList = 100, MaxIdLength = 200;
    private static readonly string[] Keys = ["requestId", "version", "mode", "lists"];

    /// <summary>
    /// A set to push from a recommender artifact folder (every customer's top <paramref name="k"/>, versioned by the artifact) or
    /// from a JSON file, checked as a device would check it.
    /// </summary>
    public static RecommendationSet From(string source, int k, bool replace)
    {
        var requestId = Guid.NewGuid().ToString("N");
        if (Directory.Exists(source))
        {
            var model = Recommend.RecommenderModel.Load(source);
            var scratch = new float[model.History.ItemCount];
            var lists = model.Set.Customers.ToDictionary(c => c, c => (IReadOnlyList<ListedItem>)
                [.. model.Recommend(c, k, scratch: scratch).Items.Select(i => new ListedItem(i.Item, i.Score))], StringComparer.Ordinal);
            return new RecommendationSet(requestId, model.Manifest.Version, replace, lists);
        }
        if (!File.Exists(source)) throw new BadInputException($"{source} is neither a recommender artifact folder nor a JSON file");
        System.Text.Json.Nodes.JsonObject node;
        try
        {
            node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllBytes(source)) as System.Text.Json.Nodes.JsonObject
                   ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e) { throw new BadInputException($"{source}: not a JSON recommendation set: {e.Message}", e); }
        node["requestId"] = requestId;
        node["version"] ??= DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        node["mode"] ??= replace ? "replace" : "merge";
        try { return Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString())); }
        catch (BadInputException e) { throw new BadInputException($"{source}: {e.Message}", e); }
    }

    /// <summary>The request id when one can be read, even from a set that is otherwise rejected (so the answer can name it).</summary>
    public static string? PeekRequestId(ReadOnlySpan<byte> payload)
    {
        if (!System.Text.Unicode.Utf8.IsValid(payload)) return null;
        try
        {
            using var doc = JsonDocument.Parse(payload.ToArray());
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("requestId", out var r) && r.ValueKind == JsonValueKind.String
                ? r.GetString() : null;
        }
        catch (JsonException) { return null; }
    }

    public static RecommendationSet Parse(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxBytes) throw new BadInputException($"recommendation set of {payload.Length} bytes is over the {MaxBytes / (1024 * 1024)} MiB limit");
        // found by fuzzing: text that is not UTF-8 parses as JSON and fails only when a name or string is read
        if (!System.Text.Unicode.Utf8.IsValid(payload)) throw new BadInputException("the set is not valid UTF-8 text");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(payload.ToArray()); }
        catch (JsonException e) { throw new BadInputException($"malformed JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new BadInputException("a recommendation set must be a JSON object");
            foreach (var p in root.EnumerateObject())
                if (!Keys.Contains(p.Name)) throw new BadInputException($"unknown key '{p.Name}' (expected {string.Join(", ", Keys)})");
            string? requestId = root.TryGetProperty("requestId", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            if (!root.TryGetProperty("version", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var version) || version <= 0)
                throw new BadInputException("version must be a positive integer");
            var mode = root.TryGetProperty("mode", out var m) ? m.ValueKind == JsonValueKind.String ? m.GetString() : null : "replace";
            if (mode is not ("replace" or "merge")) throw new BadInputException("mode must be \"replace\" or \"merge\"");
            if (!root.TryGetProperty("lists", out var lists) || lists.ValueKind != JsonValueKind.Object) throw new BadInputException("lists must be an object of customer id to items");
            var parsed = new Dictionary<string, IReadOnlyList<ListedItem>>(StringComparer.Ordinal);
            foreach (var customer in lists.EnumerateObject())
            {
                if (customer.Name.Length is 0 or > MaxIdLength) throw new BadInputException($"customer id '{Clip(customer.Name)}' must be 1 to {MaxIdLength} characters");
                if (customer.Value.ValueKind != JsonValueKind.Array) throw new BadInputException($"customer '{Clip(customer.Name)}': items must be an array");
                if (customer.Value.GetArrayLength() > MaxItemsPerList) throw new BadInputException($"customer '{Clip(customer.Name)}': more than {MaxItemsPerList} items");
                var items = new List<ListedItem>();
                foreach (var e in customer.Value.EnumerateArray())
                    items.Add(e.ValueKind switch
                    {
                        JsonValueKind.String => new ListedItem(Item(e.GetString(), customer.Name), null),
                        JsonValueKind.Object => new ListedItem(
                            Item(e.TryGetProperty("item", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null, customer.Name),
                            Score(e, customer.Name)),
                        _ => throw new BadInputException($"customer '{Clip(customer.Name)}': an item must be a string or {{item, score}}"),
                    });
                if (!parsed.TryAdd(customer.Name, items)) throw new BadInputException($"customer '{Clip(customer.Name)}' appears twice");
            }
            return new RecommendationSet(requestId, version, mode == "replace", parsed);
        }
    }

    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(new
    {
        requestId = RequestId, version = Version, mode = Replace ? "replace" : "merge",
        lists = Lists.ToDictionary(kv => kv.Key, kv => kv.Value.Select(i => new { item = i.Item, score = i.Score })),
    }, FleetLink.Json);

    private static float? Score(JsonElement entry, string customer) =>
        !entry.TryGetProperty("score", out var s) || s.ValueKind == JsonValueKind.Null ? null
        : s.ValueKind == JsonValueKind.Number && s.TryGetSingle(out var f) && float.IsFinite(f) ? f
        : throw new BadInputException($"customer '{Clip(customer)}': score must be a number");

    private static string Item(string? item, string customer) =>
        string.IsNullOrWhiteSpace(item) || item.Length > MaxIdLength
            ? throw new BadInputException($"customer '{Clip(customer)}': an item name must be 1 to {MaxIdLength} characters")
            : item;

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
