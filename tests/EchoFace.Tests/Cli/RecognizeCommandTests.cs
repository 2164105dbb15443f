using System.Text.Json;
using EchoFace.Tests.Recommend;

namespace EchoFace.Tests.Cli;

/// <summary>
/// `echoface recognize`: the one-shot flow of face, voice or both, with each modality's fallback and the recommendations of an
/// opted-in customer. The enrolled person has Jolie's face and a LibriSpeech speaker's voice (no data set pairs the two).
/// </summary>
[Trait("Category", "Integration")]
public class RecognizeCommandTests
{
    private readonly CliRunner _cli = new();
    private readonly string[] _speech = TestEnvironment.Speech("1688");
    private readonly string[] _otherSpeech = TestEnvironment.Speech("1998");

    private JsonElement Recognize(params string[] args)
    {
        var r = _cli.Run(["--json", "recognize", .. args]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Json;
    }

    private void Enrol()
    {
        Assert.Equal(0, _cli.Run("enroll", "jolie", "--name", "Angelina Jolie", CliRunner.Photo("df_angelina_jolie", "img1.jpg"),
            CliRunner.Photo("df_angelina_jolie", "img10.jpg")).ExitCode);
        var voice = _cli.Run(["voice", "enroll", "jolie", .. _speech.Take(3)]);
        Assert.True(voice.ExitCode == 0, voice.Stderr);
        Assert.Equal(0, _cli.Run("enroll", "katy", "--name", "Katy Perry", CliRunner.Photos("df_katy_perry")[0]).ExitCode);
    }

    private string Photo => CliRunner.Photo("df_angelina_jolie", "img2.jpg");

    [Fact]
    public void Face_and_voice_together_are_fused_and_each_score_is_shown()
    {
        Enrol();
        var a = Recognize("--image", Photo, "--audio", _speech[5]);
        Assert.Equal("jolie", a.GetProperty("identityId").GetString());
        Assert.True(a.GetProperty("accepted").GetBoolean());
        Assert.Equal("face + voice", a.GetProperty("decidedBy").GetString());
        Assert.True(a.GetProperty("fusedScore").GetDouble() >= a.GetProperty("fusedThreshold").GetDouble());
        Assert.True(a.GetProperty("face").GetProperty("accepted").GetBoolean());
        Assert.True(a.GetProperty("voice").GetProperty("accepted").GetBoolean());

        // the claimed person with someone else's voice and face: refused, about the claimed person
        var claim = Recognize("--image", CliRunner.Photos("df_katy_perry")[1], "--audio", _otherSpeech[0], "--id", "jolie");
        Assert.Equal("jolie", claim.GetProperty("identityId").GetString());
        Assert.False(claim.GetProperty("accepted").GetBoolean());
        Assert.Equal("face + voice", claim.GetProperty("decidedBy").GetString());
    }

    [Fact]
    public void When_one_modality_fails_the_other_decides_at_its_own_threshold_and_says_so()
    {
        Enrol();
        var silence = TestEnvironment.Ffmpeg(Path.Combine(TestEnvironment.TempDirectory(), "silence.wav"),
            "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3");
        var byFace = Recognize("--image", Photo, "--audio", silence);
        Assert.Equal("jolie", byFace.GetProperty("identityId").GetString());
        Assert.StartsWith("face alone (voice: ", byFace.GetProperty("decidedBy").GetString());
        Assert.Contains("silent", byFace.GetProperty("voice").GetProperty("failure").GetString());
        Assert.Equal(0.45, byFace.GetProperty("face").GetProperty("threshold").GetDouble(), 3);
        var short_ = TestEnvironment.Ffmpeg(Path.Combine(TestEnvironment.TempDirectory(), "short.wav"), "-i", _speech[5], "-t", "0.6");
        var tooShort = Recognize("--image", Photo, "--audio", short_);
        Assert.Equal("jolie", tooShort.GetProperty("identityId").GetString());
        Assert.Contains("at least 1.0 s of speech is needed", tooShort.GetProperty("voice").GetProperty("failure").GetString());

        var noFace = TestEnvironment.Ffmpeg(Path.Combine(TestEnvironment.TempDirectory(), "grey.png"),
            "-f", "lavfi", "-i", "color=gray:s=320x240", "-frames:v", "1");
        var byVoice = Recognize("--image", noFace, "--audio", _speech[6]);
        Assert.Equal("jolie", byVoice.GetProperty("identityId").GetString());
        Assert.Equal("voice alone (face: no face found)", byVoice.GetProperty("decidedBy").GetString());

        var neither = Recognize("--image", noFace, "--audio", silence);
        Assert.False(neither.GetProperty("accepted").GetBoolean());
        Assert.StartsWith("nothing could decide", neither.GetProperty("decidedBy").GetString());

        // face only, and a person enrolled without a voice: plain face answers
        Assert.Equal("katy", Recognize("--image", CliRunner.Photos("df_katy_perry")[1]).GetProperty("identityId").GetString());
    }

    [Fact]
    public void An_opted_in_customer_gets_their_top_k_and_bad_input_is_refused()
    {
        Enrol();
        var train = _cli.Run("recommend", "train", "--transactions", RecommenderTests.PlantedCsv(customers: 60),
            "--map", "customer=customer,item=item,time=date", "--no-ranker", "--out", Path.Combine(_cli.DataDirectory, "recommender"));
        Assert.True(train.ExitCode == 0, train.Stderr);
        var before = Recognize("--image", Photo, "--top-k", "3");
        Assert.Equal("not an opted-in customer", before.GetProperty("recommendationSource").GetString());
        Assert.Equal(0, before.GetProperty("recommendations").GetArrayLength());

        Assert.Equal(0, _cli.Run("customers", "opt-in", "jolie", "c3").ExitCode);
        var after = Recognize("--image", Photo, "--top-k", "3");
        Assert.Equal("c3", after.GetProperty("customer").GetString());
        Assert.Equal("model", after.GetProperty("recommendationSource").GetString());
        Assert.Equal(3, after.GetProperty("recommendations").GetArrayLength());

        Assert.Equal(2, _cli.Run("recognize").ExitCode);
        var unknown = _cli.Run("recognize", "--image", Photo, "--id", "nobody");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("unknown identity 'nobody'", unknown.Stderr);
        Assert.Equal(2, _cli.Run("recognize", "--image", Photo, "--top-k", "0").ExitCode);
    }
}
