using System.Diagnostics;
using System.Text.Json;

namespace EchoFace.Tests.Deploy;

/// <summary>
/// deploy/package.sh's Debian packages installed, upgraded, removed and purged in a throw-away root (dpkg --root, the
/// maintainer scripts run against it through DPKG_ROOT), and the installed binary run on its own models.
/// </summary>
[Trait("Category", "Slow")]
public class PackageTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestEnvironment.RepoRoot,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} ran over 10 minutes"); }
        return (p.ExitCode, stdout + stderr.Result);
    }

    private string Package(string arch, string version, params string[] extra)
    {
        var (code, output) = Run("bash", ["deploy/package.sh", "--arch", arch, "--version", version, "--out", _dir, .. extra]);
        Assert.True(code == 0, output);
        var deb = Path.Combine(_dir, $"echoface_{version}_{arch}.deb");
        Assert.True(File.Exists(deb), output);
        return deb;
    }

    /// <summary>An empty root with dpkg's database and this machine's accounts (without any echoface user).</summary>
    private string Root()
    {
        var root = Path.Combine(_dir, $"root-{Guid.NewGuid():N}");
        foreach (var d in new[] { "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc", "var/log" })
            Directory.CreateDirectory(Path.Combine(root, d));
        File.WriteAllText(Path.Combine(root, "var/lib/dpkg/status"), "");
        File.WriteAllText(Path.Combine(root, "var/lib/dpkg/available"), "");
        foreach (var f in new[] { "passwd", "group", "shadow", "gshadow", "login.defs" })
            if (File.Exists($"/etc/{f}"))
                File.WriteAllLines(Path.Combine(root, "etc", f),
                    File.ReadLines($"/etc/{f}").Where(l => !l.StartsWith("echoface:", StringComparison.Ordinal)));
        return root;
    }

    private static string Dpkg(string root, params string[] args)
    {
        string[] options = [$"--root={root}", "--force-script-chrootless", "--force-depends", $"--log={root}/var/log/dpkg.log"];
        var (code, output) = Run("dpkg", [.. options, .. args]);
        Assert.True(code == 0, $"dpkg {string.Join(' ', args)}: {output}");
        return output;
    }

    /// <summary>The same package under another version (what an upgrade ships is the point here, not a second publish).</summary>
    private string Rebuilt(string deb, string version)
    {
        var tree = Path.Combine(_dir, $"tree-{version}");
        Assert.Equal(0, Run("dpkg-deb", "-R", deb, tree).Code);
        var control = Path.Combine(tree, "DEBIAN", "control");
        var lines = File.ReadAllLines(control);
        File.WriteAllLines(control, [.. lines.Select(l => l.StartsWith("Version:", StringComparison.Ordinal) ? $"Version: {version}" : l)]);
        var next = Path.Combine(_dir, $"echoface_{version}_amd64.deb");
        var (code, output) = Run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, next);
        Assert.True(code == 0, output);
        return next;
    }

    private static int Uid(string root, string user) =>
        int.Parse(File.ReadLines(Path.Combine(root, "etc", "passwd")).Select(l => l.Split(':')).Single(f => f[0] == user)[2]);

    [Fact]
    public void The_amd64_package_installs_whole_upgrades_keeping_data_and_configuration_and_purges()
    {
        var deb = Package("amd64", "1.0.0");
        var root = Root();
        Dpkg(root, "-i", deb);

        var binary = Path.Combine(root, "usr/lib/echoface/echoface");
        Assert.True(File.Exists(binary));
        Assert.True(File.Exists(Path.Combine(root, "lib/systemd/system/echoface.service")));
        Assert.True(File.Exists(Path.Combine(root, "lib/systemd/system/echoface-fleet.service")));
        Assert.Contains("video", File.ReadLines(Path.Combine(root, "etc/group")).Single(l => l.StartsWith("video:", StringComparison.Ordinal)));
        var data = Path.Combine(root, "var/lib/echoface");
        Assert.Equal($"{Uid(root, "echoface")}", Run("stat", "-c", "%u", data).Output.Trim());
        // the installed binary with its own models: every hash ok (a board without internet installs whole)
        var installedModels = Path.Combine(root, "usr/lib/echoface/models");
        var (code, output) = Run(binary, "--json", "--data", Path.Combine(_dir, "scratch"), "--models", installedModels, "models");
        Assert.True(code == 0, output);
        var models = JsonDocument.Parse(output[..(output.LastIndexOf('}') + 1)]).RootElement.GetProperty("models").EnumerateArray().ToList();
        Assert.NotEmpty(models);
        // every model a configuration can use is there, hash ok; optional ones (evaluation only) are left out
        Assert.All(models.Where(m => !m.GetProperty("optional").GetBoolean()), m => Assert.Equal("Ok", m.GetProperty("status").GetString()));
        var variants = models.Where(m => m.GetProperty("variant").ValueKind != JsonValueKind.Null);
        Assert.All(variants, m => Assert.Equal("Ok", m.GetProperty("status").GetString()));

        // the site's own configuration and data survive an upgrade
        var config = Path.Combine(root, "etc/echoface/echoface.json");
        File.WriteAllText(config, """{ "Door": { "Name": "front-door" } }""");
        File.WriteAllText(Path.Combine(data, "echoface.db"), "the gallery");
        Dpkg(root, "--force-confold", "-i", Rebuilt(deb, "1.0.1"));
        Assert.Contains("front-door", File.ReadAllText(config));
        Assert.Equal("the gallery", File.ReadAllText(Path.Combine(data, "echoface.db")));
        Assert.Contains("1.0.1", Run("dpkg-query", $"--admindir={root}/var/lib/dpkg", "-W", "echoface").Output);

        // remove: the program goes, the data and the configuration stay; purge: they go too
        Dpkg(root, "-r", "echoface");
        Assert.False(File.Exists(binary));
        Assert.True(File.Exists(Path.Combine(data, "echoface.db")));
        Assert.True(File.Exists(config));
        Dpkg(root, "-P", "echoface");
        Assert.False(Directory.Exists(data));
        Assert.False(File.Exists(config));
    }

    [Fact]
    public void The_arm64_package_installs_an_arm64_build_with_its_models()
    {
        // set-up's arm64 publish, packaged as it is (the amd64 test runs the script's own publish)
        var published = Path.Combine(TestEnvironment.RepoRoot, "artifacts", "linux-arm64");
        if (!File.Exists(Path.Combine(published, "echoface")))
            throw new InvalidOperationException($"{published} is missing: run {TestEnvironment.SetupCommand}");
        var deb = Package("arm64", "1.0.0", "--from", published);
        Assert.Equal("arm64", Run("dpkg-deb", "-f", deb, "Architecture").Output.Trim());
        var root = Root();
        Dpkg(root, "--force-architecture", "-i", deb);
        var binary = Path.Combine(root, "usr/lib/echoface/echoface");
        // ELF e_machine 183: AArch64
        var header = File.ReadAllBytes(binary).AsSpan(0, 20).ToArray();
        Assert.Equal(183, BitConverter.ToUInt16(header, 18));
        // the same models as the amd64 package, byte for byte (the arm64 build itself is run under qemu in Arm64BuildTests)
        var models = Path.Combine(root, "usr/lib/echoface/models");
        var manifest = TestEnvironment.Manifest;
        foreach (var model in manifest.Shipped)
            Assert.Equal(File.ReadAllBytes(manifest.PathOf(model)), File.ReadAllBytes(Path.Combine(models, model.File)));
        // evaluation references (the RetinaFace reference has no licence) and measured candidates stay out of the package
        var left = manifest.Models.Where(m => m.Optional && m.Variant is null).ToList();
        Assert.Contains(left, m => m.Id == "retinaface_reference");
        Assert.All(left, m => Assert.False(File.Exists(Path.Combine(models, m.File)), $"{m.File} (optional) is in the package"));
        Assert.Equal(manifest.Shipped.Select(m => m.File).Order(StringComparer.Ordinal), Directory.GetFiles(models, "*.onnx")
            .Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
