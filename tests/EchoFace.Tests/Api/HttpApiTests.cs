using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Api;

/// <summary>The HTTP API of a running daemon (camera none) over a real Kestrel on a free loopback port, with the shared photos and speech.</summary>
[Trait("Category", "Slow")]
public class HttpApiTests
{
    private readonly CliRunner _cli = new();
    private readonly string _dir = TestEnvironment.TempDirectory();
    private static string[] Jolie => CliRunner.Photos("df_angelina_jolie");

    private string Key(string role) => _cli.Run("api-key", "create", "--role", role, "--json").Json.GetProperty("key").GetString()!;

    private (DaemonProcess Daemon, Uri Base) Start(IDictionary<string, string>? environment = null) => Start(_cli, environment);

    /// <summary>A daemon with the API on a free loopback port, on the runner's data folder and models.</summary>
    internal static (DaemonProcess Daemon, Uri Base) Start(CliRunner cli, IDictionary<string, string>? environment = null)
    {
        var port = FreePort.Next();
        var daemon = new DaemonProcess(null, cli.DataDirectory, "api-1", environment, health: $"http://127.0.0.1:{port}", models: cli.ModelsDirectory);
        daemon.WaitListening();
        return (daemon, new Uri($"http://127.0.0.1:{port}"));
    }

    internal static HttpClient Client(Uri at, string? key)
    {
        var http = new HttpClient { BaseAddress = at };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    internal static ByteArrayContent File(string path, string type)
    {
        var content = new ByteArrayContent(System.IO.File.ReadAllBytes(path));
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    internal static async Task<JsonElement> Json(HttpResponseMessage r, HttpStatusCode expected)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"{(int)r.StatusCode} {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement;
    }

    [Fact]
    public async Task Register_recognise_verify_compare_embed_and_remove_a_person_by_face_and_voice()
    {
        var (enrol, read, admin) = (Key("enrol"), Key("read"), Key("admin"));
        // a small photo collection (her 8 photos and 2 of someone else) to search over HTTP
        var album = Path.Combine(_dir, "album");
        Directory.CreateDirectory(album);
        foreach (var photo in Jolie.Concat(CliRunner.Photos("df_jeff_bezos"))) System.IO.File.Copy(photo, Path.Combine(album, $"{Path.GetFileName(Path.GetDirectoryName(photo))}-{Path.GetFileName(photo)}"));
        Assert.Equal(0, _cli.Run("collection", "index", "album", album).ExitCode);
        var (daemon, at) = Start();
        using (daemon)
        {
            using var writer = Client(at, enrol);
            using var reader = Client(at, read);
            var speech = TestEnvironment.Speech("1688");
            var form = new MultipartFormDataContent
            {
                { new StringContent("jolie"), "id" }, { new StringContent("Angelina Jolie"), "name" }, { new StringContent("staff"), "group" },
                { File(Jolie[0], "image/jpeg"), "image", "a.jpg" }, { File(Jolie[1], "image/jpeg"), "image", "b.jpg" },
                { File(speech[0], "audio/flac"), "audio", "a.flac" }, { File(speech[1], "audio/flac"), "audio", "b.flac" },
            };
            var created = await Json(await writer.PostAsync("/v1/people", form), HttpStatusCode.Created);
            Assert.Equal(2, created.GetProperty("faceTemplates").GetInt32());
            Assert.Equal(2, created.GetProperty("voiceTemplates").GetInt32());

            var people = await Json(await reader.GetAsync("/v1/people"), HttpStatusCode.OK);
            var jolie = Assert.Single(people.EnumerateArray());
            Assert.Equal("staff", jolie.GetProperty("group").GetString());
            Assert.Equal(4, (await Json(await reader.GetAsync("/v1/people/jolie"), HttpStatusCode.OK)).GetProperty("templates").GetArrayLength());

            // recognise: a raw JPEG body; the face is known at once (the door's gallery is the API's)
            var seen = await Json(await reader.PostAsync("/v1/recognize", File(Jolie[2], "image/jpeg")), HttpStatusCode.OK);
            var face = Assert.Single(seen.GetProperty("faces").EnumerateArray());
            Assert.Equal("jolie", face.GetProperty("identity").GetString());
            Assert.True(face.GetProperty("live").GetBoolean());
            Assert.True(face.GetProperty("quality").GetProperty("score").GetSingle() > 0);
            Assert.Equal("face", seen.GetProperty("answer").GetProperty("decidedBy").GetString());

            // the one-shot flow: a photo and a recording, fused; a recording alone, decided by the voice
            var both = await Json(await reader.PostAsync("/v1/recognize", new MultipartFormDataContent
            {
                { File(Jolie[3], "image/jpeg"), "image", "c.jpg" }, { File(speech[3], "audio/flac"), "audio", "d.flac" }, { new StringContent("2"), "topK" },
            }), HttpStatusCode.OK);
            var answer = both.GetProperty("answer");
            Assert.Equal("jolie", answer.GetProperty("identityId").GetString());
            Assert.Equal("face + voice", answer.GetProperty("decidedBy").GetString());
            Assert.True(answer.GetProperty("voice").GetProperty("accepted").GetBoolean());
            var voiceOnly = new MultipartFormDataContent { { File(speech[4], "audio/flac"), "audio", "e.flac" } };
            var heard = await Json(await reader.PostAsync("/v1/recognize", voiceOnly), HttpStatusCode.OK);
            Assert.Equal("voice", heard.GetProperty("answer").GetProperty("decidedBy").GetString());
            Assert.Equal(0, heard.GetProperty("faces").GetArrayLength());

            var verified = await Json(await reader.PostAsync("/v1/verify/jolie", new MultipartFormDataContent
            {
                { File(Jolie[3], "image/jpeg"), "image", "c.jpg" }, { File(speech[2], "audio/flac"), "audio", "c.flac" },
            }), HttpStatusCode.OK);
            Assert.True(verified.GetProperty("accepted").GetBoolean(), verified.ToString());
            Assert.True(verified.GetProperty("voice").GetProperty("score").GetSingle() >= verified.GetProperty("voice").GetProperty("threshold").GetSingle());
            var wrongVoice = await Json(await reader.PostAsync("/v1/verify/jolie", new MultipartFormDataContent
            {
                { File(TestEnvironment.Speech("1998")[0], "audio/flac"), "audio", "other.flac" },
            }), HttpStatusCode.OK);
            Assert.False(wrongVoice.GetProperty("accepted").GetBoolean());

            var same = await Json(await reader.PostAsync("/v1/compare", new MultipartFormDataContent
            {
                { File(Jolie[2], "image/jpeg"), "a", "a.jpg" }, { File(Jolie[3], "image/jpeg"), "b", "b.jpg" },
            }), HttpStatusCode.OK);
            Assert.True(same.GetProperty("same").GetBoolean());
            var different = await Json(await reader.PostAsync("/v1/compare", new MultipartFormDataContent
            {
                { File(Jolie[2], "image/jpeg"), "a", "a.jpg" }, { File(CliRunner.Photos("df_jeff_bezos")[0], "image/jpeg"), "b", "b.jpg" },
            }), HttpStatusCode.OK);
            Assert.False(different.GetProperty("same").GetBoolean());

            var embedded = await Json(await reader.PostAsync("/v1/embeddings", File(Jolie[2], "image/jpeg")), HttpStatusCode.OK);
            Assert.Equal("fr_feature", embedded.GetProperty("model").GetString());
            var vector = Assert.Single(embedded.GetProperty("faces").EnumerateArray()).GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.Equal(512, vector.Length);
            var self = await Json(await reader.PostAsJsonAsync("/v1/compare", new { a = vector, b = vector }), HttpStatusCode.OK);
            Assert.Equal(1.0, self.GetProperty("similarity").GetDouble(), 3);

            var search = await Json(await reader.PostAsync("/v1/collections/album/search?top=10", File(Jolie[2], "image/jpeg")), HttpStatusCode.OK);
            var photos = search.GetProperty("results").EnumerateArray().ToList();
            Assert.Equal(10, photos.Count);
            Assert.All(photos.Take(8), p => Assert.Contains("df_angelina_jolie", p.GetProperty("path").GetString()));
            Assert.All(photos.Skip(8), p => Assert.False(p.GetProperty("match").GetBoolean()));
            await Json(await reader.PostAsync("/v1/collections/none/search", File(Jolie[2], "image/jpeg")), HttpStatusCode.NotFound);

            var models = await Json(await reader.GetAsync("/v1/models"), HttpStatusCode.OK);
            Assert.Contains(models.GetProperty("models").EnumerateArray(), m => m.GetProperty("id").GetString() == "fr_feature" && m.GetProperty("active").GetBoolean() && m.GetProperty("templates").GetInt32() == 2);
            using (var boss = Client(at, admin))
            {
                Assert.False((await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "fr_feature" }), HttpStatusCode.OK)).GetProperty("changed").GetBoolean());
                await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "nnid_speaker" }), HttpStatusCode.UnprocessableEntity);
                await Json(await boss.PutAsJsonAsync("/v1/models/active", new { face = "arcface_r100" }), HttpStatusCode.NotFound);
            }
            await Json(await writer.PutAsJsonAsync("/v1/models/active", new { face = "fr_feature" }), HttpStatusCode.Forbidden);

            // the load command integrators use: every request answered, none refused
            var bench = _cli.Run("bench", "http", "--url", at.ToString(), "--key", read, "--image", Jolie[2], "--clients", "0", "2", "--seconds", "1",
                "--json");
            Assert.True(bench.ExitCode == 0, bench.Stderr);
            var runs = bench.Json.GetProperty("runs").EnumerateArray().ToList();
            Assert.Equal([0, 2], runs.Select(r => r.GetProperty("clients").GetInt32()));
            Assert.Equal(0, runs[0].GetProperty("requests").GetInt32()); // the door alone
            Assert.All(runs, r => Assert.True(r.GetProperty("doorFps").GetDouble() >= 0));
            var run = runs[1];
            Assert.True(run.GetProperty("requests").GetInt32() > 0 && run.GetProperty("errors").GetInt32() == 0, run.ToString());
            Assert.True(run.GetProperty("p95").GetDouble() >= run.GetProperty("p50").GetDouble());

            var stats = await Json(await reader.GetAsync("/v1/stats"), HttpStatusCode.OK);
            Assert.True(stats.GetProperty("api").GetProperty("requests").GetInt64() >= 10);
            Assert.True(stats.GetProperty("api").GetProperty("latencyMs").GetProperty("POST /v1/recognize").GetProperty("p95").GetDouble() > 0);
            Assert.Equal("CPU", stats.GetProperty("provider").GetString());
            Assert.True(stats.GetProperty("door").GetProperty("frames").GetInt64() >= 0);

            // removal: audited, then the face is unknown again
            await Json(await reader.DeleteAsync("/v1/people/jolie"), HttpStatusCode.Forbidden);
            await Json(await writer.DeleteAsync("/v1/people/jolie"), HttpStatusCode.NoContent);
            await Json(await reader.GetAsync("/v1/people/jolie"), HttpStatusCode.NotFound);
            var after = await Json(await reader.PostAsync("/v1/recognize", File(Jolie[2], "image/jpeg")), HttpStatusCode.OK);
            Assert.False(Assert.Single(after.GetProperty("faces").EnumerateArray()).GetProperty("known").GetBoolean());
            Assert.True(daemon.Stop(), daemon.Log);
        }
        Assert.Empty(_cli.Run("people", "list", "--json").Json.EnumerateArray()); // nothing left in the store either
    }

    [Fact]
    public async Task Every_error_is_a_problem_document_with_the_right_status_and_the_openapi_document_lists_every_endpoint()
    {
        var (read, enrol) = (Key("read"), Key("enrol"));
        // a decision picture as the door leaves one (the door's own writing is tested in RunCommandTests)
        var snapshots = EchoFace.Access.DecisionSnapshots.In(_cli.DataDirectory, EchoFace.Storage.TemplateCipher.FromKeyFile(Path.Combine(_cli.DataDirectory, "template.key")),
            () => 10, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var snapshot = snapshots.Save(EchoFace.Media.ImageDecoder.DecodeFile(Jolie[0]), new EchoFace.Face.FaceResult(new EchoFace.Face.BoxF(10, 10, 90, 90), 0.9f, [], [], default, 0.9f, null),
            "jolie granted", true, new DateTimeOffset(2026, 11, 30, 10, 15, 0, TimeSpan.Zero), 1);
        Assert.Equal("20261130T101500000Z-t1.jpg", snapshot);
        var revoked = _cli.Run("api-key", "create", "--role", "admin", "--json").Json;
        Assert.Equal(0, _cli.Run("api-key", "revoke", revoked.GetProperty("id").GetString()!).ExitCode);
        var blank = TestEnvironment.Ffmpeg(Path.Combine(_dir, "blank.png"), "-f", "lavfi", "-i", "color=c=gray:s=320x240", "-frames:v", "1");
        var wide = TestEnvironment.Ffmpeg(Path.Combine(_dir, "wide.png"), "-f", "lavfi", "-i", "color=c=gray:s=1200x1000", "-frames:v", "1"); // few bytes, many pixels
        var (daemon, at) = Start(new Dictionary<string, string>
        {
            ["ECHOFACE__Media__MaxBytes"] = "1000000", ["ECHOFACE__Media__MaxPixels"] = "1100000", ["ECHOFACE__Api__RequestsPerMinute"] = "20",
        });
        using (daemon)
        {
            using var anonymous = Client(at, null);
            using var reader = Client(at, read);
            async Task Problem(HttpResponseMessage r, HttpStatusCode status, string detail)
            {
                var body = await Json(r, status);
                Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
                Assert.Equal((int)status, body.GetProperty("status").GetInt32());
                Assert.Contains(detail, body.GetProperty("detail").GetString());
            }
            await Problem(await anonymous.GetAsync("/v1/people"), HttpStatusCode.Unauthorized, "no API key");
            using (var old = Client(at, revoked.GetProperty("key").GetString()))
                await Problem(await old.GetAsync("/v1/people"), HttpStatusCode.Unauthorized, "unknown or revoked");
            await Problem(await reader.PostAsync("/v1/people", new MultipartFormDataContent { { new StringContent("x"), "id" } }), HttpStatusCode.Forbidden, "needs enrol");
            await Problem(await reader.PostAsync("/v1/recognize", new MultipartFormDataContent { { new StringContent("hello"), "note" } }), HttpStatusCode.BadRequest, "send an image");
            await Problem(await reader.PostAsync("/v1/recognize", new MultipartFormDataContent
            {
                { File(Jolie[0], "image/jpeg"), "image", "a.jpg" }, { new StringContent("many"), "topK" },
            }), HttpStatusCode.BadRequest, "topK must be a whole number");
            await Problem(await reader.PostAsync("/v1/recognize", new StringContent("not an image", System.Text.Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType, "content type 'text/plain; charset=utf-8' is not accepted");
            await Problem(await reader.PostAsync("/v1/recognize", File(blank, "image/jpeg")), HttpStatusCode.UnsupportedMediaType, "declared image/jpeg but its bytes are png");
            await Problem(await reader.PostAsync("/v1/recognize", File(Jolie[0], "image/jpeg")), HttpStatusCode.RequestEntityTooLarge, "over the limit");
            await Problem(await reader.PostAsync("/v1/embeddings", File(wide, "image/png")), HttpStatusCode.RequestEntityTooLarge, "over the pixel limit");
            await Problem(await reader.PostAsync("/v1/verify/nobody", File(Jolie[2], "image/jpeg")), HttpStatusCode.NotFound, "unknown identity 'nobody'");
            await Problem(await reader.PostAsync("/v1/compare", new MultipartFormDataContent
            {
                { File(blank, "image/png"), "a", "blank.png" }, { File(Jolie[2], "image/jpeg"), "b", "b.jpg" },
            }), HttpStatusCode.UnprocessableEntity, "no face found");
            await Problem(await reader.PostAsJsonAsync("/v1/compare", new { a = new[] { 1f, 0f }, b = new[] { 1f } }), HttpStatusCode.UnprocessableEntity, "differ in length");

            // decision pictures: to enrol keys, by the name in the access event, nothing else
            using (var enroller = Client(at, enrol))
            {
                var picture = await enroller.GetAsync("/v1/snapshots/20261130T101500000Z-t1.jpg");
                Assert.Equal("image/jpeg", picture.Content.Headers.ContentType?.MediaType);
                Assert.Equal(snapshots.Read(snapshot!), await picture.Content.ReadAsByteArrayAsync());
                await Problem(await enroller.GetAsync("/v1/snapshots/echoface.db"), HttpStatusCode.BadRequest, "is not a snapshot name");
                await Problem(await enroller.GetAsync("/v1/snapshots/20261130T101500000Z-t2.jpg"), HttpStatusCode.NotFound, "no snapshot");
            }
            await Problem(await reader.GetAsync("/v1/snapshots/20261130T101500000Z-t1.jpg"), HttpStatusCode.Forbidden, "needs enrol");

            // the OpenAPI document parses without errors and lists every endpoint
            var text = await anonymous.GetStringAsync("/openapi.json");
            var parsed = Microsoft.OpenApi.OpenApiDocument.Parse(text, "json");
            Assert.Empty(parsed.Diagnostic!.Errors);
            var paths = parsed.Document!.Paths;
            foreach (var (path, method) in new[]
                     {
                         ("/v1/people", "post"), ("/v1/people", "get"), ("/v1/people/{id}", "get"), ("/v1/people/{id}", "delete"), ("/v1/recognize", "post"),
                         ("/v1/verify/{id}", "post"), ("/v1/compare", "post"), ("/v1/embeddings", "post"), ("/v1/stats", "get"), ("/v1/models", "get"),
                         ("/v1/models/active", "put"), ("/v1/shelf/latest", "get"), ("/v1/collections/{name}/search", "post"), ("/v1/snapshots/{name}", "get"),
                     })
                Assert.True(paths.TryGetValue(path, out var item) && item.Operations!.Keys.Any(k => k.ToString().Equals(method, StringComparison.OrdinalIgnoreCase)), $"{method} {path} missing");

            // the rate limit: 20 a minute for this key, so a burst runs out and is told when to come back
            HttpResponseMessage last = null!;
            for (var i = 0; i < 30; i++)
            {
                last = await reader.GetAsync("/v1/stats");
                if (last.StatusCode == HttpStatusCode.TooManyRequests) break;
            }
            await Problem(last, HttpStatusCode.TooManyRequests, "20 requests a minute");
            Assert.True(last.Headers.RetryAfter is not null);
            using (var other = Client(at, enrol)) // another key's bucket: it sees the refusals counted
            {
                var counted = await Json(await other.GetAsync("/v1/stats"), HttpStatusCode.OK);
                Assert.True(counted.GetProperty("api").GetProperty("byStatus").GetProperty("429").GetInt64() >= 1, counted.ToString());
            }
            Assert.True(daemon.Stop(), daemon.Log);
        }
    }

    [Fact]
    public async Task Beyond_loopback_the_api_needs_tls_and_serves_it_with_the_configured_certificate()
    {
        // plain http on every interface with the API on: refused before anything starts
        var open = _cli.Run("run", "--camera", "none", "--door", "simulated", "--health", "http://0.0.0.0:0", "--once");
        Assert.Equal(2, open.ExitCode);
        Assert.Contains("must be https://", open.Stderr);

        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=echoface-test", rsa,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certFile = Path.Combine(_dir, "api.crt");
        var keyFile = Path.Combine(_dir, "api.key");
        System.IO.File.WriteAllText(certFile, certificate.ExportCertificatePem());
        System.IO.File.WriteAllText(keyFile, rsa.ExportPkcs8PrivateKeyPem());
        var read = Key("read");
        var port = FreePort.Next();
        using var daemon = new DaemonProcess(null, _cli.DataDirectory, "api-tls", new Dictionary<string, string>
        {
            ["ECHOFACE__Api__CertificateFile"] = certFile, ["ECHOFACE__Api__KeyFile"] = keyFile,
        }, health: $"https://127.0.0.1:{port}");
        daemon.WaitFor("Ready in", "the daemon did not start");
        // trust exactly the configured certificate
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == certificate.Thumbprint };
        using var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", read);
        var response = await Eventually.SucceedsAsync<HttpResponseMessage, HttpRequestException>(() => http.GetAsync("/v1/people"),
            "GET /v1/people over https", TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(daemon.Stop(), daemon.Log);
    }
}
