using System.Net;
using OpenQA.Selenium;
using Xunit.Abstractions;

namespace EchoFace.Tests.WebConsole;

/// <summary>
/// The web console in a real browser against a real daemon on a file camera: what a site operator does, and what a key of a lesser
/// role or a forged form must not be able to do. Screenshots of each page land in the test output (console-screenshots/).
/// </summary>
[Trait("Category", "Slow")]
public class ConsoleBrowserTests(ConsoleDaemon daemon, ITestOutputHelper output) : IClassFixture<ConsoleDaemon>
{
    private static readonly TimeSpan Presence = TimeSpan.FromSeconds(90);

    /// <summary>Reloads the decisions page until a decision of <paramref name="outcome"/> for <paramref name="who"/> shows its picture.</summary>
    private static IWebElement WaitForDecision(ConsoleBrowser b, string outcome, string who, DaemonProcess daemon)
    {
        IWebElement? found = null;
        daemon.Until(() =>
        {
            b.Go($"/console/decisions?outcome={outcome}");
            found = b.All($"li.decision.{outcome}").FirstOrDefault(d => d.Text.Contains(who, StringComparison.Ordinal)
                && d.FindElements(By.CssSelector("img")).Any(i => (long)b.Web.ExecuteScript("return arguments[0].naturalWidth", i)! > 0));
            return found is not null;
        }, $"a {outcome} decision for {who} with its snapshot", Presence);
        return found!;
    }

    [Fact]
    public void An_operator_enrols_from_a_photo_sees_the_grant_and_enrols_an_unknown_face_from_its_snapshot()
    {
        using var b = new ConsoleBrowser(daemon.At);
        b.Go("/console");
        Assert.EndsWith("/console/sign-in", new Uri(b.Web.Url).AbsolutePath); // nothing without a session
        b.Shot("sign-in");
        b.SignIn(daemon.Enrol);
        Assert.Equal("/console", new Uri(b.Web.Url).AbsolutePath);
        var cookie = b.Web.Manage().Cookies.GetCookieNamed("echoface_console");
        Assert.True(cookie is { IsHttpOnly: true, SameSite: "Strict", Expiry: null }, $"session cookie {cookie}");
        b.Shot("dashboard");

        // enrol Jolie from one photo
        b.Go("/console/people");
        b.Find("#id").SendKeys("jolie");
        b.Find("#name").SendKeys("Angelina Jolie");
        b.Find("#photos").SendKeys(daemon.Jolie[0]);
        b.Submit("form.card button[type=submit]");
        Assert.Contains("enrolled", b.Said, StringComparison.Ordinal);
        Assert.Contains("jolie", daemon.People());
        b.Shot("people");

        // enrol Jack Dorsey from a clip of him turning his head: its frontal, left and right frames become templates
        b.Find("#id").SendKeys("dorsey");
        b.Find("#clips").SendKeys(Cli.VideoEnrolCommandTests.Dorsey(TestEnvironment.TempDirectory()));
        b.Submit("form.card button[type=submit]");
        Assert.Contains("dorsey (dorsey) enrolled: 5 face and 0 voice templates added", b.Said, StringComparison.Ordinal);

        // the door lets her in; the decision shows her picture
        WaitForDecision(b, "granted", "Angelina Jolie", daemon.Process);
        b.Shot("decisions");

        // the live view shows the camera's frames (640 x 480) while the dashboard is open
        b.Go("/console");
        Eventually.True(() => (long)b.Web.ExecuteScript("return document.querySelector('img.live').naturalWidth")! == 640,
            "the live view showing a frame");
        b.Shot("dashboard-live");

        // the stranger turned away becomes Jeff Bezos from the door's own picture of him, and is let in at his next presence
        IWebElement? unknown = null;
        daemon.Process.Until(() =>
        {
            b.Go("/console/decisions?person=unknown");
            unknown = b.All("li.decision.denied").FirstOrDefault(d => d.FindElements(By.CssSelector("form input[name=id]")).Count > 0);
            return unknown is not null;
        }, "an unknown face's decision with its enrol form", Presence);
        unknown!.FindElement(By.CssSelector("input[name=id]")).SendKeys("bezos");
        unknown.FindElement(By.CssSelector("input[name=name]")).SendKeys("Jeff Bezos");
        b.Submit(unknown.FindElement(By.CssSelector("button")));
        Assert.Contains("Jeff Bezos (bezos) enrolled", b.Said, StringComparison.Ordinal);
        WaitForDecision(b, "granted", "Jeff Bezos", daemon.Process);

        // his person page: the template came from the snapshot, and the audit names the console's key
        b.Go("/console/people/bezos");
        Assert.Contains("snapshot", b.Find("main").Text, StringComparison.Ordinal);
        Assert.Contains(b.All(".audit li"), a => a.Text.Contains("\"console\"", StringComparison.Ordinal));
        b.Shot("person");
    }

    [Fact]
    public void Bad_uploads_and_forged_or_stale_forms_get_a_message_and_change_nothing()
    {
        using var b = new ConsoleBrowser(daemon.At);
        b.SignIn(daemon.Enrol);
        var before = daemon.People();

        // not an image: the upload checks refuse it by its first bytes
        var text = Path.Combine(TestEnvironment.TempDirectory(), "notes.jpg");
        File.WriteAllText(text, "this is not a photo");
        b.Go("/console/people");
        b.Find("#id").SendKeys("notes");
        b.Find("#photos").SendKeys(text);
        b.Submit("form.card button[type=submit]");
        Assert.Contains("not an image", b.Said, StringComparison.Ordinal);
        b.Shot("people-bad-upload");

        // over Media.MaxBytes: refused by its size before it is decoded
        var big = Path.Combine(TestEnvironment.TempDirectory(), "big.jpg");
        File.WriteAllBytes(big, [0xFF, 0xD8, 0xFF, .. new byte[ConsoleDaemon.MaxBytes + 1]]);
        b.Find("#id").SendKeys("big");
        b.Find("#photos").SendKeys(big);
        b.Submit("form.card button[type=submit]");
        Assert.Contains("over the limit", b.Said, StringComparison.Ordinal);

        // no face in it: enrolment's own checks
        b.Find("#id").SendKeys("nobody");
        var grey = TestEnvironment.Ffmpeg(Path.Combine(TestEnvironment.TempDirectory(), "wall.png"),
            "-f", "lavfi", "-i", "color=gray:s=320x240", "-frames:v", "1");
        b.Find("#photos").SendKeys(grey);
        b.Submit("form.card button[type=submit]");
        Assert.Contains("face", b.Said, StringComparison.Ordinal);

        // a form without its anti-forgery token (forged, or from a session that ended) is refused before it runs
        b.Go("/console/people");
        b.Web.ExecuteScript("document.querySelectorAll('input[name=__RequestVerificationToken]').forEach(e => e.remove())");
        b.Find("#id").SendKeys("forged");
        b.Find("#photos").SendKeys(daemon.Jolie[3]);
        b.Submit("form.card button[type=submit]");
        Assert.Contains("anti-forgery", b.Find("main").Text, StringComparison.Ordinal);
        b.Shot("forged-form");

        // an unknown person, and removal without the confirmation
        b.Go("/console/people/no-such-person");
        Assert.Contains("There is no person", b.Find("main").Text, StringComparison.Ordinal);
        Assert.Equal(before, daemon.People());
    }

    [Fact]
    public void A_read_key_sees_the_door_but_cannot_enrol_unlock_or_see_pictures_even_with_a_valid_form()
    {
        using var b = new ConsoleBrowser(daemon.At);
        b.SignIn(daemon.Read);
        b.Go("/console/people");
        Assert.Empty(b.All("#photos")); // hidden...
        Assert.Empty(b.All("a[href='/console/settings']"));
        // ...and refused server-side: a form built with this session's own valid token (from the sign-out form)
        b.Web.ExecuteScript("""
            const f = document.createElement('form'); f.method = 'post'; f.action = '/console/people'; f.enctype = 'multipart/form-data';
            f.innerHTML = '<input name="id" value="intruder">';
            f.appendChild(document.querySelector('form.signout input[name=__RequestVerificationToken]').cloneNode());
            document.body.appendChild(f); f.submit();
            """);
        Eventually.True(() => new Uri(b.Web.Url).AbsolutePath == "/console/denied", "the denied page");
        Assert.Contains("may not do that", b.Find("main").Text, StringComparison.Ordinal);
        b.Shot("denied");
        Assert.DoesNotContain("intruder", daemon.People());

        b.Go("/console/door");
        Assert.Empty(b.All("#reason"));
        b.Go("/console/decisions");
        Assert.Empty(b.All("li.decision img"));
        b.Go("/console/settings");
        Assert.Equal("/console/denied", new Uri(b.Web.Url).AbsolutePath);

        // snapshots are served to enrol keys and up only, whatever the URL
        var name = Directory.GetFiles(Path.Combine(daemon.Cli.DataDirectory, "snapshots"), "*.jpg.sealed").Select(Path.GetFileName).FirstOrDefault();
        if (name is not null)
        {
            b.Go($"/console/snapshots/{name[..^".sealed".Length]}");
            Assert.Equal("/console/denied", new Uri(b.Web.Url).AbsolutePath);
        }
    }

    [Fact]
    public void An_admin_unlocks_the_door_with_a_reason_and_a_revoked_key_ends_its_session()
    {
        var key = daemon.Key("admin");
        using var b = new ConsoleBrowser(daemon.At);
        b.SignIn(key);
        b.Go("/console/door");
        b.Find("main form button").Click(); // no reason: the browser's own check stops it
        Assert.Equal("/console/door", new Uri(b.Web.Url).AbsolutePath);
        b.Find("#reason").SendKeys("delivery at the back door");
        b.Submit("main form button");
        b.Shot("door");
        Assert.Contains("the door is unlocked", b.Said, StringComparison.Ordinal);
        b.Go("/console/settings");
        Assert.Contains("Fleet", b.Find("main").Text, StringComparison.Ordinal);
        b.Shot("settings");

        // a live section edited here: applied at once and kept; an invalid value changes nothing
        void Edit(string script)
        {
            b.Go("/console/settings");
            b.Web.ExecuteScript($"const t = document.querySelector('#json-Access'); t.closest('details').open = true; {script}");
            b.Submit(b.Find("#json-Access").FindElement(By.XPath("./ancestor::form")).FindElement(By.CssSelector("button")));
        }
        Edit("const o = JSON.parse(t.value); o.SnapshotKeep = 400; t.value = JSON.stringify(o);");
        Assert.Contains("Access applied", b.Said, StringComparison.Ordinal);
        Edit("t.value = '{\"SnapshotKeep\": \"many\"}';");
        Assert.Contains("not applied", b.Said, StringComparison.Ordinal);
        b.Go("/console/settings");
        Assert.Contains("\"SnapshotKeep\": 400", b.Find("#json-Access").GetAttribute("value"), StringComparison.Ordinal);

        var id = key.Split('_')[1];
        Assert.Equal(0, daemon.Cli.Run("api-key", "revoke", id).ExitCode);
        b.Go("/console/door");
        Assert.Equal("/console/sign-in", new Uri(b.Web.Url).AbsolutePath);
        using var http = new HttpClient { BaseAddress = daemon.At };
        using var health = http.Send(new HttpRequestMessage(HttpMethod.Get, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        output.WriteLine($"screenshots in {ConsoleBrowser.Screenshots}");
    }

    private static readonly string[] Pages =
        ["/console", "/console/people", "/console/people/jolie", "/console/decisions", "/console/door", "/console/settings"];

    [Fact]
    public void Every_page_passes_axe_core_reads_at_360_px_and_signing_in_works_by_keyboard()
    {
        using var b = new ConsoleBrowser(daemon.At, phone: true);
        b.Go("/console/sign-in");
        Assert.Empty(b.AxeViolations());
        // by keyboard alone: skip link, the key, the button
        var body = b.Find("body");
        body.SendKeys(Keys.Tab);
        Assert.Equal("skip", b.Web.SwitchTo().ActiveElement().GetAttribute("class"));
        b.Web.SwitchTo().ActiveElement().SendKeys(Keys.Tab);
        Assert.Equal("key", b.Web.SwitchTo().ActiveElement().GetAttribute("id"));
        b.Web.SwitchTo().ActiveElement().SendKeys(daemon.Admin + Keys.Enter);
        Eventually.True(() => new Uri(b.Web.Url).AbsolutePath == "/console", "signed in by keyboard");
        foreach (var page in Pages)
        {
            b.Go(page);
            var name = page == "/console" ? "dashboard" : page.Replace("/console/", "", StringComparison.Ordinal).Replace('/', '-');
            b.Shot($"360px-{name}");
            var violations = b.AxeViolations();
            Assert.True(violations.Count == 0, $"{page}: {string.Join("; ", violations)}");
            Assert.Equal(360L, (long)b.Web.ExecuteScript("return document.documentElement.clientWidth")!);
            Assert.True(b.ScrollWidth <= 360, $"{page} is {b.ScrollWidth} px wide at 360 px, it scrolls sideways: {b.Overflowing}");
            output.WriteLine($"{page}: {b.PageBytes} bytes, first contentful paint {b.FirstContentfulPaintMs:F0} ms");
        }
    }
}
