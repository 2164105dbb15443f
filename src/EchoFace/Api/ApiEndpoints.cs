using System.Diagnostics;
using System.Numerics.Tensors;
using System.Threading.RateLimiting;
using EchoFace.Daemon;
using EchoFace.Face;
using EchoFace.Recognition;
using EchoFace.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EchoFace.Api;

/// <summary>
/// The local REST API (`/v1/...`, documented at /openapi.json): people, recognise, verify, compare, embeddings, stats and models, for
/// integrators beside the door. Every request carries an API key (`Authorization: Bearer ef_...` or `X-Api-Key`); errors are RFC 7807
/// problem details.
/// </summary>
public static class ApiEndpoints
{
    internal const string KeyItem = "echoface.key";
    private const string RateLimitPolicy = "per-key";

    public static IServiceCollection AddApi(this IServiceCollection services, Configuration.EchoFaceConfig config)
    {
        services.AddSingleton<ApiStats>();
        services.AddProblemDetails();
        services.AddOpenApi("v1", o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "EchoFace device API";
            doc.Info.Description = "Face and voice recognition on the device. Authenticate with `Authorization: Bearer <key>` (`echoface api-key create --role read|enrol|admin`).";
            return Task.CompletedTask;
        }));
        var perMinute = config.Api.RequestsPerMinute;
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (context, cancel) =>
            {
                var retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                // refused before the endpoint runs: counted here, or /v1/stats would not show keys hitting their limit (one name: paths are
                // the caller's to vary)
                context.HttpContext.RequestServices.GetRequiredService<ApiStats>().Request("rate limited", 429, 0);
                await Results.Problem(title: "Too many requests", statusCode: 429,
                    detail: $"this key may make {perMinute} requests a minute (Api.RequestsPerMinute); retry after {retry.TotalSeconds:F0} s").ExecuteAsync(context.HttpContext);
            };
            // a token bucket per key: bursts up to the minute's allowance, refilled evenly (one token every 60/N s, or N/600 every 100 ms)
            var (tokens, period) = perMinute >= 600 ? (perMinute / 600, TimeSpan.FromMilliseconds(100)) : (1, TimeSpan.FromMinutes(1) / perMinute);
            o.AddPolicy(RateLimitPolicy, http => RateLimitPartition.GetTokenBucketLimiter(
                (http.Items[KeyItem] as ApiKeyRecord)?.Id ?? "anonymous",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perMinute, TokensPerPeriod = tokens, ReplenishmentPeriod = period, QueueLimit = 0, AutoReplenishment = true,
                }));
        });
        return services;
    }

    public static void MapApi(this WebApplication app, DoorDaemon daemon)
    {
        var stats = app.Services.GetRequiredService<ApiStats>();
        // authentication before the rate limiter, which counts per key
        app.Use(async (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments("/v1")) { await next(http); return; }
            if (daemon.Recognition is not { } api)
            {
                await Results.Problem(title: "Not ready", statusCode: 503, detail: "the device is still loading its models, or its API is disabled (Api.Enabled)").ExecuteAsync(http);
                return;
            }
            var key = ApiKeyStore.KeyFrom(http.Request.Headers.Authorization.ToString(), http.Request.Headers["X-Api-Key"].ToString());
            if (key.Length == 0 || api.Keys.Verify(key) is not { } record)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Problem(title: "Unauthorized", statusCode: 401,
                    detail: key.Length == 0 ? "no API key: send Authorization: Bearer <key> (`echoface api-key create`)" : "the API key is unknown or revoked").ExecuteAsync(http);
                return;
            }
            http.Items[KeyItem] = record;
            await next(http);
        });
        app.UseRateLimiter();
        // answers the framework gives with no body (a content type an endpoint does not accept, an unknown route) become problems too
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            if (!http.Request.Path.StartsWithSegments("/v1")) return;
            var status = http.Response.StatusCode;
            var detail = status == 415
                ? $"content type '{http.Request.ContentType}' is not accepted by {http.Request.Method} {http.Request.Path}: see /openapi.json for what it takes (an image type, an audio type, multipart/form-data or JSON)"
                : $"{http.Request.Method} {http.Request.Path} answered {status}: see /openapi.json for the endpoints";
            await Problem(status, detail).ExecuteAsync(http);
        });
        app.MapOpenApi("/openapi.json");

        var v1 = app.MapGroup("/v1").RequireRateLimiting(RateLimitPolicy).AddEndpointFilter(async (context, next) =>
        {
            var watch = Stopwatch.StartNew();
            var http = context.HttpContext;
            IResult result;
            try { result = await next(context) as IResult ?? Results.Ok(); }
            catch (Exception e) when (StatusOf(e) is { } refused)
            {
                result = Problem(refused, e is InvalidDataException ? $"the multipart body is malformed: {e.Message}" : e.Message);
            }
            var status = (result as IStatusCodeHttpResult)?.StatusCode ?? 200;
            var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.ToString();
            stats.Request($"{http.Request.Method} {route}", status, watch.Elapsed.TotalMilliseconds);
            return result;
        }).WithTags("v1");

        v1.MapPost("/people", (HttpContext http, CancellationToken cancel) => RegisterEndpoint.RegisterAsync(daemon.Recognition!, http, cancel))
            .Role(ApiRole.Enrol).DisableAntiforgery()
            .WithSummary("Register a person from face images and/or voice recordings (multipart: id, name, group, face, image..., audio...)")
            .Accepts<IFormFile>("multipart/form-data").Produces<object>(201).Problems(400, 413, 415, 422);
        v1.MapGet("/people", () => Results.Json(daemon.Recognition!.Gallery(() => daemon.Recognition.Store.ListIdentities()))).Role(ApiRole.Read)
            .WithSummary("Every registered person with template counts").Produces<IReadOnlyList<IdentityRecord>>();
        v1.MapGet("/people/{id}", (string id) => Person(daemon.Recognition!, id)).Role(ApiRole.Read)
            .WithSummary("One person: templates (no vectors) and audit trail").Produces<object>().Problems(404);
        v1.MapDelete("/people/{id}", (string id, HttpContext http) => Remove(daemon.Recognition!, id, http)).Role(ApiRole.Enrol)
            .WithSummary("Remove a person and every template (audited)").Produces(204).Problems(404);
        v1.MapPost("/recognize", (HttpContext http, CancellationToken cancel) => RecognizeEndpoint.RecognizeAsync(daemon.Recognition!, stats, http, cancel))
            .Role(ApiRole.Read).DisableAntiforgery()
            .WithSummary("Every face in an image (box, identity or unknown, score, liveness, quality) and the one-shot answer from the image " +
                "and/or a recording: identity by face, voice or both, each score, the recommendations of an opted-in customer " +
                "(multipart: image, audio, id, topK; or a raw image body)")
            .Accepts<IFormFile>("image/jpeg", "image/png", "multipart/form-data").Produces<object>().Problems(400, 404, 413, 415, 422);
        v1.MapPost("/verify/{id}", VerifyAsync).Role(ApiRole.Read).DisableAntiforgery()
            .WithSummary("1:1 against a registered person by face and/or voice, with scores and thresholds")
            .Accepts<IFormFile>("multipart/form-data", "image/jpeg", "audio/wav").Produces<object>().Problems(400, 404, 413, 415, 422);
        v1.MapPost("/compare", CompareAsync).Role(ApiRole.Read).DisableAntiforgery()
            .WithSummary("Similarity of two faces (multipart parts a and b) or two embeddings (JSON {a: [...], b: [...]})")
            .Accepts<IFormFile>("multipart/form-data", "application/json").Produces<object>().Problems(400, 413, 415, 422);
        v1.MapPost("/embeddings", EmbeddingsAsync).Role(ApiRole.Read).DisableAntiforgery()
            .WithSummary("Detect and embed every face: vectors with the model id, for integrators who keep their own index")
            .Accepts<IFormFile>("image/jpeg", "image/png", "multipart/form-data").Produces<object>().Problems(400, 413, 415, 422);
        v1.MapPost("/collections/{name}/search", CollectionSearchAsync).Role(ApiRole.Read).DisableAntiforgery()
            .WithSummary("The photos of an indexed collection (`echoface collection index`) a person appears in, best first (raw image body or part image; ?top=20)")
            .Accepts<IFormFile>("image/jpeg", "image/png", "multipart/form-data").Produces<object>().Problems(400, 404, 413, 415, 422);
        // the shelf display polls this: the opted-in customer last seen and their products, empty (204) once they have gone
        v1.MapGet("/shelf/latest", () => daemon.ShelfCustomer is { } c ? Results.Json(c) : Results.NoContent()).Role(ApiRole.Read)
            .WithSummary("Retail: the customer the shelf display shows (customer_seen within Retail.DisplaySeconds), or 204").Produces<Access.CustomerSeen>().Produces(204);
        v1.MapGet("/snapshots/{name}", (string name) => Snapshot(name)).Role(ApiRole.Enrol)
            .WithSummary("The picture of a door decision (its access event's snapshot): the presence's best frame, face boxed and labelled, JPEG")
            .Produces(200, contentType: "image/jpeg").Problems(400, 404);
        v1.MapGet("/stats", (long? framesAfter) => Stats(daemon.Recognition!, stats, framesAfter)).Role(ApiRole.Read)
            .WithSummary("Requests, outcomes, latency percentiles per endpoint, provider and models in use; the door's frames " +
                         "(their time percentiles over the frames after framesAfter)").Produces<object>();
        v1.MapGet("/models", () => Models(daemon.Recognition!)).Role(ApiRole.Read)
            .WithSummary("Models in the manifest: task, state, which are in use, and templates per model").Produces<object>();
        v1.MapPut("/models/active", (ActiveModelRequest body, CancellationToken cancel) => SetActiveAsync(daemon.Recognition!, body, cancel)).Role(ApiRole.Admin)
            .WithSummary("Switch the face or voice embedder live among the manifest's; templates of another model are reported as needing re-enrolment (409 unless reEnrol: true), never mixed")
            .Produces<object>().Problems(400, 404, 409, 422);

        IResult Snapshot(string name)
        {
            if (!Access.DecisionSnapshots.IsName(name)) return Problem(400, $"'{name}' is not a snapshot name (an access event's snapshot field, e.g. 20261130T101500123Z-t4.jpg)");
            try { return daemon.Snapshots?.Read(name) is { } jpeg ? Results.File(jpeg, "image/jpeg") : Problem(404, $"no snapshot {name} (only the newest Access.SnapshotKeep are kept)"); }
            catch (InvalidDataException e) { return Problem(500, e.Message); } // the device's own file is damaged: not the caller's fault
        }

        async Task<IResult> VerifyAsync(string id, HttpContext http, CancellationToken cancel)
        {
            var api = daemon.Recognition!;
            if (api.Gallery(() => api.Store.GetIdentity(id)) is null) throw new BadInputException($"unknown identity '{id}'", BadInputKind.NotFound);
            var form = await ApiInput.FormAsync(http.Request, cancel);
            var images = await ApiInput.FilesAsync(http.Request, form, ["image"], "image", api.Config.Media.MaxBytes, cancel);
            var audio = await ApiInput.FilesAsync(http.Request, form, ["audio"], "audio", api.Config.Voice.Limits.MaxBytes, cancel);
            if (images.Count == 0 && audio.Count == 0) throw new ApiProblem(400, "send an image and/or an audio part (or a raw image or audio body)");
            object? face = null, voice = null;
            var accepted = true;
            if (images.Count > 0)
            {
                var image = ApiInput.Image(images[0], api.Config.Media);
                var found = await api.WithPipelineAsync(p => (IReadOnlyList<FaceResult>)p.Analyze(image), cancel);
                var v = api.Gallery(() => api.Faces.VerifyAnalysed(id, found, images[0].Name));
                accepted &= v.Accepted;
                face = new
                {
                    score = v.Score, threshold = v.Threshold, accepted = v.Accepted, method = v.Match?.Method, scores = v.Match?.PerModel,
                    liveness = v.Face.Liveness, box = Box(v.Face.Box),
                };
            }
            if (audio.Count > 0)
            {
                var analysed = api.AnalyzeVoice(ApiInput.Audio(audio[0], api.Config.Voice.Limits), audio[0].Name);
                var v = api.Gallery(() => api.Voice!.VerifyAnalysed(id, analysed));
                accepted &= v.Accepted;
                voice = new { score = v.Score, threshold = v.Threshold, accepted = v.Accepted, speechSeconds = Math.Round(analysed.SpeechSeconds, 2) };
            }
            return Results.Json(new { identity = id, accepted, face, voice });
        }

        async Task<IResult> CompareAsync(HttpContext http, CancellationToken cancel)
        {
            var api = daemon.Recognition!;
            float[] a, b;
            if (http.Request.HasJsonContentType())
            {
                CompareRequest? body;
                try { body = await http.Request.ReadFromJsonAsync<CompareRequest>(cancel); }
                catch (System.Text.Json.JsonException e) { throw new ApiProblem(400, $"malformed JSON: {e.Message}"); }
                if (body?.A is not { Length: > 0 } va || body.B is not { Length: > 0 } vb) throw new ApiProblem(400, "send {a: [numbers], b: [numbers]}");
                if (va.Length != vb.Length) throw new ApiProblem(422, $"the embeddings differ in length ({va.Length} and {vb.Length})");
                if (va.Concat(vb).Any(v => !float.IsFinite(v))) throw new ApiProblem(422, "the embeddings hold non-finite values");
                (a, b) = ((float[])va.Clone(), (float[])vb.Clone());
                Inference.Embeddings.Normalize(a);
                Inference.Embeddings.Normalize(b);
            }
            else
            {
                var form = await ApiInput.FormAsync(http.Request, cancel) ?? throw new ApiProblem(415, "send multipart parts a and b (images) or JSON {a, b} (embeddings)");
                var pa = (await ApiInput.FilesAsync(http.Request, form, ["a"], "image", api.Config.Media.MaxBytes, cancel)).FirstOrDefault() ?? throw new ApiProblem(400, "part a (an image) is missing");
                var pb = (await ApiInput.FilesAsync(http.Request, form, ["b"], "image", api.Config.Media.MaxBytes, cancel)).FirstOrDefault() ?? throw new ApiProblem(400, "part b (an image) is missing");
                var (ia, ib) = (ApiInput.Image(pa, api.Config.Media), ApiInput.Image(pb, api.Config.Media));
                var (fa, fb) = await api.WithPipelineAsync(p => (p.Analyze(ia), p.Analyze(ib)), cancel);
                a = (fa.FirstOrDefault() ?? throw new BadInputException($"{pa.Name}: no face found")).Embedding!;
                b = (fb.FirstOrDefault() ?? throw new BadInputException($"{pb.Name}: no face found")).Embedding!;
            }
            var similarity = TensorPrimitives.Dot(a, b);
            var threshold = api.Faces.Match.VerifyThreshold;
            return Results.Json(new { similarity, threshold, same = similarity >= threshold });
        }

        async Task<IResult> CollectionSearchAsync(string name, HttpContext http, CancellationToken cancel, int top = 20)
        {
            var api = daemon.Recognition!;
            if (top is < 1 or > 1000) throw new ApiProblem(400, "top must be between 1 and 1000");
            var image = await OneImageAsync(api, http, ["image"], cancel);
            var found = await api.WithPipelineAsync(p => p.Analyze(image), cancel);
            var query = found.FirstOrDefault()?.Embedding ?? throw new BadInputException("no face found in the query image");
            var watch = Stopwatch.StartNew();
            var result = api.Collections.Search(name, query, top) ?? throw new BadInputException($"no collection '{name}' (`echoface collection index {name} FOLDER`)", BadInputKind.NotFound);
            var threshold = api.Config.Match.VerifyThreshold;
            return Results.Json(new
            {
                collection = name, faces = result.Faces, threshold, searchMs = Math.Round(watch.Elapsed.TotalMilliseconds, 2),
                results = result.Hits.Select(h => new { path = h.Path, faceId = h.FaceId, score = h.Score, match = h.Score >= threshold }),
            });
        }

        async Task<IResult> EmbeddingsAsync(HttpContext http, CancellationToken cancel)
        {
            var api = daemon.Recognition!;
            var image = await OneImageAsync(api, http, ["image"], cancel);
            var found = await api.WithPipelineAsync(p => p.Analyze(image), cancel);
            return Results.Json(new
            {
                model = api.FaceEmbedder, modelVersion = api.Faces.ModelVersion, dimension = found.FirstOrDefault()?.Embedding?.Length ?? 0,
                faces = found.Select(f => new { box = Box(f.Box), quality = Quality(f.Quality), liveness = f.Liveness, embedding = f.Embedding }),
            });
        }
    }

    private static async Task<Media.RgbImage> OneImageAsync(RecognitionService api, HttpContext http, string[] parts, CancellationToken cancel)
    {
        var form = await ApiInput.FormAsync(http.Request, cancel);
        var files = await ApiInput.FilesAsync(http.Request, form, parts, "image", api.Config.Media.MaxBytes, cancel);
        if (files.Count == 0)
            throw form is null && !string.IsNullOrEmpty(http.Request.ContentType)
                ? new ApiProblem(415, $"content type {http.Request.ContentType} is not an image: send image/jpeg, image/png, ... or multipart with an image part")
                : new ApiProblem(400, "send an image: a raw image body or a multipart part named image");
        return ApiInput.Image(files[0], api.Config.Media);
    }

    /// <summary>The store's connection is the door's: every read of it goes through <see cref="RecognitionService.Gallery{T}"/>, like every change.</summary>
    private static IResult Person(RecognitionService api, string id) => api.Gallery(() =>
    {
        var who = api.Store.GetIdentity(id) ?? throw new BadInputException($"unknown identity '{id}'", BadInputKind.NotFound);
        var templates = api.Store.LoadTemplates("face", id).Concat(api.Store.LoadTemplates("voice", id))
            .Select(t => new { t.Id, t.Modality, t.ModelId, t.ModelVersion, t.Quality, t.Source }).ToList();
        return Results.Json(new { identity = who, templates, audit = api.Store.Audit(id) });
    });

    private static IResult Remove(RecognitionService api, string id, HttpContext http)
    {
        var key = (ApiKeyRecord)http.Items[KeyItem]!;
        var removed = api.Gallery(() => api.Enrolment.Remove(id, $"removed over the HTTP API with key {key.Id} ({key.Name})"));
        return removed ? Results.NoContent() : throw new BadInputException($"unknown identity '{id}'", BadInputKind.NotFound);
    }

    private static IResult Stats(RecognitionService api, ApiStats stats, long? framesAfter) => Results.Json(new
    {
        api = stats.Snapshot(), provider = api.Provider, door = ApiStats.Door(api.Door, framesAfter ?? 0),
        models = new { face = api.FaceEmbedder, faceVersion = api.Faces.ModelVersion, voice = api.VoiceEmbedder },
        gallery = new { faceTemplates = api.Faces.Gallery.TemplateCount, voiceTemplates = api.Voice?.Gallery.TemplateCount, staleFaceTemplates = api.Faces.StaleTemplates },
    });

    private static IResult Models(RecognitionService api)
    {
        var inUse = new Dictionary<string, string>
        {
            [api.Config.Face.Detector] = "face detector", [api.Config.Face.Landmarks] = "face landmarks", [api.FaceEmbedder] = "face embedder",
            [api.Config.Face.Liveness] = "face liveness",
        };
        if (api.Voice is not null)
        {
            inUse[api.VoiceEmbedder!] = "voice embedder";
            inUse[api.Config.Voice.VadModel] = "voice activity";
        }
        var counts = api.Gallery(() => api.Store.LoadTemplates("face").Concat(api.Store.LoadTemplates("voice")).GroupBy(t => t.ModelId).ToDictionary(g => g.Key, g => g.Count()));
        return Results.Json(new
        {
            provider = api.Provider,
            models = api.Manifest.Models.Select(m => new
            {
                id = m.Id, task = m.Task, status = api.Manifest.Verify(m).ToString().ToLowerInvariant(), sha256 = m.ShortHash, licence = m.Licence,
                active = inUse.ContainsKey(m.Id), role = inUse.GetValueOrDefault(m.Id), templates = counts.GetValueOrDefault(m.Id),
            }),
        });
    }

    /// <summary>
    /// Switches the face embedder among the manifest's face-embed models (a quantized variant included) while the daemon runs.
    /// Templates of another model are never compared with the new one's embeddings: when some would need re-enrolment the switch
    /// is refused (409, with their number) unless the request says reEnrol: true. The same holds for the speaker embedder.
    /// </summary>
    private static async Task<IResult> SetActiveAsync(RecognitionService api, ActiveModelRequest body, CancellationToken cancel)
    {
        if ((body.Face is null) == (body.Voice is null)) throw new ApiProblem(400, "send {\"face\": \"model id\"} or {\"voice\": \"model id\"}");
        var (wanted, task, current) = body.Face is { } f ? (f, "face-embed", api.FaceEmbedder) : (body.Voice!, "speaker-embed", api.VoiceEmbedder ?? api.Config.Voice.Embedder);
        var model = api.Manifest.Models.FirstOrDefault(m => m.Id == wanted) ?? throw new BadInputException($"no model '{wanted}' in the manifest", BadInputKind.NotFound);
        if (model.Task != task) throw new ApiProblem(422, $"'{wanted}' is a {model.Task} model, not {task}");
        if (api.Manifest.Verify(model) != Inference.ModelStatus.Ok) throw new ApiProblem(422, $"'{wanted}' is not fetched or its file does not match its hash (`echoface models fetch`)");
        if (wanted == current) return Results.Json(new { active = current, changed = false });
        var modality = body.Face is not null ? "face" : "voice";
        // the templates the new model can match: its own, or its float model's for a variant measured to share them
        var target = model.Variant is { SharesTemplates: true } v ? v.Of : wanted;
        var needing = api.Gallery(() => api.Store.LoadTemplates(modality).Count(t => t.ModelId != target));
        if (needing > 0 && body.ReEnrol != true)
            return Results.Problem(title: "Conflict", statusCode: 409,
                detail: $"{needing} {modality} templates are not of '{target}' and would need re-enrolment after switching from '{current}' to '{wanted}' " +
                        "(they are never mixed): send reEnrol: true to switch anyway");
        if (body.Face is not null) await api.SwitchFaceEmbedderAsync(wanted, cancel);
        else api.SwitchVoiceEmbedder(wanted);
        return Results.Json(new
        {
            active = wanted, previous = current, changed = true, templateModel = body.Face is not null ? api.FaceTemplateModel : api.Voice!.ModelId,
            templatesNeedingReEnrolment = needing,
            untilRestart = $"set {(body.Face is not null ? "Face" : "Voice")}.Embedder in the configuration (or push it from the fleet) to keep it after a restart",
        });
    }

    /// <summary>The status of a refusal answered with its message (the console's pages answer with the same); null for anything else.</summary>
    internal static int? StatusOf(Exception e) => e switch
    {
        ApiProblem p => p.Status,
        BadInputException b => b.Kind switch
        {
            BadInputKind.NotFound => 404,
            BadInputKind.TooLarge => 413,
            BadInputKind.Unsupported => 415,
            BadInputKind.Storage => 507,
            BadInputKind.Conflict => 409,
            _ => 422,
        },
        BadHttpRequestException h => h.StatusCode,
        InvalidDataException => 400,
        _ => null,
    };

    private sealed record CompareRequest(float[]? A, float[]? B);

    internal sealed record ActiveModelRequest(string? Face, string? Voice, bool? ReEnrol = null);

    internal static object Box(BoxF b) => new { x1 = b.X1, y1 = b.Y1, x2 = b.X2, y2 = b.Y2 };

    internal static object Quality(FaceQuality q) =>
        new { score = q.Score, eyeDistance = q.EyeDistance, sharpness = q.Sharpness, yaw = q.Yaw, pitch = q.Pitch, roll = q.Roll };

    private static IResult Problem(int status, string detail) => Results.Problem(detail: detail, statusCode: status, title: status switch
    {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        409 => "Conflict",
        413 => "Payload too large",
        415 => "Unsupported media type",
        422 => "Unprocessable input",
        429 => "Too many requests",
        _ => "Error",
    });

    /// <summary>Refuses a key whose role is below <paramref name="role"/> (403).</summary>
    private static RouteHandlerBuilder Role(this RouteHandlerBuilder endpoint, ApiRole role) => endpoint.AddEndpointFilter(async (context, next) =>
    {
        var key = (ApiKeyRecord)context.HttpContext.Items[KeyItem]!;
        return key.Role >= role ? await next(context)
            : Problem(403, $"key {key.Id} has role {key.Role.ToString().ToLowerInvariant()}; this needs {role.ToString().ToLowerInvariant()}");
    }).ProducesProblem(401).ProducesProblem(403).ProducesProblem(429);

    private static RouteHandlerBuilder Problems(this RouteHandlerBuilder endpoint, params int[] statuses)
    {
        foreach (var s in statuses) endpoint.ProducesProblem(s);
        return endpoint;
    }
}
