using System.Security.Cryptography;
using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Media;
using EchoFace.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Tests.Access;

/// <summary>The decision pictures' store: sealed at rest, names, retention, the owner-only folder, and nothing written when keeping none.</summary>
[Trait("Category", "Integration")]
public class DecisionSnapshotsTests
{
    private readonly string _data = TestEnvironment.TempDirectory();
    private readonly TemplateCipher _key = new(RandomNumberGenerator.GetBytes(32));
    private int _keep = 3;
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 10, 15, 0, TimeSpan.Zero);

    private DecisionSnapshots Store(TemplateCipher? key = null) => DecisionSnapshots.In(_data, key ?? _key, () => _keep, NullLogger.Instance);

    /// <summary>A real photo and a face box on it (the door passes the pipeline's face; the annotation needs only its box here).</summary>
    private static (RgbImage, FaceResult) Photo() =>
        (ImageDecoder.DecodeFile(CliPhoto()), new FaceResult(new BoxF(60, 40, 200, 220), 0.9f, [], [], default, 0.9f, null));

    private static string CliPhoto() => TestEnvironment.Data("faces", "photos", "df_jeff_bezos", "img21.jpg");

    [Fact]
    public void Keeps_the_newest_sealed_and_opens_them_only_under_the_same_key_and_name()
    {
        var store = Store();
        var (frame, face) = Photo();
        var names = Enumerable.Range(0, 5).Select(i => store.Save(frame, face, "bezos granted face match", true, T0.AddSeconds(i), i + 1)!).ToList();
        Assert.Equal("20261130T101500000Z-t1.jpg", names[0]);
        Assert.Equal(names[2..], store.List());
        Assert.Null(store.Read(names[0])); // pruned
        var jpeg = store.Read(names[4])!;
        Assert.Equal(frame.Width, ImageDecoder.Decode(jpeg, names[4]).Width);

        // at rest: no JPEG to be read off the card, and the file opens only as what it was written as
        var file = Path.Combine(store.Directory, names[4] + ".sealed");
        var bytes = File.ReadAllBytes(file);
        Assert.False(bytes.AsSpan().IndexOf(jpeg.AsSpan(0, 64)) >= 0, "the JPEG is in the clear");
        Assert.Throws<InvalidDataException>(() => Store(new TemplateCipher(RandomNumberGenerator.GetBytes(32))).Read(names[4]));
        File.Copy(file, Path.Combine(store.Directory, "20261130T101600000Z-t9.jpg.sealed"));
        Assert.Throws<InvalidDataException>(() => store.Read("20261130T101600000Z-t9.jpg"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(store.Directory));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.False(DecisionSnapshots.IsName("../echoface.db"));
        Assert.False(DecisionSnapshots.IsName("20261130T101500000Z-t1.jpg/../../x"));
        Assert.Null(store.Read("../template.key"));

        _keep = 0;
        Assert.Null(store.Save(frame, face, "bob denied", false, T0.AddSeconds(99), 99));
        Assert.DoesNotContain(store.List(), n => n.Contains("t99"));
    }

    [Fact]
    public void Keeps_the_face_as_the_camera_saw_it_beside_each_picture_and_prunes_both()
    {
        var store = Store();
        var (frame, face) = Photo();
        var names = Enumerable.Range(0, 4).Select(i => store.Save(frame, face, "unknown denied", false, T0.AddSeconds(i), i + 1)!).ToList();
        var crop = ImageDecoder.Decode(store.ReadFace(names[3])!, "face");
        // the box doubled, clamped to the frame: context for the detector, and no box or label drawn over the face
        var expected = DecisionSnapshots.FaceRegion(frame, face.Box);
        Assert.Equal((expected.Width, expected.Height), (crop.Width, crop.Height));
        var centre = ((crop.Height / 2 * crop.Width) + crop.Width / 2) * 3;
        Assert.InRange(Math.Abs(crop.Data[centre] - expected.Data[centre]), 0, 24); // JPEG, not a drawn box
        Assert.Null(store.ReadFace(names[0])); // pruned with its picture
        Assert.Single(Directory.GetFiles(store.Directory, "*.face.sealed"), f => f.Contains(names[1], StringComparison.Ordinal));
        Assert.Equal(3, Directory.GetFiles(store.Directory, "*.face.sealed").Length);
        Assert.Equal(names[1..], store.List());
        Assert.Null(store.ReadFace("../template.key"));
    }
}
