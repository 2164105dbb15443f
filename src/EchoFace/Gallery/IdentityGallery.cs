using System.Numerics.Tensors;

namespace EchoFace.Gallery;

public sealed class MatchOptions
{
    /// <summary>Cosine similarity at or above which a 1:1 claim is accepted: FAR 1e-2 on photos (0.402) and Yale B (0.415), docs/configuration.md.</summary>
    public float VerifyThreshold { get; set; } = 0.40f;
    /// <summary>Cosine similarity at or above which a 1:N search names someone: stricter than 1:1 because a search has N chances to be wrong (FAR 1e-3: 0.402 on photos, 0.477 on Yale B).</summary>
    public float IdentifyThreshold { get; set; } = 0.45f;
    public int TopK { get; set; } = 5;

    public void Validate()
    {
        if (VerifyThreshold is <= -1 or >= 1) throw new ArgumentException($"Match.VerifyThreshold is a cosine similarity in (-1, 1), not {VerifyThreshold}");
        if (IdentifyThreshold is <= -1 or >= 1) throw new ArgumentException($"Match.IdentifyThreshold is a cosine similarity in (-1, 1), not {IdentifyThreshold}");
        if (TopK is < 1 or > 100) throw new ArgumentException($"Match.TopK must be 1..100, not {TopK}");
    }
}

/// <summary>How several templates of one identity are matched: each on its own (best wins), or their mean as one template.</summary>
public enum TemplateMode { Multi, Average }

public readonly record struct Candidate(string IdentityId, float Score);

/// <summary>The in-memory 1:N gallery of one modality and model: templates as matrix rows, each row labelled with its identity.</summary>
public sealed class IdentityGallery
{
    private readonly TemplateMatrix _matrix;
    private readonly List<(long TemplateId, string IdentityId)> _labels = [];

    public IdentityGallery(int dimension, int capacity = 256) => _matrix = new TemplateMatrix(dimension, capacity);

    public int Dimension => _matrix.Dimension;
    public int TemplateCount => _matrix.Count;
    public int IdentityCount => _labels.Select(l => l.IdentityId).Distinct().Count();

    public void Add(long templateId, string identityId, ReadOnlySpan<float> vector)
    {
        _matrix.Add(vector);
        _labels.Add((templateId, identityId));
    }

    public void EnsureCapacity(int templates) => _matrix.EnsureCapacity(templates);

    public int Remove(string identityId)
    {
        var removed = 0;
        for (var i = _labels.Count - 1; i >= 0; i--)
        {
            if (_labels[i].IdentityId != identityId) continue;
            var moved = _matrix.RemoveAt(i);
            if (moved >= 0) _labels[i] = _labels[moved];
            _labels.RemoveAt(_labels.Count - 1);
            removed++;
        }
        return removed;
    }

    /// <summary>The k most similar identities (each scored by its best template), best first.</summary>
    public Candidate[] Identify(ReadOnlySpan<float> query, int k)
    {
        // ask for enough rows that k distinct identities survive even when some have several templates
        var perIdentity = (int)Math.Ceiling((double)_matrix.Count / Math.Max(1, DistinctEstimate()));
        var hits = _matrix.Search(query, k * Math.Min(perIdentity, 8));
        var best = new List<Candidate>();
        foreach (var h in hits)
        {
            var who = _labels[h.Row].IdentityId;
            if (best.Exists(c => c.IdentityId == who)) continue;
            best.Add(new Candidate(who, h.Score));
            if (best.Count == k) break;
        }
        return [.. best];
    }

    private int _distinct = -1;
    private int _distinctAt = -1;
    /// <summary>Identity count, recounted only when the gallery has changed since the last search.</summary>
    private int DistinctEstimate()
    {
        if (_distinctAt != _labels.Count) { _distinct = IdentityCount; _distinctAt = _labels.Count; }
        return _distinct;
    }

    /// <summary>The best similarity between the query and the identity's templates; null when the identity has none.</summary>
    public float? Verify(string identityId, ReadOnlySpan<float> query)
    {
        float? best = null;
        for (var i = 0; i < _labels.Count; i++)
        {
            if (_labels[i].IdentityId != identityId) continue;
            var s = TensorPrimitives.Dot(_matrix.Row(i), query);
            if (best is null || s > best) best = s;
        }
        return best;
    }
}
