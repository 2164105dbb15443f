using System.Text.Json;

namespace EchoFace.Tests.Inference;

/// <summary>
/// The linux-arm64 build that set-up publishes (artifacts/linux-arm64), run as a board would run it: natively on an ARM64 host,
/// under qemu-user on an x86-64 one. ONNX Runtime reads /proc/cpuinfo to pick its kernels and crashes on an x86 one under
/// emulation, so the command runs in a private mount namespace with an ARM (Cortex-A78AE, Jetson Orin) cpuinfo bound over it.
/// </summary>
[Trait("Category", "Slow")]
public class Arm64BuildTests
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

    private static IEnumerable<double> Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToList();

    private static JsonDocument Arm64(params string[] args) => Arm64Runner.Json(Build, TestEnvironment.ModelsDirectory, args);
}
