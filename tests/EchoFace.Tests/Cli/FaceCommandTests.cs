namespace EchoFace.Tests.Cli;

/// <summary>The face commands as a person runs them: enrol, identify, verify, people, faces --annotate, and every bad input.</summary>
[Trait("Category", "Integration")]
public class FaceCommandTests
{
    private readonly CliRunner _cli = new();

    private int TemplateCount()
    {
        var r = _cli.Run("people", "list", "--json");
        Assert.Equal(0, r.ExitCode);
        return r.Json.EnumerateArray().Sum(p => p.GetProperty("faceTemplates").GetInt32());
    }

    [Fact]
    public void An_enrolled_person_is_identified_and_a_stranger_is_not()
    {
        var jolie = CliRunner.Photos("df_angelina_jolie");
        var enrol = _cli.Run("enroll", "jolie", "--name", "Angelina Jolie", jolie[0], jolie[1], "--json");
        Assert.True(enrol.ExitCode == 0, enrol.Stderr);
        Assert.Equal(2, enrol.Json.GetProperty("templates").GetArrayLength());
        Assert.Equal(0, _cli.Run("enroll", "bezos", CliRunner.Photos("df_jeff_bezos")[0]).ExitCode);

        var known = _cli.Run("identify", jolie[3], "--json");
        Assert.Equal(0, known.ExitCode);
        var face = Assert.Single(known.Json.GetProperty("faces").EnumerateArray());
        Assert.Equal("jolie", face.GetProperty("identity").GetString());

        var stranger = _cli.Run("identify", CliRunner.Photos("fr_obama")[0], "--json");
        Assert.Equal(0, stranger.ExitCode);
        Assert.All(stranger.Json.GetProperty("faces").EnumerateArray(), f => Assert.Equal(System.Text.Json.JsonValueKind.Null, f.GetProperty("identity").ValueKind));

        var accept = _cli.Run("verify", "jolie", jolie[4], "--json");
        Assert.True(accept.Json.GetProperty("accepted").GetBoolean(), accept.Stdout);
        var reject = _cli.Run("verify", "bezos", jolie[4], "--json");
        Assert.False(reject.Json.GetProperty("accepted").GetBoolean(), reject.Stdout);

        var table = _cli.Run("identify", jolie[3]);
        Assert.Contains("jolie", table.Stdout);
        Assert.Contains("Angelina Jolie", table.Stdout);
    }

    [Fact]
    public void Enrolment_refuses_a_face_that_is_already_someone_else()
    {
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, _cli.Run("enroll", "jolie", jolie[0]).ExitCode);
        var dup = _cli.Run("enroll", "impostor", jolie[2]);
        Assert.Equal(2, dup.ExitCode);
        Assert.Contains("already matches 'jolie'", dup.Stderr);
        Assert.Equal(1, TemplateCount());
    }

    [Fact]
    public void A_photo_with_several_faces_needs_face_to_say_which()
    {
        var group = CliRunner.Photo("fr_biden", "examples_knn_examples_train_biden_biden2.jpg");
        var refused = _cli.Run("enroll", "biden", group);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("faces found; pass --face N", refused.Stderr);
        Assert.Equal(0, _cli.Run("enroll", "biden", group, "--face", "0").ExitCode);
    }

    [Fact]
    public void A_bystander_far_out_of_focus_does_not_count_as_a_second_face()
    {
        // George Clooney in focus; behind him a blurred face whose box is larger than his (docs/fusion.md)
        var enrol = _cli.Run("enroll", "clooney", CliRunner.Photo("df_george_clooney", "img41.jpg"));
        Assert.True(enrol.ExitCode == 0, enrol.Stderr);
        var verify = _cli.Run("verify", "clooney", CliRunner.Photo("df_george_clooney", "img38.jpg"), "--json");
        Assert.True(verify.Json.GetProperty("accepted").GetBoolean(), verify.Stdout);
    }

    [Fact]
    public void Bad_inputs_exit_2_with_a_clear_message_and_store_nothing()
    {
        var dir = TestEnvironment.TempDirectory();
        var text = Path.Combine(dir, "notes.jpg");
        File.WriteAllText(text, "just text");
        var photo = File.ReadAllBytes(CliRunner.Photos("df_angelina_jolie")[0]);
        var cut = Path.Combine(dir, "cut.jpg");
        File.WriteAllBytes(cut, photo[..(photo.Length / 4)]);
        var blank = Path.Combine(dir, "blank.png");
        using (var empty = new SkiaSharp.SKBitmap(200, 200)) EchoFace.Media.ImageEncoder.Save(empty, blank);

        var cases = new (string[] Args, string Message)[]
        {
            (["enroll", "x", "/nonexistent/a.jpg"], "not found"),
            (["enroll", "x", text], "not an image"),
            (["enroll", "x", cut], "truncated"),
            (["enroll", "x", blank], "no face found"),
            (["enroll", "x", CliRunner.Photos("df_angelina_jolie")[0], cut], "truncated"), // one good photo does not get stored either
            (["identify", text], "not an image"),
            (["verify", "nobody", CliRunner.Photos("df_angelina_jolie")[0]], "unknown identity 'nobody'"),
            (["people", "remove", "nobody"], "unknown identity"),
            (["people", "show", "nobody"], "unknown identity"),
            (["enroll", "x"], "Required argument"),
            (["identify", "a.jpg", "--no-such-option"], "no-such-option"),
        };
        foreach (var (args, message) in cases)
        {
            var r = _cli.Run(args);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
            Assert.Contains(message, r.Stderr, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(0, TemplateCount());
    }

    [Fact]
    public void An_image_over_the_configured_size_limit_is_refused()
    {
        // a config file, not an environment variable: other test classes run in parallel in this process
        var config = Path.Combine(TestEnvironment.TempDirectory(), "echoface.json");
        File.WriteAllText(config, """{ "Media": { "MaxBytes": 1000 } }""");
        var r = _cli.Run("enroll", "x", CliRunner.Photos("df_angelina_jolie")[0], "--config", config);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("over the image size limit", r.Stderr);
        Assert.Equal(0, TemplateCount());
    }

    [Fact]
    public void People_show_and_remove_with_audit()
    {
        Assert.Equal(0, _cli.Run("enroll", "bezos", "--name", "Jeff", CliRunner.Photos("df_jeff_bezos")[0]).ExitCode);
        var show = _cli.Run("people", "show", "bezos", "--json");
        Assert.Equal("Jeff", show.Json.GetProperty("identity").GetProperty("displayName").GetString());
        Assert.Equal("fr_feature", show.Json.GetProperty("templates")[0].GetProperty("modelId").GetString());
        Assert.Equal(0, _cli.Run("people", "remove", "bezos", "--reason", "left the company").ExitCode);
        Assert.Equal(0, TemplateCount());
        Assert.Empty(_cli.Run("people", "list", "--json").Json.EnumerateArray());
    }

    [Fact]
    public void Faces_annotate_draws_a_png_with_every_face()
    {
        var output = Path.Combine(TestEnvironment.TempDirectory(), "annotated.png");
        var r = _cli.Run("faces", CliRunner.Photo("fr_biden", "examples_knn_examples_train_biden_biden2.jpg"), "--annotate", output, "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.True(r.Json.GetProperty("faces").GetArrayLength() >= 2);
        var drawn = EchoFace.Media.ImageDecoder.DecodeFile(output);
        Assert.True(drawn.Height > r.Json.GetProperty("height").GetInt32(), "aligned crops drawn below the photo");
    }

    [Fact]
    public void Models_reports_hashes_and_the_provider_in_use()
    {
        var r = _cli.Run("models", "--json");
        Assert.Equal(0, r.ExitCode);
        var detect = r.Json.GetProperty("models").EnumerateArray().First(m => m.GetProperty("id").GetString() == "fr_detect");
        Assert.Equal("Ok", detect.GetProperty("status").GetString());
        Assert.Equal("CPU", detect.GetProperty("provider").GetString());
        Assert.True(r.Json.GetProperty("providerFailures").TryGetProperty("TensorRT", out _));
    }

    [Fact]
    public void An_invalid_configuration_is_refused_naming_the_key()
    {
        var config = Path.Combine(TestEnvironment.TempDirectory(), "echoface.json");
        File.WriteAllText(config, """{ "Match": { "VerifyThresold": 0.5 } }""");
        var r = _cli.Run("people", "list", "--config", config);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("VerifyThresold", r.Stderr);
    }
}
