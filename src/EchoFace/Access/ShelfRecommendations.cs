using EchoFace.Recommend;
using EchoFace.Storage;

namespace EchoFace.Access;

/// <summary>A recognised, opted-in customer at a shelf camera, as stored in the outbox and shown on the shelf display.</summary>
public sealed record CustomerSeen(
    string Shelf, string Customer, float FaceScore, float FaceThreshold, int Track, int Faces, string Source, long? Version, string? Model,
    bool ColdStart, IReadOnlyList<ListedItem> Items, double FrameToDecisionMs, DateTimeOffset At);

/// <summary>
/// What a recognised customer is shown: the list the fleet pushed for them (`recommendations/set`) when there is one, otherwise the
/// local model's (`recommend train`), otherwise nothing. The fleet's list wins because it is the newer, central decision.
/// </summary>
public sealed class ShelfRecommendations(RecommendationStore synced, RecommenderModel? model, int k)
{
    public RecommenderModel? Model => model;

    public (string Source, long? Version, string? Model, bool ColdStart, IReadOnlyList<ListedItem> Items) For(string customer) => For(customer, k);

    /// <summary>The customer's top <paramref name="k"/> (the one-shot flow's --top-k) from the same sources.</summary>
    public (string Source, long? Version, string? Model, bool ColdStart, IReadOnlyList<ListedItem> Items) For(string customer, int k)
    {
        if (synced.For(customer) is { } list) return ("fleet", list.Version, null, false, [.. list.Items.Take(k)]);
        if (model is null) return ("none", null, null, false, []);
        var r = model.Recommend(customer, k);
        return ("model", r.Version, r.Model, r.ColdStart, [.. r.Items.Select(i => new ListedItem(i.Item, i.Score))]);
    }
}
