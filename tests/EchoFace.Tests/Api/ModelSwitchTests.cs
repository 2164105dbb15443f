using System.Net;
using System.Net.Http.Json;
using EchoFace.Tests.Cli;
using EchoFace.Tests.Inference;
using static EchoFace.Tests.Api.HttpApiTests;

namespace EchoFace.Tests.Api;

/// <summary>PUT /v1/models/active on a running daemon: the float face embedder and an int8 one made from it.</summary>
[Trait("Category", "Slow")]
public class ModelSwitchTests
{
    /// <summary>
    /// What the switch does, apart from its timing: budgets no machine misses (the suite runs tests side by side on two cores, where a
    /// 9 ms embedder has read 24 ms); the budget's own refusal is tested below with budgets no machine meets.
    /// </summary>
    private static readonly Dictionary<string, string> AnySpeed = new() { ["ECHOFACE__Api__FaceEmbedBudgetMs"] = "1000", ["ECHOFACE__Api__VoiceEmbedBudgetMs"] = "5000" };

    [Fact]
    public async Task The_face_embedder_switches_live_and_templates_of_the_other_model_are_never_mixed_in()
    {
        var cli = new CliRunner { ModelsDirectory = QuantizationTests.ModelsWithInt8Embedder() };
        var (enrol, read, admin) = (Key(cli, "enrol"), Key(cli, "read"), Key(cli, "admin"));
        var jolie = CliRunner.Photos("df_angelina_jolie");
        var (daemon, at) = Start(cli, AnySpeed);
        using (daemon)
        {
            using var writer = Client(at, enrol);
            using var reader = Client(at, read);
            using var boss = Client(at, admin);
            async Task Register() => await Json(await writer.PostAsync("/v1/people", new MultipartFormDataContent
            {
                { new StringContent("jolie"), "id" }, { File(jolie[0], "image/jpeg"), "image", "a.jpg" }, { File(jolie[1], "image/jpeg"), "image", "b.jpg" },
            }), HttpStatusCode.Created);
            async Task<string?> Who()
            {
                var seen = await Json(await reader.PostAsync("/v1/recognize", File(jolie[2], "image/jpeg")), HttpStatusCode.OK);
                var face = Assert.Single(seen.GetProperty("faces").EnumerateArray());
                return face.GetProperty("known").GetBoolean() ? face.GetProperty("identity").GetString() : null;
            }
            await Register();
            Assert.Equal("jolie", await Who());

            // two float templates would not match the int8 model's embeddings: refused unless the caller accepts re-enrolment
            var refused = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "fr_feature.int8" }), HttpStatusCode.Conflict);
            Assert.Contains("2 face templates", refused.GetProperty("detail").GetString());
            Assert.Equal("jolie", await Who()); // nothing changed

            var switched = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "fr_feature.int8", reEnrol = true }), HttpStatusCode.OK);
            Assert.Equal("fr_feature.int8", switched.GetProperty("templateModel").GetString());
            Assert.Equal(2, switched.GetProperty("templatesNeedingReEnrolment").GetInt32());
            Assert.Null(await Who()); // her float templates are not compared with int8 embeddings
            var stats = await Json(await reader.GetAsync("/v1/stats"), HttpStatusCode.OK);
            Assert.Equal("fr_feature.int8", stats.GetProperty("models").GetProperty("face").GetString());
            Assert.Equal(2, stats.GetProperty("gallery").GetProperty("staleFaceTemplates").GetInt32());
            var models = await Json(await reader.GetAsync("/v1/models"), HttpStatusCode.OK);
            Assert.Contains(models.GetProperty("models").EnumerateArray(), m => m.GetProperty("id").GetString() == "fr_feature.int8" && m.GetProperty("active").GetBoolean());

            // re-enrolled under the new model, she is known again; the embeddings API says which model made its vectors
            await Register();
            Assert.Equal("jolie", await Who());
            var vectors = await Json(await reader.PostAsync("/v1/embeddings", File(jolie[3], "image/jpeg")), HttpStatusCode.OK);
            Assert.Equal("fr_feature.int8", vectors.GetProperty("model").GetString());

            // and back: the float templates she had are in force again, the int8 ones wait
            var back = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "fr_feature", reEnrol = true }), HttpStatusCode.OK);
            Assert.Equal(2, back.GetProperty("templatesNeedingReEnrolment").GetInt32());
            Assert.Equal("jolie", await Who());
            Assert.True(daemon.Stop(), daemon.Log);
        }
    }

    [Fact]
    public async Task The_speaker_embedder_switches_live_and_back()
    {
        var cli = new CliRunner { ModelsDirectory = QuantizationTests.ModelsWithInt8Embedder() };
        var (enrol, read, admin) = (Key(cli, "enrol"), Key(cli, "read"), Key(cli, "admin"));
        var speech = TestEnvironment.Speech("1688");
        var (daemon, at) = Start(cli, AnySpeed);
        using (daemon)
        {
            using var writer = Client(at, enrol);
            using var reader = Client(at, read);
            using var boss = Client(at, admin);
            await Json(await writer.PostAsync("/v1/people", new MultipartFormDataContent
            {
                { new StringContent("reader"), "id" }, { File(speech[0], "audio/flac"), "audio", "a.flac" }, { File(speech[1], "audio/flac"), "audio", "b.flac" },
            }), HttpStatusCode.Created);
            async Task<HttpResponseMessage> Verify() => await reader.PostAsync("/v1/verify/reader", new MultipartFormDataContent { { File(speech[2], "audio/flac"), "audio", "c.flac" } });
            Assert.True((await Json(await Verify(), HttpStatusCode.OK)).GetProperty("accepted").GetBoolean());

            var refused = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { voice = "nnid_speaker.int8" }), HttpStatusCode.Conflict);
            Assert.Contains("voice templates", refused.GetProperty("detail").GetString());
            var switched = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { voice = "nnid_speaker.int8", reEnrol = true }), HttpStatusCode.OK);
            Assert.Equal("nnid_speaker.int8", switched.GetProperty("templateModel").GetString());
            Assert.Equal("nnid_speaker.int8", (await Json(await reader.GetAsync("/v1/stats"), HttpStatusCode.OK)).GetProperty("models").GetProperty("voice").GetString());
            // her recordings were enrolled with the float model: nothing to compare with, said so, never a score across models
            var none = await (await Verify()).Content.ReadAsStringAsync();
            Assert.Contains("no voice template for model nnid_speaker.int8", none);

            await Json(await boss.PutAsJsonAsync("/v1/models/active", new { voice = "nnid_speaker", reEnrol = true }), HttpStatusCode.OK);
            Assert.True((await Json(await Verify(), HttpStatusCode.OK)).GetProperty("accepted").GetBoolean());
            Assert.True(daemon.Stop(), daemon.Log);
        }
    }

    [Fact]
    public async Task A_model_over_the_embedders_time_budget_is_refused_and_nothing_changes()
    {
        var cli = new CliRunner { ModelsDirectory = QuantizationTests.ModelsWithInt8Embedder() };
        var (read, admin) = (Key(cli, "read"), Key(cli, "admin"));
        var (daemon, at) = Start(cli, new Dictionary<string, string> { ["ECHOFACE__Api__FaceEmbedBudgetMs"] = "0.01", ["ECHOFACE__Api__VoiceEmbedBudgetMs"] = "0.01" });
        using (daemon)
        {
            using var boss = Client(at, admin);
            var face = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "fr_feature.int8", reEnrol = true }), HttpStatusCode.UnprocessableEntity);
            Assert.Contains("Api.FaceEmbedBudgetMs", face.GetProperty("detail").GetString());
            var voice = await Json(await boss.PutAsJsonAsync("/v1/models/active", new { voice = "nnid_speaker.int8", reEnrol = true }), HttpStatusCode.UnprocessableEntity);
            Assert.Contains("Api.VoiceEmbedBudgetMs", voice.GetProperty("detail").GetString());
            using var reader = Client(at, read);
            var models = (await Json(await reader.GetAsync("/v1/stats"), HttpStatusCode.OK)).GetProperty("models");
            Assert.Equal("fr_feature", models.GetProperty("face").GetString());
            Assert.Equal("nnid_speaker", models.GetProperty("voice").GetString());
            Assert.True(daemon.Stop(), daemon.Log);
        }
    }

    private static string Key(CliRunner cli, string role) => cli.Run("api-key", "create", "--role", role, "--json").Json.GetProperty("key").GetString()!;
}
