using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using EchoFace.Face;
using EchoFace.Media;
using EchoFace.Storage;
using Microsoft.Extensions.Logging;
using SkiaSharp;

namespace EchoFace.Access;

/// <summary>
/// The picture behind each door decision: the presence's best frame with the face boxed, its landmarks, a label (who, outcome,
/// reason) and the aligned crop, as a JPEG named in the decision's event, so an operator can look rather than read. Sealed at rest
/// like the templates (AES-256-GCM under a key derived from the template key, the name as associated data), owner-only, and only
/// the newest <c>Access.SnapshotKeep</c> kept. Retail writes none.
/// </summary>
public sealed partial class DecisionSnapshots(string directory, TemplateCipher templateKey, Func<int> keep, ILogger logger)
{
    private const string Suffix = ".sealed", FaceSuffix = ".face.sealed";
    private readonly TemplateCipher _cipher = new(templateKey.DeriveKey("echoface decision snapshots"));

    public string Directory { get; } = directory;

    /// <summary>The storage's state: snapshots are the first writes to stop when space runs low, and report their failures to it.</summary>
    public StorageGuard? Guard { get; init; }

    public bool Writable => Guard?.SnapshotsAllowed ?? true;

    /// <summary>The store of a data directory (its snapshots/ folder), as the daemon writes it and the CLI reads it.</summary>
    public static DecisionSnapshots In(string dataDirectory, TemplateCipher templateKey, Func<int> keep, ILogger logger,
        StorageGuard? guard = null) =>
        new(Path.Combine(dataDirectory, "snapshots"), templateKey, keep, logger) { Guard = guard };

    [GeneratedRegex(@"^\d{8}T\d{9}Z-t\d+\.jpg$")]
    private static partial Regex Name();

    /// <summary>A name this store could have written (anything else, a path included, is refused before touching the disk).</summary>
    public static bool IsName(string name) => Name().IsMatch(name);

    /// <summary>The names kept, oldest first.</summary>
    public IReadOnlyList<string> List() =>
        System.IO.Directory.Exists(Directory)
            ? [.. System.IO.Directory.GetFiles(Directory, "*" + Suffix).Select(f => Path.GetFileName(f)[..^Suffix.Length]).Where(IsName).Order(StringComparer.Ordinal)]
            : [];

    private const string TimeFormat = "yyyyMMdd'T'HHmmssfff";

    /// <summary>The name a snapshot taken at <paramref name="at"/> of a track gets (the event carries it before the file is written).</summary>
    public static string NameFor(DateTimeOffset at, int track) => $"{at.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)}Z-t{track}.jpg";

    /// <summary>When a snapshot of that name was taken (UTC).</summary>
    public static DateTime TakenAt(string name) =>
        DateTime.ParseExact(name[..18], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>The JPEG of a snapshot, or null when there is none by that name; a file that does not open under this key is an error naming it.</summary>
    public byte[]? Read(string name) => Open(name, Suffix, name, $"snapshot {name}");

    /// <summary>A sealed file of a snapshot: null for a name that is not one or a missing file; an error naming it when it does not open.</summary>
    private byte[]? Open(string name, string suffix, string sealedAs, string what)
    {
        if (!IsName(name)) return null;
        var path = Path.Combine(Directory, name + suffix);
        if (!File.Exists(path)) return null;
        try { return _cipher.OpenBytes(File.ReadAllBytes(path), sealedAs); }
        catch (CryptographicException)
        {
            throw new InvalidDataException($"{what} does not open with this device's template key (damaged, or sealed under another key)");
        }
    }

    /// <summary>
    /// The face of a snapshot as the camera saw it (no box or label drawn on it), with the context a detector needs around it: what
    /// the console enrols an unknown face from. Null when there is none.
    /// </summary>
    public byte[]? ReadFace(string name) => Open(name, FaceSuffix, name + ".face", $"the face of snapshot {name}");

    /// <summary>The face's box doubled (half its size on every side), unannotated.</summary>
    public static RgbImage FaceRegion(RgbImage frame, BoxF box)
    {
        var (w, h) = (box.X2 - box.X1, box.Y2 - box.Y1);
        return frame.Region((int)(box.X1 - w / 2), (int)(box.Y1 - h / 2), (int)(w * 2), (int)(h * 2));
    }

    /// <summary>Writes the snapshot (whole or not at all) and prunes the oldest; the snapshot's name, or null when it could not be written.</summary>
    public string? Save(RgbImage frame, FaceResult face, string label, bool granted, DateTimeOffset at, int track)
    {
        if (keep() <= 0 || !Writable) return null;
        var name = NameFor(at, track);
        try
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(Directory);
                else System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            byte[] jpeg;
            using (var picture = FaceAnnotator.Render(frame, [new FaceLabel(face, label, granted)])) jpeg = ImageEncoder.Encode(picture, SKEncodedImageFormat.Jpeg);
            using (var region = ImageEncoder.ToBitmap(FaceRegion(frame, face.Box)))
                AtomicFile.Write(Path.Combine(Directory, name + FaceSuffix),
                    _cipher.SealBytes(ImageEncoder.Encode(region, SKEncodedImageFormat.Jpeg), name + ".face"), ownerOnly: true);
            // the picture last: a name listed always has its face beside it
            AtomicFile.Write(Path.Combine(Directory, name + Suffix), _cipher.SealBytes(jpeg, name), ownerOnly: true);
            Prune();
            return name;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Guard?.Failed(e);
            logger.LogWarning("Decision snapshot {Name} not written: {Reason}", name, e.Message);
            return null;
        }
    }

    /// <summary>Deletes the oldest snapshots beyond the number to keep (names sort by time).</summary>
    private void Prune()
    {
        var names = List();
        for (var i = 0; i < names.Count - keep(); i++)
        {
            File.Delete(Path.Combine(Directory, names[i] + Suffix));
            File.Delete(Path.Combine(Directory, names[i] + FaceSuffix));
        }
    }
}
