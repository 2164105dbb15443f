using System.Security.Cryptography;
using EchoFace.Storage;

namespace EchoFace.Tests.Storage;

[Trait("Category", "Integration")]
public class GalleryStoreTests
{
    private static NewTemplate Template(float[] v) => new("face", "fr_feature", "abc", 0.9f, "a.jpg", v);

    [Fact]
    public void Templates_round_trip_and_are_not_stored_in_the_clear()
    {
        var dir = TestEnvironment.TempDirectory();
        var vector = Enumerable.Range(0, 512).Select(i => MathF.Sin(i)).ToArray();
        using (var store = new GalleryStore(Path.Combine(dir, "db"), TemplateCipher.FromKeyFile(Path.Combine(dir, "key"))))
        {
            store.Enroll("alice", "Alice", "staff", [Template(vector)], "{}");
            Assert.Equal(vector, Assert.Single(store.LoadTemplates("face")).Vector);
            var blob = (byte[])new Microsoft.Data.Sqlite.SqliteCommand("SELECT sealed FROM templates", store.Connection).ExecuteScalar()!;
            var plain = System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()).ToArray();
            Assert.DoesNotContain(Convert.ToHexString(plain[..16]), Convert.ToHexString(blob));
        }
        // reopened with the same key file: still readable
        using var again = new GalleryStore(Path.Combine(dir, "db"), TemplateCipher.FromKeyFile(Path.Combine(dir, "key")));
        Assert.Equal(vector, again.LoadTemplates("face")[0].Vector);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_key_file_is_private_to_its_owner()
    {
        var key = Path.Combine(TestEnvironment.TempDirectory(), "sub", "template.key");
        TemplateCipher.FromKeyFile(key);
        Assert.Equal(32, new FileInfo(key).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
    }

    [Fact]
    public void Another_key_or_a_blob_moved_to_another_identity_cannot_be_opened()
    {
        var cipher = new TemplateCipher(RandomNumberGenerator.GetBytes(32));
        var sealedBlob = cipher.Seal([1f, 2f, 3f], "alice|face|m");
        Assert.Equal([1f, 2f, 3f], cipher.Open(sealedBlob, "alice|face|m"));
        Assert.ThrowsAny<CryptographicException>(() => cipher.Open(sealedBlob, "bob|face|m"));
        Assert.ThrowsAny<CryptographicException>(() => new TemplateCipher(RandomNumberGenerator.GetBytes(32)).Open(sealedBlob, "alice|face|m"));
    }

    [Fact]
    public void Remove_deletes_every_template_and_is_audited()
    {
        var dir = TestEnvironment.TempDirectory();
        using var store = new GalleryStore(Path.Combine(dir, "db"), TemplateCipher.FromKeyFile(Path.Combine(dir, "key")));
        store.Enroll("bob", "Bob", "default", [Template([1f]), Template([2f])], "{}");
        Assert.Equal(2, store.GetIdentity("bob")!.FaceTemplates);
        Assert.True(store.Remove("bob", "{\"reason\":\"left\"}"));
        Assert.False(store.Remove("bob", "{}"));
        Assert.Empty(store.LoadTemplates("face"));
        Assert.Equal(["enroll", "remove"], store.Audit("bob").Select(a => a.Action).ToArray());
    }
}
