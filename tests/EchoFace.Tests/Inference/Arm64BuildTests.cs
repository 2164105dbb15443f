using System.Text.Json;

namespace EchoFace.Tests.Inference;

/// <summary>
/// The linux-arm64 build that set-up publishes (artifacts/linux-arm64), run as a board would run it: natively on an ARM64 host,
/// under qemu-user on an x86-64 one. ONNX Runtime reads /proc/cpuinfo to pick its kernels and crashes on an x86 one under
/// emulation, so the command runs in a private mount namespace with an ARM (Cortex-A78AE, Jetson Orin) cpuinfo bound over it.
/// </summary>
[Trait("Category", "Slow")]
public class Arm64BuildTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string Build = Path.Combine(TestEnvironment.RepoRoot, "artifacts", "linux-arm64", "echoface");

    [Fact]
    public void The_arm64_build_flushes_denormals_in_fpcr_and_finds_the_same_face_as_x64()
    {
        var models = Arm64("--json", "models");
        Assert.StartsWith("flushed to zero: FZ (FPCR)", models.RootElement.GetProperty("denormals").GetString());
        Assert.All(models.RootElement.GetProperty("models").EnumerateArray(), m => Assert.Equal("Ok", m.GetProperty("status").GetString()));

        var photo = TestEnvironment.Data("faces", "photos", "df_angelina_jolie", "img11.jpg");
        var arm = Arm64("--json", "faces", photo).RootElement.GetProperty("faces")[0];
        var x64 = new Cli.CliRunner().Run("--json", "faces", photo).Json.GetProperty("faces")[0];
        Assert.Equal(Numbers(x64.GetProperty("box")), Numbers(arm.GetProperty("box")));
        Assert.Equal(x64.GetProperty("liveness").GetDouble(), arm.GetProperty("liveness").GetDouble(), 4);
        var (a5, x5) = (arm.GetProperty("points5").EnumerateArray().SelectMany(Numbers), x64.GetProperty("points5").EnumerateArray().SelectMany(Numbers));
        Assert.All(a5.Zip(x5), p => Assert.Equal(p.Second, p.First, 2));
        Assert.Equal(x64.GetProperty("quality").GetProperty("yaw").GetDouble(), arm.GetProperty("quality").GetProperty("yaw").GetDouble(), 2);
    }

    [Fact]
    public void The_arm64_build_scans_with_the_ARM_dot_product_kernel_and_it_equals_the_scalar_one()
    {
        // qemu-user's default CPU has the dot-product extension, as every Jetson Orin (Cortex-A78AE) has
        var kernels = Arm64("--json", "bench", "kernels").RootElement;
        Assert.Equal("Arm64", kernels.GetProperty("architecture").GetString());
        var checks = kernels.GetProperty("int8Dot").EnumerateArray().ToList();
        Assert.All(checks, c => Assert.True(c.GetProperty("equal").GetBoolean(), c.ToString()));
        var used = Assert.Single(checks, c => c.GetProperty("inUse").GetBoolean());
        Assert.Equal("arm-dotprod", used.GetProperty("kernel").GetString());
    }

    [Fact]
    public void The_arm64_build_refuses_to_train_the_ranker_and_serves_one_trained_on_x64_with_the_same_lists()
    {
        var dir = TestEnvironment.TempDirectory();
        var purchases = Path.Combine(dir, "purchases.csv");
        File.WriteAllLines(purchases, File.ReadLines(TestEnvironment.Data("retail", "groceries.csv")).Take(3000));
        var refused = Arm64Runner.Run(Build, TestEnvironment.ModelsDirectory,
            "recommend", "train", "--transactions", purchases, "--out", Path.Combine(dir, "arm"));
        Assert.Equal(2, refused.Code);
        Assert.Contains("--no-ranker", refused.Stderr);
        Arm64("--json", "recommend", "train", "--transactions", purchases, "--out", Path.Combine(dir, "arm"), "--no-ranker");

        var x64Artifact = Path.Combine(dir, "x64");
        var cli = new Cli.CliRunner();
        Assert.Equal(0, cli.Run("recommend", "train", "--transactions", purchases, "--out", x64Artifact).ExitCode);
        static string[] Items(JsonElement e) => [.. e.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("item").GetString()!)];
        var onX64 = Items(cli.Run("--json", "recommend", "for", "3701", "--model", x64Artifact, "--using", "ranker").Json);
        var onArm = Items(Arm64("--json", "recommend", "for", "3701", "--model", x64Artifact, "--using", "ranker").RootElement);
        Assert.NotEmpty(onX64);
        Assert.Equal(onX64, onArm);
    }

    [Fact]
    public void The_arm64_build_evaluates_enrols_and_identifies_as_the_x64_build_does()
    {
        // two people, two photos each: under emulation every image costs 10-20 s (about 130 times the native time)
        var dir = TestEnvironment.TempDirectory();
        var subset = Path.Combine(dir, "photos");
        foreach (var person in new[] { "df_angelina_jolie", "df_jeff_bezos" })
        {
            Directory.CreateDirectory(Path.Combine(subset, person));
            foreach (var photo in Cli.CliRunner.Photos(person).Take(2)) File.Copy(photo, Path.Combine(subset, person, Path.GetFileName(photo)));
        }
        var cli = new Cli.CliRunner();
        var x64 = cli.Run("--json", "eval", "faces", subset, "--report", Path.Combine(dir, "x64"));
        Assert.True(x64.ExitCode == 0, x64.Stderr);
        var arm = Arm64("--json", "eval", "faces", subset, "--report", Path.Combine(dir, "arm")).RootElement;
        Dictionary<string, float[]> Embeddings(string report) =>
            JsonSerializer.Deserialize<Dictionary<string, float[]>>(File.ReadAllText(Path.Combine(dir, report, "embeddings.json")))!;
        var (onX64, onArm) = (Embeddings("x64"), Embeddings("arm"));
        Assert.Equal(onX64.Keys.Order(), onArm.Keys.Order());
        Assert.True(onArm.Count >= 3, $"{onArm.Count} of 4 photos embedded");
        Assert.All(onX64, e => Assert.True(System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(e.Value, onArm[e.Key]) >= 0.999f, e.Key));
        Assert.Equal(x64.Json.GetProperty("eer").GetDouble(), arm.GetProperty("eer").GetDouble(), 6);

        var data = TestEnvironment.TempDirectory();
        var jolie = Directory.GetFiles(Path.Combine(subset, "df_angelina_jolie")).Order(StringComparer.Ordinal).ToArray();
        var enrol = Arm64Runner.RunIn(data, Build, TestEnvironment.ModelsDirectory, "enroll", "jolie", jolie[0], jolie[1]);
        Assert.True(enrol.Code == 0, enrol.Stderr);
        Assert.Equal(0, cli.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        foreach (var probe in new[] { Cli.CliRunner.Photos("df_angelina_jolie")[2] })
        {
            var armFaces = JsonDocument.Parse(Arm64Runner.RunIn(data, Build, TestEnvironment.ModelsDirectory, "--json", "identify", probe).Stdout)
                .RootElement.GetProperty("faces")[0];
            var x64Faces = cli.Run("--json", "identify", probe).Json.GetProperty("faces")[0];
            Assert.Equal(x64Faces.GetProperty("identity").ToString(), armFaces.GetProperty("identity").ToString());
            Assert.Equal(x64Faces.GetProperty("score").GetDouble(), armFaces.GetProperty("score").GetDouble(), 3);
        }
    }

    /// <summary>
    /// The daemon as a board runs it: the arm64 build on a looping camera file of deploy/demo.sh's door (Jolie, enrolled; then a
    /// stranger), the simulated door.
    /// Under qemu a frame takes about 12 s, so each person stays 36 s, a presence needs 2 faces (Access.MinFaces), and a track
    /// lasts 20 s without a face: the 40 s of empty frames after each person end it, and the stranger's end denied; the rest is default.
    /// </summary>
    [Fact]
    public void The_arm64_daemon_on_a_camera_lets_the_enrolled_person_in_turns_the_stranger_away_and_stores_both()
    {
        // deploy/demo.sh's people and photos, on the emulation's timings
        var cli = new Cli.CliRunner();
        string Photo(string person, string file) => TestEnvironment.Data("faces", "photos", person, file);
        // the gallery's files are the same on either build
        Assert.Equal(0, cli.Run("enroll", "jolie", Photo("df_angelina_jolie", "img1.jpg"), Photo("df_angelina_jolie", "img10.jpg")).ExitCode);
        var video = TestEnvironment.Video(Path.Combine(TestEnvironment.TempDirectory(), "door.mp4"), 36, 40,
            Photo("df_angelina_jolie", "img11.jpg"), Photo("df_jeff_bezos", "img20.jpg"));
        var port = FreePort.Next();
        using var daemon = new DaemonProcess(null, cli.DataDirectory, "arm-door", new Dictionary<string, string>
        {
            ["ECHOFACE__Camera__Loop"] = "true", ["ECHOFACE__Access__TrackTimeoutSeconds"] = "20", ["ECHOFACE__Access__MinFaces"] = "2",
        }, camera: $"file:{video}", health: $"http://127.0.0.1:{port}", models: TestEnvironment.ModelsDirectory,
            program: Arm64Runner.Command(Build));
        bool Said(string text) => daemon.Log.Contains(text, StringComparison.Ordinal);
        daemon.Until(() => Said("Access granted") && Said("Access denied"), "a grant and a denial from the arm64 daemon", TimeSpan.FromMinutes(8));
        Assert.Contains("Access granted at door-1: face match, identity jolie", daemon.Log, StringComparison.Ordinal);
        using (var http = new System.Net.Http.HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
        {
            var health = JsonDocument.Parse(http.Send(new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Get, "/healthz"))
                .Content.ReadAsStream()).RootElement;
            Assert.True(health.GetProperty("granted").GetInt64() >= 1 && health.GetProperty("denied").GetInt64() >= 1, health.ToString());
        }
        Assert.True(daemon.Stop(), daemon.Log);
        output.WriteLine(daemon.Log); // its start, frame and decision times under emulation (docs/arm64.md)
        using var outbox = new EchoFace.Storage.EventOutbox(Path.Combine(cli.DataDirectory, "echoface.db"));
        var access = outbox.Read(includeSent: true).Where(e => e.Kind == "access").ToList();
        Assert.Contains(access, e => e.Payload.Contains("\"granted\"", StringComparison.Ordinal));
        Assert.Contains(access, e => e.Payload.Contains("\"denied\"", StringComparison.Ordinal));
    }

    private static IEnumerable<double> Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToList();

    private static JsonDocument Arm64(params string[] args) => Arm64Runner.Json(Build, TestEnvironment.ModelsDirectory, args);
}
