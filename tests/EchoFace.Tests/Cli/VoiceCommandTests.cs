namespace EchoFace.Tests.Cli;

/// <summary>The voice commands as a person runs them: enrol, verify, identify, eval voice, and bad input with nothing stored.</summary>
[Trait("Category", "Integration")]
public class VoiceCommandTests
{
    private readonly CliRunner _cli = new();
    private readonly string _dir = TestEnvironment.TempDirectory();

    private int VoiceTemplates()
    {
        var r = _cli.Run("people", "list", "--json");
        Assert.Equal(0, r.ExitCode);
        return r.Json.EnumerateArray().Sum(p => p.GetProperty("voiceTemplates").GetInt32());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Enrol_verify_and_identify_by_voice_from_the_command_line()
    {
        var reader = TestEnvironment.Speech("3331");
        // a phone recording among the enrolment files
        var m4a = TestEnvironment.Ffmpeg(Path.Combine(_dir, "enrol.m4a"), "-i", reader[2], "-c:a", "aac");
        var enrol = _cli.Run("voice", "enroll", "r3331", reader[0], reader[1], m4a, "--name", "Reader 3331", "--json");
        Assert.True(enrol.ExitCode == 0, enrol.Stderr);
        Assert.Equal(3, enrol.Json.GetProperty("templates").GetArrayLength());
        Assert.Equal(0, _cli.Run(["voice", "enroll", "r367", .. TestEnvironment.Speech("367")[..3]]).ExitCode);

        var accept = _cli.Run("voice", "verify", "r3331", reader[8], "--json");
        Assert.Equal(0, accept.ExitCode);
        Assert.True(accept.Json.GetProperty("accepted").GetBoolean());
        var reject = _cli.Run("voice", "verify", "r3331", TestEnvironment.Speech("367")[8], "--json");
        Assert.Equal(0, reject.ExitCode);
        Assert.False(reject.Json.GetProperty("accepted").GetBoolean());

        var identify = _cli.Run("voice", "identify", TestEnvironment.Speech("367")[9]);
        Assert.Equal(0, identify.ExitCode);
        Assert.Contains("r367", identify.Stdout);
        var unknown = _cli.Run("voice", "identify", TestEnvironment.Speech("533")[0], "--json");
        Assert.Equal(0, unknown.ExitCode);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, unknown.Json.GetProperty("identity").ValueKind);

        // adding a face later keeps the name given at voice enrolment
        Assert.Equal(0, _cli.Run("enroll", "r3331", CliRunner.Photos("df_angelina_jolie")[0]).ExitCode);
        var person = _cli.Run("people", "show", "r3331", "--json").Json.GetProperty("identity");
        Assert.Equal("Reader 3331", person.GetProperty("displayName").GetString());
        Assert.Equal(1, person.GetProperty("faceTemplates").GetInt32());
        Assert.Equal(3, person.GetProperty("voiceTemplates").GetInt32());
    }

    [Fact]
    public void Bad_recordings_exit_2_and_store_nothing()
    {
        var good = TestEnvironment.Speech("3005");
        var silent = TestEnvironment.Ffmpeg(Path.Combine(_dir, "silent.wav"), "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3");
        var corrupt = Path.Combine(_dir, "corrupt.m4a");
        File.WriteAllBytes(corrupt, [.. Enumerable.Range(0, 3000).Select(i => (byte)(i * 31 % 256))]);
        foreach (var (bad, message) in new[] { (silent, "silent"), (corrupt, "not a readable audio file"), (Path.Combine(_dir, "nope.wav"), "not found") })
        {
            var r = _cli.Run("voice", "enroll", "r3005", good[0], good[1], bad);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(message, r.Stderr);
        }
        Assert.Equal(0, VoiceTemplates());
        Assert.Equal(2, _cli.Run("voice", "verify", "nobody", good[0]).ExitCode);
        Assert.Equal(2, _cli.Run("voice", "identify", silent).ExitCode);
    }

    [Fact]
    public void Eval_voice_over_a_labelled_folder_writes_metrics_and_a_det_plot()
    {
        var report = Path.Combine(_dir, "report");
        var r = _cli.Run("eval", "voice", TestEnvironment.Data("voice", "sr-data"), "--label", @"^([a-z]+\d*)[-_]", "--report", report, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = r.Json;
        Assert.Equal(20, json.GetProperty("recordings").GetInt32());
        Assert.Equal(190, json.GetProperty("trials").GetInt32());
        Assert.InRange(json.GetProperty("eer").GetDouble(), 0.0, 0.3);
        Assert.True(json.GetProperty("realTimeFactor").GetDouble() > 0);
        foreach (var file in new[] { "report.json", "det.png", "det.svg" }) Assert.True(new FileInfo(Path.Combine(report, file)).Length > 1000, file);
    }

    [Fact]
    public void Eval_voice_refuses_a_malformed_trials_file_naming_the_line()
    {
        var trials = Path.Combine(_dir, "trials.txt");
        File.WriteAllLines(trials, ["a.flac b.flac target", "a.flac b.flac maybe"]);
        var r = _cli.Run("eval", "voice", "--trials", trials);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("trials.txt:2", r.Stderr);
        Assert.Equal(2, _cli.Run("eval", "voice").ExitCode);
        Assert.Equal(2, _cli.Run("eval", "voice", _dir, "--label", "no-group").ExitCode);
    }
}
