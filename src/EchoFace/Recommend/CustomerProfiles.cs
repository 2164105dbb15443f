using System.Globalization;

namespace EchoFace.Recommend;

/// <summary>
/// Per-customer features joined to the transactions by customer id (engagement and interest scores, review sentiment, platform):
/// numeric columns as they are, text columns one-hot over their most frequent values; a missing value is NaN here (the ranker reads it as 0 beside a has-profile flag).
/// </summary>
public sealed class CustomerProfiles
{
    private const int MaxCategories = 12;

    public CustomerProfiles(IReadOnlyList<string> featureNames, IReadOnlyDictionary<string, float[]> byCustomer)
    {
        FeatureNames = featureNames;
        ByCustomer = byCustomer;
    }

    public IReadOnlyList<string> FeatureNames { get; }
    public IReadOnlyDictionary<string, float[]> ByCustomer { get; }

    public static readonly CustomerProfiles None = new([], new Dictionary<string, float[]>());

    /// <summary>Reads a profile CSV; <paramref name="customerColumn"/> holds the id used in the transactions.</summary>
    public static (CustomerProfiles Profiles, ReadReport Report) Read(string path, string customerColumn)
    {
        if (!File.Exists(path)) throw new BadInputException($"profiles file {path} does not exist");
        using var csv = TransactionReader.OpenCsv(path);
        var idCol = TransactionReader.Ordinal(csv, path, customerColumn, "customer id");
        var columns = Enumerable.Range(0, csv.FieldCount).Where(i => i != idCol).ToArray();
        var names = columns.Select(csv.GetName).ToArray();
        var rows = new List<(long Line, string Id, string[] Values)>();
        var bad = new MalformedRows();
        long line = 1, total = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (csv.Read())
        {
            line++;
            total++;
            if (csv.RowFieldCount != csv.FieldCount) { bad.Add(line, $"{csv.RowFieldCount} fields, the header has {csv.FieldCount}"); continue; }
            var id = csv.GetString(idCol).Trim();
            if (id.Length == 0) { bad.Add(line, "empty customer id"); continue; }
            if (!seen.Add(id)) { bad.Add(line, "customer id repeated (the first row is used)"); continue; }
            rows.Add((line, id, columns.Select(c => csv.GetString(c).Trim()).ToArray()));
        }
        if (rows.Count == 0) throw new BadInputException($"{path}: no profile row could be read");

        // a column is numeric when every non-empty value parses; otherwise it is categorical
        var features = new List<string>();
        var encoders = new List<Func<string[], float>>();
        for (var c = 0; c < columns.Length; c++)
        {
            var col = c;
            var values = rows.Select(r => r.Values[col]).Where(v => v.Length > 0).ToList();
            if (values.Count == 0) continue;
            if (values.All(v => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && float.IsFinite(f)))
            {
                features.Add(names[c]);
                encoders.Add(v => float.TryParse(v[col], NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : float.NaN);
                continue;
            }
            foreach (var category in values.GroupBy(v => v, StringComparer.OrdinalIgnoreCase).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                         .Take(MaxCategories).Select(g => g.Key))
            {
                features.Add($"{names[c]}={category}");
                encoders.Add(v => v[col].Length == 0 ? float.NaN : string.Equals(v[col], category, StringComparison.OrdinalIgnoreCase) ? 1f : 0f);
            }
        }
        var byCustomer = rows.ToDictionary(r => r.Id, r => encoders.Select(e => e(r.Values)).ToArray(), StringComparer.Ordinal);
        return (new CustomerProfiles(features, byCustomer),
            bad.Report(path, total, rows.Count, ""));
    }

    /// <summary>The customer's features in <see cref="FeatureNames"/> order, NaN throughout when there is no profile.</summary>
    public float[] For(string customer) =>
        ByCustomer.TryGetValue(customer, out var f) ? f : Enumerable.Repeat(float.NaN, FeatureNames.Count).ToArray();
}
