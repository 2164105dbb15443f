using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EchoFace.Gallery;

public readonly record struct RowHit(int Row, float Score);

/// <summary>
/// N x D unit vectors in one contiguous block, searched by dot product (= cosine).
/// Small galleries are scanned exactly in float32 (TensorPrimitives.Dot). Past <see cref="CoarseScanAbove"/> rows a
/// per-row-scaled int8 copy is scanned first (a quarter of the memory traffic, which bounds a 1M scan) and the best
/// candidates are re-scored exactly. The int8 kernel is hand-written: TensorPrimitives has no int8 dot product.
/// </summary>
public sealed class TemplateMatrix
{
    public const int CoarseScanAbove = 50_000;
    private const int ParallelChunk = 65_536;

    private float[] _rows;
    private sbyte[] _codes;
    private float[] _codeScale;
    private readonly int _paddedDim;

    public int Dimension { get; }
    public int Count { get; private set; }

    public TemplateMatrix(int dimension, int capacity = 256)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension));
        Dimension = dimension;
        _paddedDim = PaddedDimension(dimension);
        _rows = new float[(long)dimension * Math.Max(capacity, 1)];
        _codes = new sbyte[(long)_paddedDim * Math.Max(capacity, 1)];
        _codeScale = new float[Math.Max(capacity, 1)];
    }

    public ReadOnlySpan<float> Row(int i) => _rows.AsSpan(i * Dimension, Dimension);

    public void EnsureCapacity(int rows)
    {
        if (rows <= _codeScale.Length) return;
        var n = Math.Max(rows, _codeScale.Length * 2);
        Array.Resize(ref _rows, checked(n * Dimension));
        Array.Resize(ref _codes, checked(n * _paddedDim));
        Array.Resize(ref _codeScale, n);
    }

    public int Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension) throw new ArgumentException($"vector has {vector.Length} values, the gallery holds {Dimension}");
        EnsureCapacity(Count + 1);
        var i = Count++;
        Set(i, vector);
        return i;
    }

    /// <summary>Removes row i by moving the last row into its place; returns the index that moved (or -1).</summary>
    public int RemoveAt(int i)
    {
        var last = Count - 1;
        if (i != last) Set(i, Row(last));
        Count--;
        return i != last ? last : -1;
    }

    private void Set(int i, ReadOnlySpan<float> v)
    {
        v.CopyTo(_rows.AsSpan(i * Dimension, Dimension));
        _codeScale[i] = Encode(v, _codes.AsSpan(i * _paddedDim, _paddedDim));
    }

    /// <summary>Rows padded to a multiple of 32 values, as the int8 kernel reads them.</summary>
    public static int PaddedDimension(int dimension) => (dimension + 31) / 32 * 32;

    /// <summary>The int8 code of a vector (scaled so its largest value is 127, the padding zero); returns the factor back to its scale.</summary>
    public static float Encode(ReadOnlySpan<float> v, Span<sbyte> code)
    {
        var max = MathF.Abs(TensorPrimitives.MaxMagnitude(v)); // MaxMagnitude keeps the sign of the element it picks
        var scale = max > 0 ? 127f / max : 1f;
        code.Clear();
        for (var d = 0; d < v.Length; d++) code[d] = (sbyte)Math.Clamp(MathF.Round(v[d] * scale), -127, 127);
        return 1f / scale;
    }

    /// <summary>The k rows most similar to the query, best first.</summary>
    public RowHit[] Search(ReadOnlySpan<float> query, int k)
    {
        if (query.Length != Dimension) throw new ArgumentException($"query has {query.Length} values, the gallery holds {Dimension}");
        if (k <= 0 || Count == 0) return [];
        if (Count <= CoarseScanAbove) return ExactScan(query, 0, Count, k);

        var candidates = CoarseScan(query, Math.Min(Count, 4 * k + 64));
        var exact = new RowHit[candidates.Length];
        for (var c = 0; c < candidates.Length; c++)
            exact[c] = new RowHit(candidates[c].Row, TensorPrimitives.Dot(Row(candidates[c].Row), query));
        Array.Sort(exact, (a, b) => b.Score.CompareTo(a.Score));
        return exact.AsSpan(0, Math.Min(k, exact.Length)).ToArray();
    }

    private RowHit[] ExactScan(ReadOnlySpan<float> query, int from, int to, int k)
    {
        var top = new TopK(k);
        for (var i = from; i < to; i++) top.Offer(i, TensorPrimitives.Dot(_rows.AsSpan(i * Dimension, Dimension), query));
        return top.Sorted();
    }

    private RowHit[] CoarseScan(ReadOnlySpan<float> query, int m)
    {
        var q = new sbyte[_paddedDim];
        Encode(query, q);
        var chunks = (Count + ParallelChunk - 1) / ParallelChunk;
        var partial = new RowHit[chunks][];
        Parallel.For(0, chunks, c =>
        {
            var top = new TopK(m);
            int from = c * ParallelChunk, to = Math.Min(Count, from + ParallelChunk);
            ref var qref = ref MemoryMarshal.GetArrayDataReference(q);
            for (var i = from; i < to; i++)
            {
                var dot = Int8Dot.Dot(ref qref, ref _codes[(long)i * _paddedDim], _paddedDim);
                top.Offer(i, dot * _codeScale[i]);
            }
            partial[c] = top.Sorted();
        });
        var merged = new TopK(m);
        foreach (var p in partial) foreach (var h in p) merged.Offer(h.Row, h.Score);
        return merged.Sorted();
    }

    /// <summary>Keeps the k best (row, score) pairs seen; a min-heap so each offer is O(log k).</summary>
    internal sealed class TopK(int k)
    {
        private readonly PriorityQueue<int, float> _heap = new(k + 1);
        public void Offer(int row, float score)
        {
            if (_heap.Count < k) _heap.Enqueue(row, score);
            else if (_heap.TryPeek(out _, out var worst) && score > worst) _heap.EnqueueDequeue(row, score);
        }
        public RowHit[] Sorted()
        {
            var hits = new RowHit[_heap.Count];
            var i = hits.Length;
            while (_heap.TryDequeue(out var row, out var score)) hits[--i] = new RowHit(row, score);
            return hits;
        }
    }
}
