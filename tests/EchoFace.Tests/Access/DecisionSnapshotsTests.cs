using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Media;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Tests.Access;

/// <summary>The decision pictures' store: names, retention, the owner-only folder, and nothing written when keeping none.</summary>
public class DecisionSnapshotsTests
{
    private readonly string _dir = Path.Combine(TestEnvironment.TempDirectory(), "snapshots");
    private int _keep = 3;
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 10, 15, 0, TimeSpan.Zero);

    private DecisionSnapshots Store() => new(_dir, () => _keep, NullLogger.Instance);

    private static FaceResult Face => new(new BoxF(200, 120, 420, 380), 0.9f, [], [], default, 0.9f, null);

    [Fact]
    public void Keeps_the_newest_and_names_only_what_it_could_have_written()
    {
        var store = Store();
        var names = Enumerable.Range(0, 5).Select(i => store.Save(new RgbImage(640, 480), Face, "alice granted face match", true, T0.AddSeconds(i), i + 1)!).ToList();
        Assert.Equal("20261130T101500000Z-t1.jpg", names[0]);
        Assert.Equal(names[2..], Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Null(store.Find(names[0])); // pruned
        Assert.Equal(Path.Combine(_dir, names[4]), store.Find(names[4]));
        Assert.Equal(640, ImageDecoder.DecodeFile(store.Find(names[4])!).Width);
        Assert.False(DecisionSnapshots.IsName("../echoface.db"));
        Assert.False(DecisionSnapshots.IsName("20261130T101500000Z-t1.jpg/../../x"));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));

        _keep = 0;
        Assert.Null(store.Save(new RgbImage(640, 480), Face, "bob denied", false, T0.AddSeconds(9), 9));
        Assert.Equal(3, Directory.GetFiles(_dir).Length);
    }
}
