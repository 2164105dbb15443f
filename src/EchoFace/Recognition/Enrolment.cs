using EchoFace.Face;
using EchoFace.Storage;
using EchoFace.Voice;

namespace EchoFace.Recognition;

/// <summary>What to enrol for one identity: faces and recordings already analysed, by whichever pipeline the caller holds.</summary>
public sealed record EnrolRequest(string IdentityId, string? DisplayName = null, string? Group = null)
{
    public IReadOnlyList<(string Source, IReadOnlyList<FaceResult> Faces)> Faces { get; init; } = [];
    /// <summary>Which face to take when a photo holds several (0 = the main face, the largest in focus); null: exactly one.</summary>
    public int? FaceIndex { get; init; }
    public IReadOnlyList<(string Source, VoiceResult Voice)> Voices { get; init; } = [];
    /// <summary>How the request came (stored in the audit trail beside the sources): the CLI, an API key, the fleet.</summary>
    public object? Via { get; init; }
}

public sealed record EnrolOutcome(string IdentityId, string DisplayName, string Group, IReadOnlyList<long> FaceTemplateIds,
    IReadOnlyList<float> Qualities, IReadOnlyList<long> VoiceTemplateIds, IReadOnlyList<double> SpeechSeconds);

/// <summary>Templates made on another device (fleet sync), per modality; face and voice each replace the identity's own.</summary>
public sealed record ImportRequest(string IdentityId, string? DisplayName, string? Group, IReadOnlyList<NewTemplate> Templates, string AuditDetail)
{
    /// <summary>A retail opt-in that travels with the person: the customer id and its own audit detail.</summary>
    public (string Customer, string AuditDetail)? Customer { get; init; }
}

/// <summary>
/// The one way people enter and leave the gallery, whoever asks (the CLI, the HTTP API, the fleet): every check of every image and
/// recording first, then one transaction, then the in-memory galleries. A refused request leaves the database as it was.
/// </summary>
/// <remarks>A command that enrols one modality passes null for the other, so it never loads the other's models.</remarks>
public sealed class Enrolment(GalleryStore store, FaceRecognizer? faces, VoiceRecognizer? voice)
{
    public const string NoVoiceModels = "voice models are not loaded on this device (`echoface models fetch`, then restart)";
    public const string NoFaceModels = "face models are not loaded here (`echoface models fetch`)";

    /// <summary>The device's storage: while it is full or failing, enrolment and removal are refused before anything is tried.</summary>
    public StorageGuard? Guard { get; init; }

    public EnrolOutcome Enrol(EnrolRequest r) => Guarded(() => EnrolChecked(r));

    private EnrolOutcome EnrolChecked(EnrolRequest r)
    {
        FaceRecognizer.ValidateId(r.IdentityId);
        if (r.Faces.Count == 0 && r.Voices.Count == 0) throw new BadInputException("no images or recordings given to enrol");
        if (r.Voices.Count > 0 && voice is null) throw new BadInputException(NoVoiceModels, BadInputKind.Unsupported);
        if (r.Faces.Count > 0 && faces is null) throw new BadInputException(NoFaceModels, BadInputKind.Unsupported);
        var (name, group) = NameAndGroup(r.IdentityId, r.DisplayName, r.Group);
        var faceTemplates = r.Faces.Count > 0 ? faces!.PrepareEnrol(r.IdentityId, r.Faces, r.FaceIndex) : [];
        var voiceTemplates = r.Voices.Count > 0 ? voice!.PrepareEnrol(r.IdentityId, r.Voices) : [];
        var speech = r.Voices.Select(v => Math.Round(v.Voice.SpeechSeconds, 2)).ToList();
        var ids = store.Enroll(r.IdentityId, name, group, [.. faceTemplates, .. voiceTemplates], GalleryStore.Json(new
        {
            images = r.Faces.Select(f => f.Source), recordings = r.Voices.Select(v => v.Source),
            faceModel = faceTemplates.Count > 0 ? faceTemplates[0].ModelId : null,
            voiceModel = voiceTemplates.Count > 0 ? voiceTemplates[0].ModelId : null,
            speechSeconds = speech, via = r.Via,
        }));
        var faceIds = ids.Take(faceTemplates.Count).ToList();
        var voiceIds = ids.Skip(faceTemplates.Count).ToList();
        if (faceTemplates.Count > 0) faces!.Added(r.IdentityId, name, faceIds, faceTemplates);
        if (voiceTemplates.Count > 0) voice!.Added(r.IdentityId, name, voiceIds, voiceTemplates);
        return new EnrolOutcome(r.IdentityId, name, group, faceIds, [.. faceTemplates.Select(t => t.Quality)], voiceIds,
            [.. r.Voices.Select(v => v.Voice.SpeechSeconds)]);
    }

    /// <summary>
    /// Templates made elsewhere: face templates must be of this device's face model and size, voice templates of its speaker model
    /// (checked against the model in use now: a live model switch changes it). Returns how many templates were stored.
    /// </summary>
    public int Import(ImportRequest r) => Guarded(() => ImportChecked(r));

    private int ImportChecked(ImportRequest r)
    {
        var faceTemplates = r.Templates.Where(t => t.Modality == FaceRecognizer.Modality).ToList();
        var voiceTemplates = r.Templates.Where(t => t.Modality == VoiceRecognizer.Modality).ToList();
        if (r.Templates.Count != faceTemplates.Count + voiceTemplates.Count) throw new BadInputException("template modality must be face or voice");
        if (faceTemplates.Count > 0 && faces is null) throw new BadInputException(NoFaceModels, BadInputKind.Unsupported);
        if (voiceTemplates.Count > 0)
        {
            if (voice is null) throw new BadInputException("voice templates sent, but this device has no voice models loaded");
            if (voiceTemplates.FirstOrDefault(v => v.ModelId != voice.ModelId) is { } wrongModel)
                throw new BadInputException($"voice template of model '{wrongModel.ModelId}': this device uses '{voice.ModelId}'");
            if (voiceTemplates.FirstOrDefault(v => v.Vector.Length != voice.Dimension) is { } wrongSize)
                throw new BadInputException($"voice template has {wrongSize.Vector.Length} values; {voice.ModelId} makes {voice.Dimension}");
        }
        var (name, group) = NameAndGroup(r.IdentityId, r.DisplayName, r.Group);
        var count = 0;
        if (faceTemplates.Count > 0) count += faces!.Import(r.IdentityId, name, group, faceTemplates, r.AuditDetail);
        if (voiceTemplates.Count > 0)
        {
            var ids = store.Replace(r.IdentityId, name, group, voiceTemplates, r.AuditDetail);
            voice!.Forget(r.IdentityId);
            voice.Added(r.IdentityId, name, ids, voiceTemplates);
            count += ids.Count;
        }
        if (r.Customer is { } c) store.LinkCustomer(r.IdentityId, c.Customer, c.AuditDetail);
        return count;
    }

    /// <summary>Adding a modality or templates keeps the identity's name and group unless the request gives new ones.</summary>
    private (string Name, string Group) NameAndGroup(string id, string? name, string? group)
    {
        var existing = name is null || group is null ? store.GetIdentity(id) : null;
        return (name ?? existing?.DisplayName ?? id, group ?? existing?.Group ?? "default");
    }

    /// <summary>Removes the identity with every template (audited with the reason); false when there is no such identity.</summary>
    public bool Remove(string identityId, string reason) => Guarded(() => RemoveChecked(identityId, reason));

    /// <summary>A storage that refuses writes refuses the request whole, with the reason: each store change is one transaction.</summary>
    private T Guarded<T>(Func<T> change)
    {
        if (Guard?.Refusal is { } refusal) throw new BadInputException(refusal, BadInputKind.Storage);
        try { return change(); }
        catch (Exception e) when (StorageGuard.Classify(e) is { } state)
        {
            Guard?.Failed(e);
            throw new BadInputException($"the storage is {StorageGuard.Words(state)} ({e.Message}): nothing was stored",
                e, BadInputKind.Storage);
        }
    }

    private bool RemoveChecked(string identityId, string reason)
    {
        var removed = faces?.Remove(identityId, reason) ?? store.Remove(identityId, GalleryStore.Json(new { reason }));
        if (!removed) return false;
        voice?.Forget(identityId);
        return true;
    }
}
