using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using EchoFace.Storage;

namespace EchoFace.Gallery;

/// <summary>
/// A photo collection's faces as int8 codes on disk, sealed with AES-CTR under a key derived from the template key, memory-mapped
/// and decrypted chunk by chunk while it is scanned: a collection larger than memory is searched without holding it, and the file
/// tells a thief no more than the sealed templates do. It is derived from the database (the truth) and only ever appended to:
/// rows are written first, then the header that counts them, so a crash leaves at most an uncounted tail, cut at the next append.
/// Written here: .NET has no AES-CTR, so the keystream is AES-ECB over (row, block) counters.
/// </summary>
public sealed class SealedCodeFile
{
    private const int HeaderSize = 64, Version = 1, ChunkRows = 2048;
    private static readonly byte[] Magic = "EFCODES1"u8.ToArray();

    private readonly string _path;
    private readonly byte[] _key;

    public int Dimension { get; }
    public int PaddedDimension { get; }
    /// <summary>Face id (8 bytes), scale (4), padding (4), then the code: a whole number of AES blocks.</summary>
    public int RecordSize { get; }
    public long Rows { get; private set; }
    /// <summary>The highest face id written: a sync appends the faces after it.</summary>
    public long LastFaceId { get; private set; }

    private SealedCodeFile(string path, byte[] key, int dimension, long rows, long lastFaceId)
    {
        (_path, _key, Dimension, Rows, LastFaceId) = (path, key, dimension, rows, lastFaceId);
        PaddedDimension = TemplateMatrix.PaddedDimension(dimension);
        RecordSize = 16 + PaddedDimension;
    }

    /// <summary>
    /// Opens the file, or starts it (a fresh random salt) when it is missing, of another dimension, unreadable or sealed under another
    /// key: it is rebuilt from the database, never trusted blindly. Only a writer (holding <see cref="WriteLock"/>) may start one.
    /// </summary>
    public static SealedCodeFile Open(string path, string collection, TemplateCipher cipher, int dimension, bool mayRebuild)
    {
        if (File.Exists(path))
        {
            var header = new byte[HeaderSize];
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                if (stream.Length >= HeaderSize) stream.ReadExactly(header);
            if (header.AsSpan(0, 8).SequenceEqual(Magic) && BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8)) == Version
                && BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12)) == dimension)
            {
                var key = cipher.DeriveKey($"collection-codes|{collection}|{Convert.ToHexStringLower(header.AsSpan(32, 16))}");
                if (KeyCheck(key).AsSpan().SequenceEqual(header.AsSpan(48, 16)))
                    return new SealedCodeFile(path, key, dimension, BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16)), BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24)));
            }
        }
        if (!mayRebuild) return new SealedCodeFile(path, new byte[32], dimension, 0, 0); // nothing usable yet: searches see no rows
        var salt = RandomNumberGenerator.GetBytes(16);
        var fresh = new SealedCodeFile(path, cipher.DeriveKey($"collection-codes|{collection}|{Convert.ToHexStringLower(salt)}"), dimension, 0, 0);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var file = new FileStream(path, options);
        file.Write(fresh.Header(salt));
        file.Flush(flushToDisk: true);
        return fresh;
    }

    /// <summary>Held while appending (an advisory lock on a file beside this one): one writer at a time, readers never wait.</summary>
    public static FileStream? TryWriteLock(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        try
        {
            return new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path + ".lock"))
        {
            return null; // held by another process
        }
    }

    private static byte[] KeyCheck(byte[] key)
    {
        using var aes = Aes.Create();
        aes.Key = key;
        return aes.EncryptEcb(new byte[16], PaddingMode.None);
    }

    private byte[] Header(ReadOnlySpan<byte> salt)
    {
        var h = new byte[HeaderSize];
        Magic.CopyTo(h, 0);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(12), Dimension);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(16), Rows);
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(24), LastFaceId);
        salt.CopyTo(h.AsSpan(32));
        KeyCheck(_key).CopyTo(h, 48);
        return h;
    }

    /// <summary>Appends faces (ids ascending, above <see cref="LastFaceId"/>); the caller holds the write lock.</summary>
    public void Append(IEnumerable<(long FaceId, float[] Vector)> faces)
    {
        using var file = new FileStream(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        var salt = new byte[16];
        file.Position = 32;
        file.ReadExactly(salt);
        file.SetLength(HeaderSize + Rows * RecordSize); // an uncounted tail from a crash
        file.Position = file.Length;
        using var aes = Aes.Create();
        aes.Key = _key;
        var buffer = new byte[ChunkRows * RecordSize];
        var stream = new byte[buffer.Length];
        var counters = new byte[buffer.Length];
        long rows = Rows, last = LastFaceId;
        var inChunk = 0;
        void Flush()
        {
            if (inChunk == 0) return;
            var bytes = inChunk * RecordSize;
            Crypt(aes, rows - inChunk, inChunk, buffer.AsSpan(0, bytes), counters, stream);
            file.Write(buffer, 0, bytes);
            inChunk = 0;
        }
        foreach (var (id, vector) in faces)
        {
            if (vector.Length != Dimension) throw new ArgumentException($"face {id} has {vector.Length} values, the code file holds {Dimension}");
            if (id <= last) throw new ArgumentException($"face ids must ascend: {id} after {last}");
            var record = buffer.AsSpan(inChunk * RecordSize, RecordSize);
            record.Clear();
            BinaryPrimitives.WriteInt64LittleEndian(record, id);
            BinaryPrimitives.WriteSingleLittleEndian(record[8..], TemplateMatrix.Encode(vector, MemoryMarshal.Cast<byte, sbyte>(record[16..])));
            (last, rows, inChunk) = (id, rows + 1, inChunk + 1);
            if (inChunk == ChunkRows) Flush();
        }
        Flush();
        if (rows == Rows) return;
        file.Flush(flushToDisk: true);
        (Rows, LastFaceId) = (rows, last);
        file.Position = 0;
        file.Write(Header(salt));
        file.Flush(flushToDisk: true);
    }

    /// <summary>
    /// The <paramref name="m"/> face ids whose codes score highest against the query (int8 dot product times the row's scale),
    /// scanning the mapped file on every core, 2,048 rows (1 MiB) at a time.
    /// </summary>
    public (long FaceId, float Score)[] Scan(ReadOnlySpan<float> query, int m)
    {
        if (query.Length != Dimension) throw new ArgumentException($"query has {query.Length} values, the code file holds {Dimension}");
        var rows = Rows;
        if (rows == 0 || m <= 0) return [];
        var q = new sbyte[PaddedDimension];
        TemplateMatrix.Encode(query, q);
        using var map = MemoryMappedFile.CreateFromFile(new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite), null, 0,
            MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        using var view = map.CreateViewAccessor(HeaderSize, rows * RecordSize, MemoryMappedFileAccess.Read);
        var chunks = (int)((rows + ChunkRows - 1) / ChunkRows);
        var partial = new (long, float)[chunks][];
        Parallel.For(0, chunks,
            () => (Aes: CreateAes(), Buffer: new byte[ChunkRows * RecordSize], Counters: new byte[ChunkRows * RecordSize], Stream: new byte[ChunkRows * RecordSize]),
            (c, _, local) =>
            {
                var first = (long)c * ChunkRows;
                var count = (int)Math.Min(ChunkRows, rows - first);
                var bytes = count * RecordSize;
                view.ReadArray(first * RecordSize, local.Buffer, 0, bytes);
                Crypt(local.Aes, first, count, local.Buffer.AsSpan(0, bytes), local.Counters, local.Stream);
                var top = new TemplateMatrix.TopK(m);
                ref var qref = ref MemoryMarshal.GetArrayDataReference(q);
                var codes = MemoryMarshal.Cast<byte, sbyte>(local.Buffer.AsSpan());
                for (var r = 0; r < count; r++)
                {
                    var record = local.Buffer.AsSpan(r * RecordSize, RecordSize);
                    var dot = TemplateMatrix.DotInt8(ref qref, ref codes[r * RecordSize + 16], PaddedDimension);
                    top.Offer(r, dot * BinaryPrimitives.ReadSingleLittleEndian(record[8..]));
                }
                partial[c] = [.. top.Sorted().Select(h => (BinaryPrimitives.ReadInt64LittleEndian(local.Buffer.AsSpan(h.Row * RecordSize)), h.Score))];
                return local;
            },
            local => local.Aes.Dispose());
        return [.. partial.SelectMany(p => p).OrderByDescending(p => p.Item2).Take(m)];
    }

    private Aes CreateAes()
    {
        var aes = Aes.Create();
        aes.Key = _key;
        return aes;
    }

    /// <summary>XORs the records in place with the keystream of rows [first, first + count): block b of row r is AES(r, b).</summary>
    private void Crypt(Aes aes, long first, int count, Span<byte> records, byte[] counters, byte[] stream)
    {
        var blocks = RecordSize / 16;
        var span = counters.AsSpan(0, count * RecordSize);
        for (var r = 0; r < count; r++)
        for (var b = 0; b < blocks; b++)
        {
            var at = (r * blocks + b) * 16;
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], first + r);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], b);
        }
        aes.EncryptEcb(span, stream.AsSpan(0, span.Length), PaddingMode.None);
        System.Numerics.Tensors.TensorPrimitives.Xor<byte>(records, stream.AsSpan(0, span.Length), records);
    }
}
