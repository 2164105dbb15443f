using System.Globalization;
using Sylvan.Data.Csv;

namespace EchoFace.Recommend;

/// <summary>Which CSV column holds what: `customer=Member_number,item=itemDescription,time=Date[,amount=..][,rating=..]`.</summary>
public sealed record ColumnMap(string Customer, string Item, string Time, string? Amount = null, string? Rating = null)
{
    /// <summary>The layout of the groceries data set (and the default when no mapping is given).</summary>
    public static readonly ColumnMap Groceries = new("Member_number", "itemDescription", "Date");

    public static ColumnMap Parse(string spec)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0 || eq == part.Length - 1) throw new BadInputException($"column mapping '{part}' is not role=column (roles: customer, item, time, amount, rating)");
            var role = part[..eq].Trim();
            if (role is not ("customer" or "item" or "time" or "amount" or "rating"))
                throw new BadInputException($"column mapping names an unknown role '{role}' (roles: customer, item, time, amount, rating)");
            if (!fields.TryAdd(role, part[(eq + 1)..].Trim())) throw new BadInputException($"column mapping gives '{role}' twice");
        }
        foreach (var required in new[] { "customer", "item", "time" })
            if (!fields.ContainsKey(required)) throw new BadInputException($"column mapping '{spec}' lacks {required}=COLUMN");
        return new(fields["customer"], fields["item"], fields["time"], fields.GetValueOrDefault("amount"), fields.GetValueOrDefault("rating"));
    }

    public override string ToString() =>
        $"customer={Customer},item={Item},time={Time}" + (Amount is null ? "" : $",amount={Amount}") + (Rating is null ? "" : $",rating={Rating}");
}

/// <summary>One purchase line: indexes into <see cref="TransactionSet.Customers"/> and <see cref="TransactionSet.Items"/>.</summary>
public readonly record struct Purchase(int Customer, int Item, DateTime At, float Amount, float Rating);

/// <summary>Purchases in time order over fixed customer and item indexes.</summary>
public sealed class TransactionSet
{
    private readonly Dictionary<string, int> _customerIndex;
    private readonly Dictionary<string, int> _itemIndex;

    public TransactionSet(IReadOnlyList<string> customers, IReadOnlyList<string> items, IEnumerable<Purchase> purchases)
    {
        Customers = customers;
        Items = items;
        Purchases = [.. purchases.OrderBy(p => p.At).ThenBy(p => p.Customer).ThenBy(p => p.Item)];
        _customerIndex = customers.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        _itemIndex = items.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
    }

    public IReadOnlyList<string> Customers { get; }
    public IReadOnlyList<string> Items { get; }
    public Purchase[] Purchases { get; }
    public DateTime First => Purchases.Length == 0 ? default : Purchases[0].At;
    public DateTime Last => Purchases.Length == 0 ? default : Purchases[^1].At;

    public int CustomerIndex(string id) => _customerIndex.GetValueOrDefault(id, -1);
    public int ItemIndex(string name) => _itemIndex.GetValueOrDefault(name, -1);
}

public sealed record MalformedRow(long Line, string Reason);

/// <summary>Malformed rows of one file: counted by reason, the first few kept with their line numbers (both CSV readers use it).</summary>
internal sealed class MalformedRows
{
    private const int ExampleLimit = 20;
    private readonly Dictionary<string, long> _byReason = [];
    private readonly List<MalformedRow> _examples = [];

    public void Add(long line, string reason)
    {
        _byReason[reason] = _byReason.GetValueOrDefault(reason) + 1;
        if (_examples.Count < ExampleLimit) _examples.Add(new(line, reason));
    }

    public string Summary => string.Join("; ", _byReason.Select(kv => $"{kv.Value} x {kv.Key}"));

    public ReadReport Report(string path, long rows, long accepted, string timeFormat) =>
        new(Path.GetFullPath(path), rows, accepted, _byReason.Values.Sum(), _byReason, _examples, timeFormat);
}

/// <summary>What reading a CSV found: every malformed row is counted by reason, the first few kept with their line numbers.</summary>
public sealed record ReadReport(string Path, long Rows, long Accepted, long Malformed, IReadOnlyDictionary<string, long> MalformedByReason,
    IReadOnlyList<MalformedRow> Examples, string TimeFormat);

public static class TransactionReader
{
    /// <summary>Formats tried when none is given; a file that two read equally well is ambiguous and must name one.</summary>
    private static readonly string[] CandidateFormats =
        ["yyyy-MM-dd", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-dd HH:mm:ss", "dd-MM-yyyy", "dd/MM/yyyy", "MM/dd/yyyy", "dd.MM.yyyy", "unix"];

    public static (TransactionSet Set, ReadReport Report) Read(string path, ColumnMap map, string? timeFormat = null)
    {
        if (!File.Exists(path)) throw new BadInputException($"transactions file {path} does not exist");
        using var csv = OpenCsv(path);
        var customerCol = Ordinal(csv, path, map.Customer, "customer");
        var itemCol = Ordinal(csv, path, map.Item, "item");
        var timeCol = Ordinal(csv, path, map.Time, "time");
        var amountCol = map.Amount is null ? -1 : Ordinal(csv, path, map.Amount, "amount");
        var ratingCol = map.Rating is null ? -1 : Ordinal(csv, path, map.Rating, "rating");
        var needed = new[] { customerCol, itemCol, timeCol, amountCol, ratingCol }.Max() + 1;

        var raw = new List<(long Line, string Customer, string Item, string Time, string? Amount, string? Rating)>();
        var bad = new MalformedRows();
        long rows = 0, line = 1;
        while (csv.Read())
        {
            rows++;
            line++;
            if (csv.RowFieldCount < needed) { bad.Add(line, $"{csv.RowFieldCount} fields, the mapping needs {needed}"); continue; }
            string customer = csv.GetString(customerCol).Trim(), item = csv.GetString(itemCol).Trim();
            if (customer.Length == 0) { bad.Add(line, "empty customer"); continue; }
            if (item.Length == 0) { bad.Add(line, "empty item"); continue; }
            raw.Add((line, customer, item, csv.GetString(timeCol).Trim(), amountCol < 0 ? null : csv.GetString(amountCol), ratingCol < 0 ? null : csv.GetString(ratingCol)));
        }
        if (rows == 0) throw new BadInputException($"{path} has a header but no rows");

        var format = timeFormat ?? DetectTimeFormat(path, map.Time, raw.Select(r => r.Time));
        var customers = new Dictionary<string, int>(StringComparer.Ordinal);
        var items = new Dictionary<string, int>(StringComparer.Ordinal);
        var purchases = new List<Purchase>(raw.Count);
        foreach (var r in raw)
        {
            if (!TryParseTime(r.Time, format, out var at)) { bad.Add(r.Line, $"time '{Clip(r.Time)}' is not {format}"); continue; }
            var amount = 1f;
            if (r.Amount is not null && (!float.TryParse(r.Amount, NumberStyles.Float, CultureInfo.InvariantCulture, out amount) || !float.IsFinite(amount) || amount < 0))
            { bad.Add(r.Line, $"amount '{Clip(r.Amount)}' is not a non-negative number"); continue; }
            var rating = float.NaN;
            if (r.Rating is not null && !string.IsNullOrWhiteSpace(r.Rating) &&
                (!float.TryParse(r.Rating, NumberStyles.Float, CultureInfo.InvariantCulture, out rating) || !float.IsFinite(rating)))
            { bad.Add(r.Line, $"rating '{Clip(r.Rating)}' is not a number"); continue; }
            if (!customers.TryGetValue(r.Customer, out var c)) customers[r.Customer] = c = customers.Count;
            if (!items.TryGetValue(r.Item, out var i)) items[r.Item] = i = items.Count;
            purchases.Add(new(c, i, at, amount, rating));
        }
        if (purchases.Count == 0)
            throw new BadInputException($"{path}: none of its {rows} rows could be read ({bad.Summary})");
        var set = new TransactionSet([.. customers.Keys], [.. items.Keys], purchases);
        return (set, bad.Report(path, rows, purchases.Count, format));
    }

    internal static CsvDataReader OpenCsv(string path)
    {
        try
        {
            var csv = CsvDataReader.Create(path, new CsvDataReaderOptions { HasHeaders = true });
            if (csv.FieldCount == 0) throw new BadInputException($"{path} has no header row");
            return csv;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CsvFormatException)
        {
            throw new BadInputException($"{path} cannot be read as CSV: {e.Message}", e);
        }
    }

    internal static int Ordinal(CsvDataReader csv, string path, string column, string role)
    {
        for (var i = 0; i < csv.FieldCount; i++)
            if (string.Equals(csv.GetName(i), column, StringComparison.Ordinal)) return i;
        var header = string.Join(", ", Enumerable.Range(0, csv.FieldCount).Select(csv.GetName));
        throw new BadInputException($"{path} has no column '{column}' for the {role} (its columns: {header})");
    }

    /// <summary>The format that reads the most of the first values (a few bad times are malformed rows, not a reason to guess another format).</summary>
    private static string DetectTimeFormat(string path, string column, IEnumerable<string> values)
    {
        var sample = values.Take(2000).ToList();
        var counts = CandidateFormats.Select(f => (Format: f, Count: sample.Count(v => TryParseTime(v, f, out _)))).ToList();
        var best = counts.Max(c => c.Count);
        var fits = counts.Where(c => c.Count == best).Select(c => c.Format).ToList();
        if (best == 0)
            throw new BadInputException(
                $"{path}: column '{column}' holds times in no format tried ({string.Join(", ", CandidateFormats)}); give one with --time-format (e.g. \"{Clip(sample.FirstOrDefault() ?? "")}\")");
        if (fits.Count > 1) throw new BadInputException($"{path}: column '{column}' parses as {string.Join(" and ", fits)}: give --time-format to say which");
        return fits[0];
    }

    internal static bool TryParseTime(string value, string format, out DateTime at)
    {
        if (format == "unix")
        {
            at = default;
            if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) || s < 0 || s > 253402300799) return false;
            at = DateTimeOffset.FromUnixTimeSeconds(s).UtcDateTime;
            return true;
        }
        return DateTime.TryParseExact(value, format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out at);
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
