using System.Security.Cryptography;
using System.Text;

namespace EchoFace.Storage;

/// <summary>
/// Seals biometric templates at rest with AES-256-GCM. The key is a 32-byte file created with mode 0600 on first use;
/// the associated data binds each blob to its identity, modality and model, so a blob moved to another row fails to open.
/// </summary>
public sealed class TemplateCipher
{
    private const int NonceSize = 12, TagSize = 16;
    private readonly byte[] _key;

    public TemplateCipher(byte[] key)
    {
        if (key.Length != 32) throw new ArgumentException($"template key must be 32 bytes, not {key.Length}");
        _key = key;
    }

    public static TemplateCipher FromKeyFile(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var key = RandomNumberGenerator.GetBytes(32);
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                using var stream = new FileStream(path, options);
                stream.Write(key);
                stream.Flush(flushToDisk: true);
                return new TemplateCipher(key);
            }
            catch (IOException) when (File.Exists(path)) { /* another process created it first: read theirs */ }
        }
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != 32) throw new InvalidOperationException($"template key {path} holds {bytes.Length} bytes, not 32: restore it from backup (templates sealed with another key cannot be read)");
        return new TemplateCipher(bytes);
    }

    /// <summary>A 32-byte key for another use of the same secret (HMAC-SHA256 of the purpose), so one key file protects everything.</summary>
    public byte[] DeriveKey(string purpose) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(purpose));

    public byte[] Seal(ReadOnlySpan<float> vector, string associated) => SealBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector), associated);

    public float[] Open(ReadOnlySpan<byte> sealedBlob, string associated)
    {
        if (sealedBlob.Length < NonceSize + TagSize || (sealedBlob.Length - NonceSize - TagSize) % 4 != 0)
            throw new CryptographicException("sealed template has an impossible length");
        var vector = new float[(sealedBlob.Length - NonceSize - TagSize) / 4];
        OpenInto(sealedBlob, System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()), associated);
        return vector;
    }

    /// <summary>Any bytes (a decision snapshot), sealed the same way: nonce, tag, ciphertext.</summary>
    public byte[] SealBytes(ReadOnlySpan<byte> plain, string associated)
    {
        var sealedBlob = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBlob.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var gcm = new AesGcm(_key, TagSize);
        gcm.Encrypt(nonce, plain, sealedBlob.AsSpan(NonceSize + TagSize), sealedBlob.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(associated));
        return sealedBlob;
    }

    public byte[] OpenBytes(ReadOnlySpan<byte> sealedBlob, string associated)
    {
        if (sealedBlob.Length < NonceSize + TagSize) throw new CryptographicException("sealed data is shorter than its nonce and tag");
        var plain = new byte[sealedBlob.Length - NonceSize - TagSize];
        OpenInto(sealedBlob, plain, associated);
        return plain;
    }

    private void OpenInto(ReadOnlySpan<byte> sealedBlob, Span<byte> plain, string associated)
    {
        using var gcm = new AesGcm(_key, TagSize);
        gcm.Decrypt(sealedBlob[..NonceSize], sealedBlob[(NonceSize + TagSize)..], sealedBlob.Slice(NonceSize, TagSize), plain, Encoding.UTF8.GetBytes(associated));
    }
}
