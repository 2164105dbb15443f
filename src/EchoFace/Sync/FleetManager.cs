using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EchoFace.Sync;

/// <summary>One device's answer to a fleet request: applied, refused, stale, ... or "no answer" within the wait.</summary>
public sealed record DeviceAnswer(string Device, string Status, string Count, string Error, string PendingRestart = "", double? AnswerMs = null)
{
    public bool Applied => Status == "applied";
}

/// <summary>
/// What a fleet manager does over the broker (`echoface fleet ...`): list the devices, follow their events, push a desired
/// configuration, copy an identity from one device to others, push recommendation lists. Each request names its devices
/// (one, or every one the site's retained status knows as online) and waits for each one's answer.
/// </summary>
public sealed class FleetManager(FleetClient client, string site) : IAsyncDisposable
{
    public static async Task<FleetManager> ConnectAsync(FleetOptions options, CancellationToken cancel) =>
        new(await FleetClient.ConnectAsync(options, cancel), options.Site);

    public string Site => site;

    /// <summary>Every device's retained status (online or offline, version, uptime), by device name.</summary>
    public async Task<IReadOnlyList<JsonElement>> DevicesAsync(CancellationToken cancel)
    {
        await client.SubscribeAsync(FleetTopics.AllStatus(site), cancel);
        var seen = await client.CollectAsync(TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(10), cancel);
        return [.. seen.GroupBy(m => m.Topic).Select(g => g.Last().Payload).OrderBy(s => Str(s, "device"), StringComparer.Ordinal)];
    }

    /// <summary>Events of one device or all (`+`), each once though QoS 1 may deliver it twice, until <paramref name="stop"/>.</summary>
    public async IAsyncEnumerable<JsonElement> EventsAsync(string device, [EnumeratorCancellation] CancellationToken stop)
    {
        await client.SubscribeAsync(FleetTopics.AllEvents(site, device), stop);
        var seen = new HashSet<string>();
        await using var messages = client.Messages.ReadAllAsync(stop).GetAsyncEnumerator(stop);
        while (true)
        {
            try
            {
                if (!await messages.MoveNextAsync()) yield break;
            }
            catch (OperationCanceledException) { yield break; }
            // a re-send after a lost PUBACK carries the same id
            if (seen.Add(Str(messages.Current.Payload, "id"))) yield return messages.Current.Payload;
        }
    }

    /// <summary>
    /// Publishes a desired configuration (retained) for one device, or the site's group document for every device, and collects
    /// each device's config/reported for that version.
    /// </summary>
    public async Task<IReadOnlyList<DeviceAnswer>> PushConfigAsync(JsonObject settings, string? device, long version, TimeSpan wait,
        CancellationToken cancel)
    {
        settings["version"] = version;
        // who should answer: the one device, or every device the site's retained status knows as online
        IReadOnlyCollection<string> expected = device is null ? await OnlineAsync(cancel) : [device];
        await client.SubscribeAsync(FleetTopics.AllReported(site), cancel);
        await client.PublishRetainedAsync(FleetTopics.Desired(site, device), System.Text.Encoding.UTF8.GetBytes(settings.ToJsonString()), cancel);
        var published = System.Diagnostics.Stopwatch.StartNew();
        var reports = new Dictionary<string, (JsonElement Report, double Ms)>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(wait);
        try
        {
            await foreach (var m in client.Messages.ReadAllAsync(timeout.Token))
            {
                var reported = m.Topic.EndsWith("/config/reported", StringComparison.Ordinal);
                if (!reported || m.Payload.GetProperty("version").GetInt64() != version) continue;
                reports[DeviceOf(m.Topic)] = (m.Payload, published.Elapsed.TotalMilliseconds);
                if (expected.Count > 0 && expected.All(reports.ContainsKey)) break;
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
        return [.. expected.Union(reports.Keys).Order(StringComparer.Ordinal).Select(d => reports.TryGetValue(d, out var r)
            ? new DeviceAnswer(d, Str(r.Report, "status"), "", Str(r.Report, "error"), Str(r.Report, "pendingRestart"), Math.Round(r.Ms, 1))
            : new DeviceAnswer(d, "no answer", "", ""))];
    }

    /// <summary>
    /// Copies an identity: cmd/export on the device that holds it, then enroll/set of its templates (and retail opt-in) on each
    /// target.
    /// </summary>
    public async Task<IReadOnlyList<DeviceAnswer>> CopyIdentityAsync(string identity, string from, IReadOnlyList<string> to, TimeSpan wait,
        CancellationToken cancel)
    {
        if (to.Count == 0) throw new BadInputException("give --to DEVICE (one or more)");
        await client.SubscribeAsync(FleetTopics.DeviceTopic(site, from, "cmd/export/result"), cancel);
        foreach (var t in to) await client.SubscribeAsync(FleetTopics.DeviceTopic(site, t, "enroll/result"), cancel);
        var requestId = Guid.NewGuid().ToString("N");
        await client.PublishAsync(FleetTopics.DeviceTopic(site, from, "cmd/export"), JsonSerializer.SerializeToUtf8Bytes(new { requestId, identity }),
            retain: false, cancel);
        var exported = await WaitForAsync(m => m.Topic.EndsWith("/cmd/export/result", StringComparison.Ordinal)
                                               && Str(m.Payload, "requestId") == requestId, wait, cancel)
                       ?? throw new ToolException($"{from} did not answer the export of '{identity}' within {wait.TotalSeconds:F0} s " +
                                                  "(is it online? `echoface fleet devices`)");
        if (Str(exported.Payload, "status") != "done") throw new BadInputException($"{from} refused the export: {Str(exported.Payload, "error")}");
        var set = new JsonObject
        {
            ["requestId"] = requestId, ["action"] = "upsert",
            ["identity"] = JsonNode.Parse(exported.Payload.GetProperty("identity").GetRawText()),
            ["templates"] = JsonNode.Parse(exported.Payload.GetProperty("templates").GetRawText()),
        };
        if (Str(exported.Payload, "customer") is { Length: > 0 } customer) set["customer"] = customer; // the retail opt-in goes along
        foreach (var t in to)
            await client.PublishAsync(FleetTopics.DeviceTopic(site, t, "enroll/set"), System.Text.Encoding.UTF8.GetBytes(set.ToJsonString()),
                retain: false, cancel);
        return await AnswersAsync(to, "enroll/result", requestId, "templates", wait, cancel);
    }

    /// <summary>Sends per-customer lists to one device or every online one; each applies the set whole (newer versions only) and answers.</summary>
    public async Task<IReadOnlyList<DeviceAnswer>> PushRecommendationsAsync(RecommendationSet set, string? device, TimeSpan wait,
        CancellationToken cancel)
    {
        var targets = device is null ? [.. (await OnlineAsync(cancel)).Order(StringComparer.Ordinal)] : new List<string> { device };
        if (targets.Count == 0) throw new ToolException($"no device of site {site} is online (`echoface fleet devices`)");
        var payload = set.Encode();
        foreach (var t in targets) await client.SubscribeAsync(FleetTopics.DeviceTopic(site, t, "recommendations/result"), cancel);
        foreach (var t in targets) await client.PublishAsync(FleetTopics.DeviceTopic(site, t, "recommendations/set"), payload, retain: false, cancel);
        return await AnswersAsync(targets, "recommendations/result", set.RequestId, "customers", wait, cancel);
    }

    private async Task<HashSet<string>> OnlineAsync(CancellationToken cancel)
    {
        await client.SubscribeAsync(FleetTopics.AllStatus(site), cancel);
        return (await client.CollectAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), cancel))
            .Where(m => Str(m.Payload, "state") == "online").Select(m => Str(m.Payload, "device")).ToHashSet();
    }

    /// <summary>Each target's answer to one request on its result topic (waiting up to <paramref name="wait"/> for each).</summary>
    private async Task<IReadOnlyList<DeviceAnswer>> AnswersAsync(IReadOnlyList<string> targets, string resultTopic, string? requestId,
        string countField, TimeSpan wait, CancellationToken cancel)
    {
        var answers = new Dictionary<string, JsonElement>();
        while (answers.Count < targets.Count)
        {
            var a = await WaitForAsync(m => m.Topic.EndsWith("/" + resultTopic, StringComparison.Ordinal) && Str(m.Payload, "requestId") == requestId,
                wait, cancel);
            if (a is null) break;
            answers[DeviceOf(a.Topic)] = a.Payload;
        }
        return [.. targets.Select(t => answers.TryGetValue(t, out var a)
            ? new DeviceAnswer(t, Str(a, "status"), Str(a, countField), Str(a, "error"))
            : new DeviceAnswer(t, "no answer", "", ""))];
    }

    private async Task<FleetMessage?> WaitForAsync(Func<FleetMessage, bool> match, TimeSpan wait, CancellationToken cancel)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(wait);
        try
        {
            await foreach (var m in client.Messages.ReadAllAsync(limit.Token))
                if (match(m)) return m;
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
        return null;
    }

    /// <summary>echoface/SITE/DEVICE/...: the device's name in a topic.</summary>
    private static string DeviceOf(string topic) => topic.Split('/')[2];

    /// <summary>A field of a device's JSON as text ("" when absent): devices are peers that may send less than asked.</summary>
    public static string Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString()! : v.ToString()
            : "";

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
