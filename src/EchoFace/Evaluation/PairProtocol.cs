using System.Globalization;

namespace EchoFace.Evaluation;

/// <summary>One verification pair of a protocol: two images relative to the data folder, whether they are one person, its fold.</summary>
public sealed record FacePair(string A, string B, bool Same, int Fold);

/// <summary>
/// Pair-list protocols (CFP's pairs_fp / pairs_ff, LFW's pairs.txt). Two formats are read:
/// lines <c>relA relB same|different|1|0 [fold]</c>, or LFW's: a first line <c>folds pairsPerFold</c>, then <c>name n1 n2</c> (same person)
/// and <c>name1 n1 name2 n2</c> (different), the files being <c>name/name_000n.jpg</c> and each fold its same then its different pairs.
/// </summary>
public static class PairProtocol
{
    public static IReadOnlyList<FacePair> Read(string file)
    {
        string[] lines;
        try { lines = File.ReadAllLines(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"pair list {file} cannot be read: {e.Message}");
        }
        var rows = lines.Select((l, i) => (Fields: l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries), Line: i + 1))
            .Where(r => r.Fields.Length > 0 && !r.Fields[0].StartsWith('#')).ToList();
        if (rows.Count == 0) throw new BadInputException($"pair list {file} has no pairs");
        var pairs = IsLfwHeader(rows[0].Fields) ? Lfw(file, rows) : Plain(file, rows);
        if (!pairs.Any(p => p.Same) || pairs.All(p => p.Same))
            throw new BadInputException($"pair list {file} needs both same-person and different-person pairs");
        return pairs;
    }

    private static bool IsLfwHeader(string[] f) => f.Length == 2 && int.TryParse(f[0], out _) && int.TryParse(f[1], out _);

    private static List<FacePair> Plain(string file, List<(string[] Fields, int Line)> rows) =>
    [
        .. rows.Select(r =>
        {
            if (r.Fields.Length is not (3 or 4))
                throw new BadInputException($"{file} line {r.Line}: expected `relA relB same|different [fold]`, got {r.Fields.Length} fields");
            var same = r.Fields[2].ToLowerInvariant() switch
            {
                "same" or "1" or "genuine" => true,
                "different" or "0" or "impostor" => false,
                var x => throw new BadInputException($"{file} line {r.Line}: '{x}' is not same|different|1|0"),
            };
            var fold = r.Fields.Length == 4 ? Number(file, r.Line, r.Fields[3], "fold") : 1;
            return new FacePair(r.Fields[0], r.Fields[1], same, fold);
        }),
    ];

    private static List<FacePair> Lfw(string file, List<(string[] Fields, int Line)> rows)
    {
        var folds = Number(file, rows[0].Line, rows[0].Fields[0], "fold count");
        var perFold = Number(file, rows[0].Line, rows[0].Fields[1], "pairs per fold");
        var body = rows.Skip(1).ToList();
        if (body.Count != folds * perFold * 2)
            throw new BadInputException(
                $"{file}: the header says {folds} folds of {perFold} same + {perFold} different pairs, the file has {body.Count}");
        static string Image(string name, string n) => $"{name}/{name}_{int.Parse(n, CultureInfo.InvariantCulture):0000}.jpg";
        return [.. body.Select((r, i) => r.Fields.Length switch
        {
            3 => new FacePair(Image(r.Fields[0], Checked(file, r, 1)), Image(r.Fields[0], Checked(file, r, 2)), true, i / (2 * perFold) + 1),
            4 => new FacePair(Image(r.Fields[0], Checked(file, r, 1)), Image(r.Fields[2], Checked(file, r, 3)), false, i / (2 * perFold) + 1),
            _ => throw new BadInputException($"{file} line {r.Line}: expected `name n1 n2` or `name1 n1 name2 n2`"),
        })];
    }

    private static string Checked(string file, (string[] Fields, int Line) r, int at)
    {
        Number(file, r.Line, r.Fields[at], "image number");
        return r.Fields[at];
    }

    private static int Number(string file, int line, string text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n : throw new BadInputException($"{file} line {line}: {what} '{text}' is not a positive whole number");
}
