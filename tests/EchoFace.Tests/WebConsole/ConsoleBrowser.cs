using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Chromium;

namespace EchoFace.Tests.WebConsole;

/// <summary>
/// Debian's headless Chromium driven by Selenium through Debian's chromedriver (no download: both come from apt, set-up installs
/// them), with the helpers the console's tests share: sign in, screenshots into the test output, axe-core's check of a page.
/// </summary>
public sealed class ConsoleBrowser : IDisposable
{
    private const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";
    private readonly Uri _at;

    /// <param name="phone">a phone's screen, 360 x 800 CSS pixels (a desktop window cannot be made that narrow)</param>
    public ConsoleBrowser(Uri at, bool phone = false)
    {
        Assert.True(File.Exists(Chromium) && File.Exists(Driver),
            $"Chromium or chromedriver is missing: run {TestEnvironment.SetupCommand} (it installs chromium and chromium-driver)");
        _at = at;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        // root in a container: no sandbox; /dev/shm is small there
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900", "--lang=en-GB");
        if (phone)
            options.EnableMobileEmulation(new ChromiumMobileEmulationDeviceSettings
            {
                Width = 360, Height = 800, PixelRatio = 2, EnableTouchEvents = true,
                UserAgent = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
            });
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver), Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        Web = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        Web.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        Web.Manage().Timeouts().AsynchronousJavaScript = TimeSpan.FromSeconds(30);
    }

    public ChromeDriver Web { get; }

    /// <summary>Where this run's screenshots go: the test output, not the repository.</summary>
    public static string Screenshots { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "console-screenshots")).FullName;

    public void Go(string path) => Web.Navigate().GoToUrl(new Uri(_at, path));


    public IWebElement Find(string css) => Web.FindElement(By.CssSelector(css));
    public IReadOnlyList<IWebElement> All(string css) => Web.FindElements(By.CssSelector(css));

    /// <summary>The text of the page's message (done or error), "" when it shows none.</summary>
    public string Said => string.Join(" ", All(".done, .error").Select(e => e.Text));

    /// <summary>Clicks a form's button and waits for the answer to replace the page (a click may return before the post is answered).</summary>
    public void Submit(IWebElement button)
    {
        var page = Find("html");
        button.Click();
        Eventually.True(() =>
        {
            try { _ = page.TagName; return false; }
            catch (StaleElementReferenceException) { return true; }
        }, "the form's answer", TimeSpan.FromSeconds(60));
    }

    public void Submit(string css) => Submit(Find(css));

    public void SignIn(string key)
    {
        Go("/console/sign-in");
        Find("#key").SendKeys(key);
        Submit("form.card button[type=submit]");
    }

    public void SignOut()
    {
        Submit("form.signout button");
        Assert.Contains("signed out", Find("main").Text, StringComparison.OrdinalIgnoreCase);
    }

    public string Shot(string name)
    {
        var path = Path.Combine(Screenshots, name + ".png");
        Web.GetScreenshot().SaveAsFile(path);
        return path;
    }

    /// <summary>axe-core (npm, tools/console-check) run on the page as it is: the violations, as "rule: nodes" lines.</summary>
    public IReadOnlyList<string> AxeViolations()
    {
        var axe = Path.Combine(TestEnvironment.RepoRoot, "tools", "console-check", "node_modules", "axe-core", "axe.min.js");
        Assert.True(File.Exists(axe), $"axe-core is missing ({axe}): run {TestEnvironment.SetupCommand}");
        Web.ExecuteScript(File.ReadAllText(axe));
        var json = (string?)Web.ExecuteAsyncScript("""
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] }).then(r => done(JSON.stringify(r.violations.map(v =>
                v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', ')))))
              .catch(e => done(JSON.stringify(['axe failed: ' + e])));
            """);
        return JsonSerializer.Deserialize<string[]>(json ?? "[\"axe returned nothing\"]")!;
    }

    /// <summary>The page's widest content: more than the window means the reader must scroll sideways.</summary>
    public long ScrollWidth => (long)Web.ExecuteScript("return document.documentElement.scrollWidth")!;

    /// <summary>The elements reaching past the window's right edge (what makes a page scroll sideways).</summary>
    public string Overflowing => (string)Web.ExecuteScript("""
        const w = document.documentElement.clientWidth;
        return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 0.5)
            .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right))
            .join(', ');
        """)!;

    /// <summary>Bytes the browser fetched for the page: the document and everything it loaded (Resource Timing).</summary>
    public long PageBytes => Convert.ToInt64(Web.ExecuteScript("""
        const nav = performance.getEntriesByType('navigation')[0];
        return (nav ? nav.transferSize : 0) + performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0);
        """), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Milliseconds from the navigation's start to the first paint with content.</summary>
    public double FirstContentfulPaintMs => Convert.ToDouble(Web.ExecuteScript("""
        const p = performance.getEntriesByName('first-contentful-paint')[0];
        return p ? p.startTime : -1;
        """), System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        Web.Quit();
        Web.Dispose();
    }
}
