using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Face;
using EchoFace.Gallery;
using EchoFace.Hardware;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Recommend;
using EchoFace.Storage;
using EchoFace.Sync;
using EchoFace.Voice;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EchoFace.Daemon;

/// <summary>
/// Where the engine keeps its data and finds its models; <paramref name="CameraFrames"/> when it analyses camera frames (the
/// door).
/// </summary>
public sealed record EngineLocation(string DataDirectory, string? ModelsDirectory, bool CameraFrames = false)
{
    public string Database(EchoFaceConfig config) => Path.Combine(DataDirectory, config.Storage.Database);
}

/// <summary>The speaker models when they loaded: the door loads them whatever the policy, so a fleet may switch it to face+voice live.</summary>
public sealed record LoadedVoice(VoicePipeline? Pipeline, VoiceRecognizer? Recognizer);

/// <summary>
/// The composition root: every engine service, built once, on first use, from the configuration. The CLI's commands and the door
/// daemon both take their services from here, so a command that never asks for a model never loads one, and the daemon can run
/// inside a test process (with a fake clock: replace <see cref="TimeProvider"/>).
/// </summary>
public static class EngineServices
{
    public static IServiceCollection AddEchoFace(this IServiceCollection services, EchoFaceConfig config, EngineLocation location)
    {
        // the sections a fleet may change live reach the services through options monitors of the configuration in force
        var inForce = new ConfigurationInForce(config);
        services.AddSingleton(config).AddSingleton(location).AddSingleton(inForce)
            .AddSingleton(inForce.Monitor(c => c.Access, "Access")).AddSingleton(inForce.Monitor(c => c.Match, "Match"))
            .AddSingleton(inForce.Monitor(c => c.Door, "Door")).AddSingleton(inForce.Monitor(c => c.Voice, "Voice"));
        // a test may have registered its own clock (FakeTimeProvider) or loggers first
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        return services.AddStorage().AddInference().AddHardware().AddMedia().AddFace().AddVoice().AddRecognition().AddAccess().AddSync();
    }

    private static ILogger Log(this IServiceProvider s, string category) => s.GetRequiredService<ILoggerFactory>().CreateLogger(category);
    private static EchoFaceConfig Config(this IServiceProvider s) => s.GetRequiredService<EchoFaceConfig>();
    private static IOptionsMonitor<T> Live<T>(this IServiceProvider s) => s.GetRequiredService<IOptionsMonitor<T>>();
    private static EngineLocation Where(this IServiceProvider s) => s.GetRequiredService<EngineLocation>();

    public static IServiceCollection AddStorage(this IServiceCollection services) => services
        .AddSingleton(s => TemplateCipher.FromKeyFile(Path.Combine(s.Where().DataDirectory, s.Config().Storage.KeyFile)))
        .AddSingleton(s => new GalleryStore(s.Where().Database(s.Config()), s.GetRequiredService<TemplateCipher>()))
        .AddSingleton(s => new StorageGuard(s.Where().DataDirectory, s.Config().Storage.MinFreeMegabytes * (1L << 20),
            s.Config().Storage.ReserveMegabytes * (1L << 20), s.GetRequiredService<TimeProvider>()))
        .AddSingleton(s => new EventOutbox(s.Where().Database(s.Config()), guard: s.GetRequiredService<StorageGuard>(),
            fullSync: s.Config().Storage.OutboxSynchronous == "FULL"))
        .AddSingleton(s => new RecommendationStore(s.Where().Database(s.Config())))
        .AddSingleton(s => new ApiKeyStore(s.Where().Database(s.Config())));

    public static IServiceCollection AddInference(this IServiceCollection services) => services
        .AddSingleton(s => ModelManifest.Discover(s.Where().ModelsDirectory))
        .AddSingleton(s => new InferenceSessionFactory(s.GetRequiredService<ModelManifest>(), s.Config().Inference, s.Log("EchoFace.Inference"),
            dataDirectory: s.Where().DataDirectory));

    public static IServiceCollection AddHardware(this IServiceCollection services) => services
        .AddSingleton(s =>
        {
            var door = s.Config().Door;
            var io = DoorIoFactory.Open(door.Board, door.Pins, s.GetRequiredService<TimeProvider>(), out var fallback);
            if (fallback is not null) s.Log("EchoFace.Daemon").LogWarning("No GPIO door board ({Reason}): using the simulated board", fallback);
            return io;
        })
        .AddSingleton(s =>
        {
            var (door, outbox) = (s.Live<DoorOptions>(), s.GetRequiredService<EventOutbox>());
            // every door event (opened, held open, forced, fail position) is an event for the fleet
            return new DoorController(s.GetRequiredService<IDoorIo>(), door,
                e => outbox.Append(e.Kind, door.CurrentValue.Name, e, e.State.ToString()), s.GetRequiredService<TimeProvider>());
        });

    public static IServiceCollection AddMedia(this IServiceCollection services) => services
        .AddSingleton(s => new CameraSource(s.Config().Camera, s.Log("EchoFace.Camera"), s.GetRequiredService<TimeProvider>()))
        .AddSingleton(s => new MicrophoneSource(s.Config().Microphone.Source));

    public static IServiceCollection AddFace(this IServiceCollection services) => services
        .AddSingleton(s =>
        {
            // camera frames are never tight crops: padding a frame with no face would only double the detector's work (a copy: the
            // configuration itself stays as loaded, so the fleet's shadow compares like with like)
            var face = s.Config().Face.Copy();
            if (s.Where().CameraFrames) face.PadOnMiss = 0;
            return face.Budget > 0 ? WithinBudget(s, face) : face;
        })
        .AddSingleton(s => new FacePipeline(s.GetRequiredService<InferenceSessionFactory>(), s.GetRequiredService<FaceOptions>()));

    /// <summary>Face.Budget: the most accurate embedding choice that fits this device's measured timings replaces the configured one.</summary>
    private static FaceOptions WithinBudget(IServiceProvider s, FaceOptions face)
    {
        var choices = FaceBudget.Choices(s.GetRequiredService<ModelManifest>(), face.Fusion, FaceBudget.Load(s.Where().DataDirectory));
        var choice = FaceBudget.Choose(choices, face.Budget) ?? throw new ModelException(
            $"no face embedding fits Face.Budget {face.Budget} ms on this device: the fastest, {choices.MinBy(c => c.Ms)?.Name}, takes " +
            $"{choices.Min(c => (double?)c.Ms):F1} ms (`echoface models` lists them)");
        s.Log("EchoFace.Face").LogInformation(
            "Face.Budget {Budget} ms: {Choice} ({Ms:F1} ms per face here, TAR@FAR 1e-3 {Accuracy:P2} on the development sets)",
            face.Budget, choice.Name, choice.Ms, choice.Accuracy);
        return FaceBudget.Apply(choice, face);
    }

    public static IServiceCollection AddVoice(this IServiceCollection services) => services
        .AddSingleton(s => new VoicePipeline(s.GetRequiredService<InferenceSessionFactory>(), s.Live<VoiceOptions>()))
        .AddSingleton(s =>
        {
            try
            {
                var pipeline = s.GetRequiredService<VoicePipeline>();
                return new LoadedVoice(pipeline, s.GetRequiredService<VoiceRecognizer>());
            }
            catch (ModelException e) when (s.Config().Access.Policy != Policies.FaceVoice)
            {
                s.Log("EchoFace.Daemon").LogWarning("Voice models not loaded ({Reason}): a face+voice policy would deny with voice_unavailable",
                    e.Message);
                return new LoadedVoice(null, null);
            }
        });

    public static IServiceCollection AddRecognition(this IServiceCollection services) => services
        .AddSingleton(s => new FaceRecognizer(s.GetRequiredService<FacePipeline>(), s.GetRequiredService<GalleryStore>(), s.Live<MatchOptions>(),
            s.GetRequiredService<ModelManifest>().Version(s.GetRequiredService<FaceOptions>().Embedder), s.GetRequiredService<ModelManifest>().Version))
        .AddSingleton(s => new VoiceRecognizer(s.GetRequiredService<VoicePipeline>(), s.GetRequiredService<GalleryStore>(),
            s.GetRequiredService<ModelManifest>().Version(s.Config().Voice.Embedder)))
        .AddSingleton(s => new Enrolment(s.GetRequiredService<GalleryStore>(), s.GetRequiredService<FaceRecognizer>(),
            s.GetRequiredService<LoadedVoice>().Recognizer)
        { Guard = s.GetRequiredService<StorageGuard>() });

    public static IServiceCollection AddAccess(this IServiceCollection services) => services
        .AddSingleton(s => new AccessPolicy(s.Live<AccessOptions>(), s.Live<MatchOptions>(), s.GetRequiredService<TimeProvider>()))
        .AddSingleton(s =>
        {
            var access = s.Live<AccessOptions>();
            return DecisionSnapshots.In(s.Where().DataDirectory, s.GetRequiredService<TemplateCipher>(), () => access.CurrentValue.SnapshotKeep,
                s.Log("EchoFace.Access"), s.GetRequiredService<StorageGuard>());
        })
        .AddSingleton(s => new ShelfRecommendations(s.GetRequiredService<RecommendationStore>(), LoadRecommender(s), s.Config().Retail.TopK))
        .AddSingleton(s => new OneShotRecognizer(s.GetRequiredService<FaceRecognizer>(), s.GetRequiredService<LoadedVoice>().Recognizer,
            s.GetRequiredService<GalleryStore>(), s.GetRequiredService<ShelfRecommendations>(), s.GetRequiredService<ModelManifest>()))
        .AddSingleton(s =>
        {
            var (config, voice) = (s.Config(), s.GetRequiredService<LoadedVoice>());
            var manifest = s.GetRequiredService<ModelManifest>();
            // the face options in force: Face.Budget may have chosen another embedder than the configuration names
            var face = s.GetRequiredService<FaceOptions>();
            var models = new ModelsUsed(face.Detector, face.Embedder, manifest.Version(face.Embedder), face.Liveness,
                voice.Recognizer is null ? null : config.Voice.Embedder)
            {
                Fusion = face.Fusion.Mode == "off" ? null : $"{face.Fusion.Mode}: {string.Join(" + ", face.Fusion.Embedders)}",
            };
            return new DoorTerminal(s.GetRequiredService<FacePipeline>(), s.GetRequiredService<FaceRecognizer>(), voice.Recognizer,
                s.GetRequiredService<MicrophoneSource>(), s.GetRequiredService<AccessPolicy>(), s.GetRequiredService<DoorController>(),
                s.GetRequiredService<EventOutbox>(), s.GetRequiredService<GalleryStore>(), config.Door.Name, models, s.Log("EchoFace.Access"),
                s.GetRequiredService<TimeProvider>())
            {
                // built whatever the policy, so a fleet may switch a camera to retail without a restart
                Shelf = s.GetRequiredService<ShelfRecommendations>(),
                Snapshots = s.GetRequiredService<DecisionSnapshots>(),
            };
        });

    public static IServiceCollection AddSync(this IServiceCollection services) => services
        .AddSingleton(s =>
        {
            var (config, pipeline, faces) = (s.Config(), s.GetRequiredService<FacePipeline>(), s.GetRequiredService<FaceRecognizer>());
            var (io, terminal) = (s.GetRequiredService<IDoorIo>(), s.GetRequiredService<DoorTerminal>());
            var camera = s.GetRequiredService<CameraSource>();
            var (access, door) = (s.Live<AccessOptions>(), s.Live<DoorOptions>());
            return new FleetLink(config.Fleet, s.GetRequiredService<EventOutbox>(), () => new
            {
                provider = pipeline.Provider, faceTemplates = faces.Gallery.TemplateCount, policy = access.CurrentValue.Policy,
                camera = camera.Source, door = door.CurrentValue.Name, board = io.Name, models = terminal.Models,
                // the face models whose templates this device takes (the fleet server computes a template for each)
                faceModels = pipeline.OtherEmbedders.Select(e => e.ModelId).Prepend(pipeline.EmbedderModelId).ToArray(),
            }, s.Log("EchoFace.Fleet"));
        });

    /// <summary>The door terminal as a hosted service, with what it serves: the fleet's handlers, its telemetry and the API's engine.</summary>
    public static IServiceCollection AddDoorDaemon(this IServiceCollection services, RunRequest request) => services
        .AddSingleton(request)
        .AddSingleton<DaemonTelemetry>()
        .AddSingleton<RemoteUnlock>()
        .AddSingleton<FleetHandlers>()
        .AddSingleton<RecognitionService>()
        .AddSingleton<DoorDaemon>()
        .AddHostedService(s => s.GetRequiredService<DoorDaemon>());

    /// <summary>The local recommender artifact, when there is one; without it customers get only the lists the fleet pushes.</summary>
    private static RecommenderModel? LoadRecommender(IServiceProvider s)
    {
        var (config, log) = (s.Config(), s.Log("EchoFace.Daemon"));
        var folder = Path.Combine(s.Where().DataDirectory, config.Retail.Model);
        if (!File.Exists(Path.Combine(folder, RecommenderModel.ManifestFile)))
        {
            if (config.Access.Policy == Policies.Retail)
                log.LogWarning("No recommender artifact in {Folder} (`echoface recommend train --out {Folder}`): customers get the fleet's lists only",
                    folder, folder);
            return null;
        }
        RecommenderModel model;
        try { model = RecommenderModel.Load(folder); }
        catch (BadInputException e) when (config.Access.Policy != Policies.Retail)
        {
            log.LogWarning("Recommender artifact not loaded: {Reason}", e.Message);
            return null;
        }
        log.LogInformation("Recommender version {Version} loaded: {Model}, {Customers} customers, {Items} items", model.Manifest.Version,
            model.Manifest.DefaultModel, model.Manifest.Customers, model.Manifest.Items.Count);
        return model;
    }
}
