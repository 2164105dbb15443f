using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EchoFace.Fleet;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Fleet;

/// <summary>`fleet serve --listen`: the read API with the device API's keys and problems, its OpenAPI document, the collector's health.</summary>
[Trait("Category", "Slow")]
public sealed class FleetApiTests : IDisposable
{
    private readonly PostgresCluster _pg = new();
    private readonly Mosquitto _broker = new();
    private readonly CliRunner _cli = new();

    public void Dispose()
    {
        _broker.Dispose();
        _pg.Dispose();
    }

    [Fact]
    public async Task Stored_events_and_devices_over_an_authenticated_API()
    {
        var key = _cli.Run("api-key", "create", "--role", "read", "--json").Json.GetProperty("key").GetString()!;
        var port = FreePort.Next();
        using var server = new CollectorTests.CollectorProcess(_broker.Url(), _pg.ConnectionString, "api-1", "--listen", $"http://127.0.0.1:{port}",
            "--data", _cli.DataDirectory);
        await using (var store = new FleetStore(FleetStore.Open(_pg.ConnectionString), 10))
            await store.WriteAsync([FleetStoreTests.Status("door-a"), FleetStoreTests.Event("door-a", Ulid.NewUlid().ToString()),
                FleetStoreTests.Event("door-a", Ulid.NewUlid().ToString(), "denied")], "c1", default);
        await using (var db = FleetStore.Open(_pg.ConnectionString))
            await PeopleRegistry.EnrollAsync(db, "ann", "Ann", "default", null, [new FleetTemplate("fr_feature", "v1", 0.9f, "a.jpg", [1f, 0f])], default);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Eventually.True(() => http.GetAsync("/healthz").Result.StatusCode == HttpStatusCode.OK, "healthy", context: () => server.Log);

        var anonymous = await http.GetAsync("/v1/fleet/events");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var denied = JsonDocument.Parse(await http.GetStringAsync("/v1/fleet/events?outcome=denied&since=2026-11-30T00:00:00Z")).RootElement;
        Assert.Equal("denied", Assert.Single(denied.EnumerateArray()).GetProperty("outcome").GetString());
        var devices = JsonDocument.Parse(await http.GetStringAsync("/v1/fleet/devices")).RootElement;
        Assert.Equal("door-a", Assert.Single(devices.EnumerateArray()).GetProperty("device").GetString());
        var people = JsonDocument.Parse(await http.GetStringAsync("/v1/fleet/people")).RootElement;
        Assert.Equal("Ann", Assert.Single(people.EnumerateArray()).GetProperty("name").GetString());
        var ann = JsonDocument.Parse(await http.GetStringAsync("/v1/fleet/people/ann")).RootElement;
        Assert.Equal("door-a", Assert.Single(ann.GetProperty("devices").EnumerateArray()).GetProperty("device").GetString());
        var nobody = await http.GetAsync("/v1/fleet/people/nobody");
        Assert.Equal(HttpStatusCode.NotFound, nobody.StatusCode);
        Assert.Contains("unknown person 'nobody'", await nobody.Content.ReadAsStringAsync());
        var status = JsonDocument.Parse(await http.GetStringAsync("/v1/fleet/status")).RootElement;
        Assert.Equal("default", Assert.Single(status.GetProperty("devices").EnumerateArray()).GetProperty("group").GetString());
        var bad = await http.GetAsync("/v1/fleet/events?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("since must be an ISO 8601 time", await bad.Content.ReadAsStringAsync());
        var openapi = await http.GetStringAsync("/openapi.json");
        Assert.Contains("/v1/fleet/events", openapi);
        Assert.Contains("/v1/fleet/people/{id}", openapi);
        Assert.Contains("EchoFace fleet API", openapi);
    }
}
