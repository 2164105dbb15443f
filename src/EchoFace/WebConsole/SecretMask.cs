using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace EchoFace.WebConsole;

/// <summary>What the settings page must not show: passwords, secrets and tokens, also inside connection strings.</summary>
public static partial class SecretMask
{
    public const string Masked = "••••••";

    [GeneratedRegex("password|secret|token", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();

    /// <summary>A password inside a connection string (Host=...;Password=...).</summary>
    [GeneratedRegex(@"(password|pwd)\s*=\s*[^;]*", RegexOptions.IgnoreCase)]
    private static partial Regex InlinePassword();

    /// <summary>
    /// Blanks every value whose name says it is a secret (a file that holds one is only a path, and stays), and passwords in
    /// connection strings.
    /// </summary>
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
