using System.Runtime.InteropServices;
using System.Text.Json;
using EchoFace.Storage;

namespace EchoFace.Sync;

/// <summary>
/// enroll/set from the fleet, decoded and checked whole before anything is stored: {requestId, action: upsert | remove,
/// identity: {id, name, group}, templates: [{modality, modelId, modelVersion, quality, source, vector: base64 float32}],
/// customer}. Anything malformed is a <see cref="BadInputException"/> naming the field; no other exception leaves.
/// </summary>
public sealed record EnrollRequest(string? RequestId, string Action, string Identity, string Name, string Group, IReadOnlyList<NewTemplate> Templates, string? Customer)
{
    public const int MaxBytes = 4 * 1024 * 1024;

    public static EnrollRequest Parse(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxBytes) throw new BadInputException("enrolment payload over 4 MiB");
        if (!System.Text.Unicode.Utf8.IsValid(payload)) throw new BadInputException("enrolment payload is not valid UTF-8 text");
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(payload.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new BadInputException($"enrolment payload is not JSON: {e.Message}");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new BadInputException("enrolment payload is not a JSON object");
        var requestId = OptionalText(root, "requestId");
        var action = Text(root, "action");
        var who = root.TryGetProperty("identity", out var i) && i.ValueKind == JsonValueKind.Object ? i : throw new BadInputException("identity must be an object");
        var identity = Text(who, "identity.id", "id");
        if (action == "remove") return new EnrollRequest(requestId, action, identity, identity, "default", [], null);
        if (action != "upsert") throw new BadInputException($"action must be upsert or remove, not '{action}'");
        var name = OptionalText(who, "name") ?? identity;
        var group = OptionalText(who, "group") ?? "default";
        if (!root.TryGetProperty("templates", out var list) || list.ValueKind != JsonValueKind.Array) throw new BadInputException("templates must be an array");
        var templates = new List<NewTemplate>();
        foreach (var t in list.EnumerateArray())
        {
            var at = $"templates[{templates.Count}]";
            if (t.ValueKind != JsonValueKind.Object) throw new BadInputException($"{at} must be an object");
            var quality = t.TryGetProperty("quality", out var q) ? q.ValueKind == JsonValueKind.Number && q.TryGetSingle(out var qs) && float.IsFinite(qs)
                ? qs : throw new BadInputException($"{at}.quality must be a number") : 1f;
            templates.Add(new NewTemplate(Text(t, $"{at}.modality", "modality"), Text(t, $"{at}.modelId", "modelId"), OptionalText(t, "modelVersion") ?? "",
                quality, OptionalText(t, "source") ?? "fleet", Vector(t, at)));
        }
        if (templates.Count == 0) throw new BadInputException("upsert needs at least one template");
        var customer = root.TryGetProperty("customer", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() is { Length: > 0 } s ? s : null;
        return new EnrollRequest(requestId, action, identity, name, group, templates, customer);
    }

    private static float[] Vector(JsonElement t, string at)
    {
        byte[] bytes;
        try { bytes = Convert.FromBase64String(Text(t, $"{at}.vector", "vector")); }
        catch (FormatException) { throw new BadInputException($"{at}.vector is not base64"); }
        if (bytes.Length == 0 || bytes.Length % 4 != 0) throw new BadInputException($"{at}.vector holds {bytes.Length} bytes, not a whole number of float32 values");
        var vector = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        if (!vector.All(float.IsFinite)) throw new BadInputException($"{at}.vector holds a value that is not a finite number");
        return vector;
    }

    private static string Text(JsonElement e, string name, string? property = null) =>
        e.TryGetProperty(property ?? name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
            ? s : throw new BadInputException($"{name} must be a non-empty string");

    private static string? OptionalText(JsonElement e, string property) =>
        !e.TryGetProperty(property, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new BadInputException($"{property} must be a string");
}
