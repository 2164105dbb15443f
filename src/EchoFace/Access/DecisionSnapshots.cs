using System.Text.RegularExpressions;
using EchoFace.Face;
using EchoFace.Media;
using Microsoft.Extensions.Logging;

namespace EchoFace.Access;

/// <summary>
/// The picture behind each door decision: the presence's best frame with the face boxed, its landmarks, a label (who, outcome,
/// reason) and the aligned crop, as a JPEG named in the decision's event, so an operator can look rather than read. Only the newest
/// <c>Access.SnapshotKeep</c> are kept; the directory is the owner's only (faces are personal data). Retail writes none.
/// </summary>
public sealed partial class DecisionSnapshots(string directory, Func<int> keep, ILogger logger)
{
    public string Directory { get; } = directory;

    [GeneratedRegex(@"^\d{8}T\d{9}Z-t\d+\.jpg$")]
    private static partial Regex Name();

    /// <summary>A name this store could have written (anything else, a path included, is refused before touching the disk).</summary>
    public static bool IsName(string name) => Name().IsMatch(name);

    /// <summary>The file of a snapshot, or null when there is none by that name.</summary>
    public string? Find(string name)
    {
        if (!IsName(name)) return null;
        var path = Path.Combine(Directory, name);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Writes the snapshot (whole or not at all) and prunes the oldest; the file's name, or null when it could not be written.</summary>
    public string? Save(RgbImage frame, FaceResult face, string label, bool granted, DateTimeOffset at, int track)
    {
        if (keep() <= 0) return null;
        var name = $"{at.UtcDateTime:yyyyMMdd'T'HHmmssfff}Z-t{track}.jpg";
        try
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(Directory);
                else System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            FaceAnnotator.Write(frame, [new FaceLabel(face, label, granted)], Path.Combine(Directory, name));
            Prune();
            return name;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Decision snapshot {Name} not written: {Reason}", name, e.Message);
            return null;
        }
    }

    /// <summary>Deletes the oldest snapshots beyond the number to keep (names sort by time).</summary>
    private void Prune()
    {
        var files = System.IO.Directory.GetFiles(Directory, "*.jpg").Where(f => IsName(Path.GetFileName(f))).Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < files.Count - keep(); i++) File.Delete(files[i]);
    }
}
