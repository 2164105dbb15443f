using System.Text;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Data.Sqlite;

namespace EchoFace.Tests.Storage;

[Trait("Category", "Integration")]
public class RecommendationStoreTests
{
    private readonly string _db = Path.Combine(TestEnvironment.TempDirectory(), "echoface.db");

    private static Dictionary<string, IReadOnlyList<ListedItem>> Lists(params (string Customer, string[] Items)[] lists) =>
        lists.ToDictionary(l => l.Customer, l => (IReadOnlyList<ListedItem>)[.. l.Items.Select(i => new ListedItem(i, null))]);

    [Fact]
    public void Replace_drops_lists_the_set_lacks_merge_keeps_them_and_an_older_version_changes_nothing()
    {
        using var store = new RecommendationStore(_db);
        Assert.Null(store.Version);
        Assert.Equal(ListSetOutcome.Applied, store.Apply(5, replace: true, Lists(("a", ["milk"]), ("b", ["tea"]))));
        Assert.Equal(ListSetOutcome.Applied, store.Apply(6, replace: false, Lists(("b", ["coffee", "sugar"]))));
        Assert.Equal(["milk"], store.For("a")!.Items.Select(i => i.Item));
        Assert.Equal(6, store.For("b")!.Version);
        Assert.Equal(ListSetOutcome.Stale, store.Apply(6, replace: true, Lists(("c", ["x"]))));
        Assert.Equal(ListSetOutcome.Stale, store.Apply(3, replace: true, Lists(("c", ["x"]))));
        Assert.Null(store.For("c"));
        Assert.Equal(ListSetOutcome.Applied, store.Apply(9, replace: true, Lists(("c", ["x"]))));
        Assert.Null(store.For("a"));
        Assert.Equal(1, store.Count);
        Assert.Equal(9, store.Version);
    }

    [Fact]
    public void Upgrading_a_version_2_database_keeps_every_outbox_event_and_its_sequence()
    {
        using (var c = new SqliteConnection($"Data Source={_db};Pooling=False"))
        {
            c.Open();
            // the schema as migration 2 left it, with two events (one sent)
            foreach (var sql in new[]
                     {
                         "CREATE TABLE identities(id TEXT PRIMARY KEY, display_name TEXT NOT NULL, grp TEXT NOT NULL DEFAULT 'default', created_at TEXT NOT NULL)",
                         "CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('access', 'alarm', 'fault', 'prompt', 'status', 'telemetry')), door TEXT, payload TEXT NOT NULL, sent_at TEXT)",
                         "INSERT INTO outbox(seq, id, at, kind, payload, sent_at) VALUES (41, 'A', '2026-01-01T00:00:00Z', 'access', '{}', '2026-01-01T00:00:01Z')",
                         "INSERT INTO outbox(seq, id, at, kind, payload) VALUES (50, 'B', '2026-01-01T00:00:02Z', 'alarm', '{}'), (57, 'C', '2026-01-01T00:00:03Z', 'status', '{}')",
                         "DELETE FROM outbox WHERE seq = 57", // retention dropped the newest: its number must still never be reused
                         "CREATE TABLE config_applied(source TEXT PRIMARY KEY CHECK (source IN ('group', 'device')), version INTEGER NOT NULL, " +
                         "document TEXT NOT NULL, applied_at TEXT NOT NULL)",
                         "INSERT INTO config_applied VALUES ('device', 3, '{}', '2026-01-01T00:00:00Z')",
                         "PRAGMA user_version = 2",
                     })
                Database.Execute(c, sql);
        }
        using var outbox = new EventOutbox(_db);
        var before = outbox.Read(includeSent: true);
        Assert.Equal([41L, 50L], before.Select(e => e.Seq));
        Assert.Equal(["A", "B"], before.Select(e => e.Id));
        Assert.NotNull(before[0].SentAt);
        outbox.Append("customer_seen", "shelf", new { customer = "c1" });
        Assert.Equal(58, outbox.LastSeq());
        Assert.Equal(2, outbox.Pending());
        using var configs = new ConfigVersionStore(_db);
        Assert.Equal(3, configs.All().Single().Version); // the fleet's document survives the console's migration
    }

    [Theory]
    [InlineData("{\"version\": 1, \"lists\": {\"c\": \"milk\"}}", "items must be an array")]
    [InlineData("{\"version\": 0, \"lists\": {}}", "version must be a positive integer")]
    [InlineData("{\"version\": 1.5, \"lists\": {}}", "version must be a positive integer")]
    [InlineData("{\"version\": 1, \"mode\": \"append\", \"lists\": {}}", "mode must be")]
    [InlineData("{\"version\": 1}", "lists must be an object")]
    [InlineData("{\"version\": 1, \"lists\": {\"c\": [\"\"]}}", "item name must be")]
    [InlineData("{\"version\": 1, \"lists\": {\"c\": [{\"item\": \"x\", \"score\": \"high\"}]}}", "score must be a number")]
    [InlineData("{\"version\": 1, \"lists\": {}, \"extra\": true}", "unknown key 'extra'")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("{\"version\": 1, \"lists\": {", "malformed JSON")]
    public void Bad_sets_are_rejected_with_the_reason(string json, string expected) =>
        Assert.Contains(expected, Assert.Throws<BadInputException>(() => RecommendationSet.Parse(Encoding.UTF8.GetBytes(json))).Message);

    [Fact]
    public void A_set_survives_encoding_and_parsing()
    {
        var set = new RecommendationSet("r1", 12, false, new Dictionary<string, IReadOnlyList<ListedItem>> { ["c"] = [new("milk", 0.5f), new("tea", null)] });
        var back = RecommendationSet.Parse(set.Encode());
        Assert.Equal(("r1", 12L, false), (back.RequestId, back.Version, back.Replace));
        Assert.Equal(set.Lists["c"], back.Lists["c"]);
        Assert.Contains("over the 16 MiB limit", Assert.Throws<BadInputException>(() => RecommendationSet.Parse(new byte[RecommendationSet.MaxBytes + 1])).Message);
    }
}
