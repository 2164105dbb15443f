using System.Net;
using System.Text.RegularExpressions;
using EchoFace.Api;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Storage;
using EchoFace.WebConsole;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.WebConsole;

/// <summary>A console session in the daemon's own host on a fake clock: it slides while used and ends after its idle time.</summary>
[Trait("Category", "Slow")]
public partial class ConsoleSessionTests
{
    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex Token();

    [Fact]
    public async Task A_session_ends_after_its_idle_minutes_and_lives_on_while_it_is_used()
    {
        var dir = TestEnvironment.TempDirectory();
        var port = FreePort.Next();
        var config = new EchoFaceConfig();
        (config.Camera.Source, config.Door.Board, config.Health.Listen) = ("none", "simulated", $"http://127.0.0.1:{port}");
        config.Api.ConsoleSessionMinutes = 30;
        config.Validate();
        var location = new EngineLocation(dir, TestEnvironment.ModelsDirectory);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        string key;
        using (var keys = new ApiKeyStore(location.Database(config))) key = keys.Create(ApiRole.Read, "session test").Key;
        await using var app = DaemonHost.Build(config, location, new RunRequest(Once: false),
            s => s.AddSingleton<TimeProvider>(clock), [new ConsoleSite(config)]);
        await app.StartAsync();
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() };
        using var http = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var page = await http.GetStringAsync("/console/sign-in");
        using var signIn = await http.PostAsync("/console/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["key"] = key, ["__RequestVerificationToken"] = Token().Match(page).Groups[1].Value,
        }));
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);

        async Task<bool> SignedIn()
        {
            using var r = await http.GetAsync("/console/door");
            if (r.StatusCode == HttpStatusCode.OK) return true;
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.Contains("/console/sign-in", r.Headers.Location!.ToString(), StringComparison.Ordinal);
            return false;
        }
        Assert.True(await SignedIn());
        // used every 20 minutes, it slides on past its 30
        for (var i = 0; i < 3; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(20));
            Assert.True(await SignedIn(), $"signed out after {20 * (i + 1)} minutes of use");
        }
        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.False(await SignedIn());
        await app.StopAsync();
    }
}
