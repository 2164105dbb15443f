using System.Net;
using System.Text.Json;
using EchoFace.Tests.Api;

namespace EchoFace.Tests.Cli;

/// <summary>`enroll ID clip.mp4`: templates from the frames of a clip, as a person would enrol someone filmed turning their head.</summary>
[Trait("Category", "Integration")]
public class VideoEnrolCommandTests
{
    private readonly CliRunner _cli = new();
    private readonly string _dir = TestEnvironment.TempDirectory();

    /// <summary>A 640x480 clip at 10 fps showing each photo for <paramref name="seconds"/>, cropped as a camera would (no border).</summary>
    internal static string Clip(string output, double seconds, params string[] photos)
    {
        var args = new List<string> { "-v", "error" };
        var s = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var photo in photos) args.AddRange(["-loop", "1", "-t", s, "-i", photo]);
        var filters = photos.Select((_, i) =>
            $"[{i}]scale=640:480:force_original_aspect_ratio=increase,crop=640:480,fps=10,setsar=1,format=yuv420p[v{i}]");
        var inputs = string.Concat(photos.Select((_, i) => $"[v{i}]"));
        args.AddRange(["-filter_complex", $"{string.Join(';', filters)};{inputs}concat=n={photos.Length}:v=1[out]", "-map", "[out]"]);
        return TestEnvironment.Ffmpeg(output, [.. args]);
    }

    internal static string Dorsey(string dir) => Clip(Path.Combine(dir, "dorsey.mp4"), 1.5,
        CliRunner.Photo("df_jack_dorsey", "img17.jpg"), CliRunner.Photo("df_jack_dorsey", "img16.jpg"), CliRunner.Photo("df_jack_dorsey", "img61.jpg"));

    [Fact]
    public void A_clip_of_a_head_turning_gives_frontal_and_turned_templates_that_verify_the_person()
    {
        var clip = Dorsey(_dir);
        var enrol = _cli.Run("enroll", "dorsey", clip, "--json");
        Assert.True(enrol.ExitCode == 0, enrol.Stderr);
        Assert.Equal(5, enrol.Json.GetProperty("templates").GetArrayLength());
        var chosen = enrol.Json.GetProperty("clips")[0].GetProperty("chosen").EnumerateArray().ToList();
        Assert.Equal(["frontal", "left", "right"], chosen.Select(c => c.GetProperty("pose").GetString()).Distinct().Order());
        var seconds = chosen.Select(c => c.GetProperty("seconds").GetDouble()).ToList();
        Assert.Equal(seconds.Order(), seconds);
        Assert.All(seconds.Zip(seconds.Skip(1)), p => Assert.True(p.Second - p.First >= 0.5 - 1e-9, $"{p.First} and {p.Second} s"));

        var person = _cli.Run("people", "show", "dorsey", "--json");
        Assert.Contains("dorsey.mp4#t=", person.Stdout);
        var other = CliRunner.Photo("df_jack_dorsey", "img59.jpg");
        Assert.True(_cli.Run("verify", "dorsey", other, "--json").Json.GetProperty("accepted").GetBoolean(), "another photo of him");
        Assert.False(_cli.Run("verify", "dorsey", CliRunner.Photos("df_jeff_bezos")[0], "--json").Json.GetProperty("accepted").GetBoolean());
    }

    [Fact]
    public void A_clip_that_is_not_a_video_or_shows_no_face_is_refused_and_nobody_is_enrolled()
    {
        var corrupt = Path.Combine(_dir, "corrupt.mp4");
        File.WriteAllText(corrupt, "not a video");
        var bad = _cli.Run("enroll", "x", corrupt);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("corrupt.mp4: not a readable video", bad.Stderr);

        var black = TestEnvironment.Ffmpeg(Path.Combine(_dir, "black.mp4"), "-v", "error", "-f", "lavfi", "-i", "color=black:s=640x480:d=1", "-pix_fmt", "yuv420p");
        var empty = _cli.Run("enroll", "x", black);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("no frame holds one face of enrolment quality", empty.Stderr);
        Assert.Equal(JsonValueKind.Array, _cli.Run("people", "list", "--json").Json.ValueKind);
        Assert.Empty(_cli.Run("people", "list", "--json").Json.EnumerateArray());
    }
}

/// <summary>`POST /v1/people` with a `clip` part, on a running daemon: the same choice of frames as `enroll`, and a bad clip refused.</summary>
[Trait("Category", "Slow")]
public class VideoEnrolApiTests
{
    private readonly CliRunner _cli = new();

    [Fact]
    public async Task A_clip_part_enrols_frames_of_it_and_a_clip_that_is_no_video_is_refused()
    {
        var dir = TestEnvironment.TempDirectory();
        var clip = VideoEnrolCommandTests.Dorsey(dir);
        var key = _cli.Run("api-key", "create", "--role", "enrol", "--json").Json.GetProperty("key").GetString()!;
        var (daemon, at) = HttpApiTests.Start(_cli);
        using (daemon)
        {
            using var http = HttpApiTests.Client(at, key);
            var bogus = Path.Combine(dir, "bogus.mp4");
            File.WriteAllText(bogus, "not a video at all");
            var refused = await http.PostAsync("/v1/people", new MultipartFormDataContent
            {
                { new StringContent("x"), "id" }, { HttpApiTests.File(bogus, "video/mp4"), "clip", "bogus.mp4" },
            });
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, refused.StatusCode);
            Assert.Contains("bogus.mp4: not a video", await refused.Content.ReadAsStringAsync());

            var form = new MultipartFormDataContent { { new StringContent("dorsey"), "id" }, { HttpApiTests.File(clip, "video/mp4"), "clip", "dorsey.mp4" } };
            var created = await HttpApiTests.Json(await http.PostAsync("/v1/people", form), HttpStatusCode.Created);
            Assert.Equal(5, created.GetProperty("faceTemplates").GetInt32());
            var people = await HttpApiTests.Json(await http.GetAsync("/v1/people"), HttpStatusCode.OK);
            Assert.Equal("dorsey", Assert.Single(people.EnumerateArray()).GetProperty("id").GetString());
        }
        // the uploads' temporary files are gone
        Assert.DoesNotContain(Directory.GetFiles(Path.GetTempPath(), "echoface-clip-*"), f => File.GetLastWriteTimeUtc(f) > DateTime.UtcNow.AddMinutes(-5));
    }
}
