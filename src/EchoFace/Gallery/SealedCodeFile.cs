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
/// Written here: .NET has no AES-CTR, so the keystream is AES-ECB over block counters. One search at a time per instance: the
/// mapping is kept between searches (mapping afresh faults every page in again, which cost more than decrypting them).
/// </summary>
public sealed class SealedCodeFile : IDisposable
{
    public const int HeaderSize = 80;
    private const int Version = 1, ChunkRows = 2048;
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
    /// <summary>The collection's newest photo when the file last caught up: while it is still the newest, there is nothing to add.</summary>
    public long LastImageId { get; private set; }

    private SealedCodeFile(string path, byte[] key, int dimension, long rows, long lastFaceId, long lastImageId)
    {
        (_path, _key, Dimension, Rows, LastFaceId, LastImageId) = (path, key, dimension, rows, lastFaceId, lastImageId);
        PaddedDimension = TemplateMatrix.PaddedDimension(dimension);
        RecordSize = 16 + PaddedDimension;
    }

    /// <summary>
    /// Opens the file, or starts it (a fresh random salt) when it is missing, of another dimension, unreadable or sealed under another
    /// key: it is rebuilt from the database, never trusted blindly. Only a writer (holding <see cref="TryWriteLock"/>'s lock) may start one.
    /// </summary>
    public static SealedCodeFile Open(string path, string collection, TemplateCipher cipher, int dimension, bool mayRebuild)
    {
        // the keystream's counters are written in the machine's order: every board EchoFace targets (x86-64, ARM64) is little-endian
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("collection code files need a little-endian machine");
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
                    return new SealedCodeFile(path, key, dimension, BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16)),
                        BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24)), BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(64)));
            }
        }
        if (!mayRebuild) return new SealedCodeFile(path, new byte[32], dimension, 0, 0, 0); // nothing usable yet: searches see no rows
        var salt = RandomNumberGenerator.GetBytes(16);
        var fresh = new SealedCodeFile(path, cipher.DeriveKey($"collection-codes|{collection}|{Convert.ToHexStringLower(salt)}"), dimension, 0, 0, 0);
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
        BinaryPrimitives.WriteInt64LittleEndian(h.AsSpan(64), LastImageId);
        return h;
    }

    /// <summary>
    /// Appends faces (ids ascending, above <see cref="LastFaceId"/>) and records the newest photo they came up to; the caller holds
    /// the write lock.
    /// </summary>
    public void Append(IEnumerable<(long FaceId, float[] Vector)> faces, long lastImageId = 0)
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
            Crypt(aes, rows - inChunk, inChunk, buffer.AsSpan(0, bytes), buffer.AsSpan(0, bytes), counters, stream);
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
        if (rows == Rows && lastImageId <= LastImageId) return;
        file.Flush(flushToDisk: true);
        (Rows, LastFaceId, LastImageId) = (rows, last, Math.Max(LastImageId, lastImageId));
        file.Position = 0;
        file.Write(Header(salt));
        file.Flush(flushToDisk: true);
    }

    /// <summary>
    /// The <paramref name="m"/> face ids whose codes score highest against the query (int8 dot product times the row's scale),
    /// scanning the mapped file on every core, 2,048 rows (1 MiB) at a time.
    /// </summary>
    public unsafe (long FaceId, float Score)[] Scan(ReadOnlySpan<float> query, int m)
    {
        if (query.Length != Dimension) throw new ArgumentException($"query has {query.Length} values, the code file holds {Dimension}");
        var rows = Rows;
        if (rows == 0 || m <= 0) return [];
        var q = new sbyte[PaddedDimension];
        TemplateMatrix.Encode(query, q);
        if (_mappedRows != rows) Map(rows);
        return ScanMapped(_start, rows, q, m);
    }

    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private unsafe byte* _start;
    private long _mappedRows;

    /// <summary>Maps the counted rows (again, after an append), read-only.</summary>
    private unsafe void Map(long rows)
    {
        Unmap();
        _map = MemoryMappedFile.CreateFromFile(new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite), null, 0,
            MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(HeaderSize, rows * RecordSize, MemoryMappedFileAccess.Read);
        byte* mapped = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref mapped);
        _start = mapped + _view.PointerOffset;
        _mappedRows = rows;
    }

    private unsafe void Unmap()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        (_view, _map, _mappedRows) = (null, null, 0);
        _start = null;
    }

    public void Dispose() => Unmap();

    /// <summary>A scanning worker's buffers (1 MiB each) and cipher, kept between searches: allocating them per chunk cost more than the scan.</summary>
    private sealed class Worker(byte[] key, int recordSize) : IDisposable
    {
        public readonly byte[] Key = key;
        public readonly Aes Aes = CreateAes(key);
        public readonly byte[] Buffer = new byte[ChunkRows * recordSize], Counters = new byte[ChunkRows * recordSize], Stream = new byte[ChunkRows * recordSize];
        public void Dispose() => Aes.Dispose();
    }

    private static readonly System.Collections.Concurrent.ConcurrentBag<Worker> Idle = [];

    private unsafe (long FaceId, float Score)[] ScanMapped(byte* start, long rows, sbyte[] q, int m)
    {
        var chunks = (int)((rows + ChunkRows - 1) / ChunkRows);
        var partial = new (long, float)[chunks][];
        var next = -1;
        var workers = Math.Min(chunks, Environment.ProcessorCount);
        Parallel.For(0, workers, _ =>
        {
            var worker = TakeWorker();
            try
            {
                for (int c; (c = Interlocked.Increment(ref next)) < chunks;)
                {
                    var first = (long)c * ChunkRows;
                    var count = (int)Math.Min(ChunkRows, rows - first);
                    var bytes = count * RecordSize;
                    Crypt(worker.Aes, first, count, new ReadOnlySpan<byte>(start + first * RecordSize, bytes), worker.Buffer.AsSpan(0, bytes), worker.Counters, worker.Stream);
                    var top = new TemplateMatrix.TopK(m);
                    ref var qref = ref MemoryMarshal.GetArrayDataReference(q);
                    var codes = MemoryMarshal.Cast<byte, sbyte>(worker.Buffer.AsSpan());
                    for (var r = 0; r < count; r++)
                    {
                        var dot = Int8Dot.Dot(ref qref, ref codes[r * RecordSize + 16], PaddedDimension);
                        top.Offer(r, dot * BinaryPrimitives.ReadSingleLittleEndian(worker.Buffer.AsSpan(r * RecordSize + 8)));
                    }
                    partial[c] = [.. top.Sorted().Select(h => (BinaryPrimitives.ReadInt64LittleEndian(worker.Buffer.AsSpan(h.Row * RecordSize)), h.Score))];
                }
            }
            finally
            {
                Idle.Add(worker);
            }
        });
        return [.. partial.SelectMany(p => p).OrderByDescending(p => p.Item2).Take(m)];
    }

    /// <summary>An idle worker for this file's key (and record size), or a new one.</summary>
    private Worker TakeWorker()
    {
        for (var tries = 0; tries < 4 && Idle.TryTake(out var w); tries++)
        {
            if (w.Key.AsSpan().SequenceEqual(_key) && w.Buffer.Length >= ChunkRows * RecordSize) return w;
            w.Dispose();
        }
        return new Worker(_key, RecordSize);
    }

    private static Aes CreateAes(byte[] key)
    {
        var aes = Aes.Create();
        aes.Key = key;
        return aes;
    }

    /// <summary>
    /// Writes <paramref name="source"/> XOR the keystream of rows [first, first + count) to <paramref name="destination"/>. The
    /// counter of the file's n-th 16-byte block is n (little-endian) then eight zero bytes; a chunk's counters are n0, n0 + 1, ...
    /// </summary>
    private void Crypt(Aes aes, long first, int count, ReadOnlySpan<byte> source, Span<byte> destination, byte[] counters, byte[] stream)
    {
        var bytes = count * RecordSize;
        var lanes = MemoryMarshal.Cast<byte, long>(counters.AsSpan(0, bytes));
        var n0 = first * (RecordSize / 16);
        for (var k = 0; k < lanes.Length; k += 2)
        {
            lanes[k] = n0 + k / 2;
            lanes[k + 1] = 0;
        }
        aes.EncryptEcb(counters.AsSpan(0, bytes), stream.AsSpan(0, bytes), PaddingMode.None);
        System.Numerics.Tensors.TensorPrimitives.Xor<byte>(source, stream.AsSpan(0, bytes), destination);
    }
}
