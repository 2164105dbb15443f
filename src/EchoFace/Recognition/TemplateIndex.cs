using EchoFace.Gallery;
using EchoFace.Inference;
using EchoFace.Storage;

namespace EchoFace.Recognition;

/// <summary>
/// The in-memory 1:N index of one modality and model, loaded from the store and kept in step with it. Templates of another model are
/// never compared with this one's vectors: they are counted as stale (they need re-enrolment).
/// </summary>
public sealed class TemplateIndex
{
    private readonly Dictionary<string, string> _names = new();
    private readonly Dictionary<string, List<(long Id, float[] Vector)>> _templates = new();
    private readonly TemplateMode _mode;

    /// <param name="alsoInForce">other models whose templates are in use beside this one's (Face.Fusion): not stale</param>
    public TemplateIndex(GalleryStore store, string modality, string modelId, int dimension, TemplateMode mode,
        IReadOnlyCollection<string>? alsoInForce = null)
    {
        _mode = mode;
        Gallery = new IdentityGallery(dimension);
        foreach (var i in store.ListIdentities()) _names[i.Id] = i.DisplayName;
        foreach (var t in store.LoadTemplates(modality))
        {
            if (t.ModelId != modelId)
            {
                if (alsoInForce?.Contains(t.ModelId) != true) StaleTemplates++;
                continue;
            }
            if (t.Vector.Length != dimension) throw new InvalidOperationException($"template {t.Id} of '{t.IdentityId}' has {t.Vector.Length} values, model {modelId} makes {dimension}");
            Templates(t.IdentityId).Add((t.Id, t.Vector));
        }
        foreach (var id in _templates.Keys) Publish(id);
    }

    public IdentityGallery Gallery { get; }
    public int StaleTemplates { get; }

    public bool Knows(string identityId) => _names.ContainsKey(identityId);
    public string? Name(string identityId) => _names.GetValueOrDefault(identityId);
    public bool HasTemplates(string identityId) => _templates.ContainsKey(identityId);

    public void Added(string identityId, string displayName, IReadOnlyList<long> ids, IReadOnlyList<float[]> vectors)
    {
        _names[identityId] = displayName;
        var list = Templates(identityId);
        for (var i = 0; i < ids.Count; i++) list.Add((ids[i], vectors[i]));
        Gallery.Remove(identityId);
        Publish(identityId);
    }

    public void Removed(string identityId)
    {
        Gallery.Remove(identityId);
        _templates.Remove(identityId);
        _names.Remove(identityId);
    }

    private List<(long, float[])> Templates(string identityId) =>
        _templates.TryGetValue(identityId, out var list) ? list : _templates[identityId] = [];

    private void Publish(string identityId)
    {
        var list = _templates[identityId];
        if (_mode == TemplateMode.Multi)
        {
            foreach (var (id, vector) in list) Gallery.Add(id, identityId, vector);
            return;
        }
        var mean = new float[Gallery.Dimension];
        foreach (var (_, vector) in list) System.Numerics.Tensors.TensorPrimitives.Add(mean, vector, mean);
        Embeddings.Normalize(mean);
        Gallery.Add(list[^1].Id, identityId, mean);
    }
}
