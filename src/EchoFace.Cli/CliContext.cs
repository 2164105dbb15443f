using System.CommandLine;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EchoFace.Cli;

/// <summary>
/// One command's engine, from the composition root (<see cref="EngineServices.AddEchoFace"/>) and the global options. Services
/// are built on first use: `models` never opens the database, `people` never loads a model.
/// </summary>
public sealed class CliContext : IDisposable
{
    private readonly ServiceProvider _services;

    public CliContext(ParseResult parse, GlobalOptions globals, Output output)
    {
        Output = output;
        Json = parse.GetValue(globals.Json);
        Config = EchoFaceConfig.Load(parse.GetValue(globals.Config));
        DataDirectory = ResolveDataDirectory(parse.GetValue(globals.Data));
        // logs go to stderr so --json output on stdout stays parseable
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddFilter(level => level >= LogLevel.Warning));
        _services = new ServiceCollection().AddSingleton(LoggerFactory)
            .AddEchoFace(Config, new EngineLocation(DataDirectory, parse.GetValue(globals.Models))).BuildServiceProvider();
    }

    public Output Output { get; }
    public bool Json { get; }
    public EchoFaceConfig Config { get; }
    public string DataDirectory { get; }
    public ILoggerFactory LoggerFactory { get; }
    public ImageLimits Limits => Config.Media;

    public static string ResolveDataDirectory(string? option)
    {
        if (!string.IsNullOrEmpty(option)) return Path.GetFullPath(option);
        var env = Environment.GetEnvironmentVariable("ECHOFACE_DATA");
        if (!string.IsNullOrEmpty(env)) return Path.GetFullPath(env);
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("INVOCATION_ID"))) return "/var/lib/echoface"; // started by systemd
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "echoface");
    }

    private T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public ModelManifest Manifest => Get<ModelManifest>();
    public InferenceSessionFactory Factory => Get<InferenceSessionFactory>();
    public FacePipeline Pipeline => Get<FacePipeline>();
    public TemplateCipher Cipher => Get<TemplateCipher>();
    public GalleryStore Store => Get<GalleryStore>();
    public ApiKeyStore ApiKeys => Get<ApiKeyStore>();
    public Access.DecisionSnapshots Snapshots => Get<Access.DecisionSnapshots>();
    public FaceRecognizer Recognizer => Get<FaceRecognizer>();
    public VoicePipeline Voice => Get<VoicePipeline>();
    public VoiceRecognizer VoiceRecognizer => Get<VoiceRecognizer>();
    /// <summary>The speaker models when they loaded (the one-shot flow answers by face alone without them).</summary>
    public Daemon.LoadedVoice LoadedVoice => Get<Daemon.LoadedVoice>();
    public Access.OneShotRecognizer OneShot => Get<Access.OneShotRecognizer>();

    /// <summary>Enrolment for a command that enrols faces or voices: only that modality's models load.</summary>
    public Enrolment Enrolment(bool faces, bool voices) =>
        new(Store, faces ? Recognizer : null, voices ? VoiceRecognizer : null) { Guard = Get<StorageGuard>() };

    public RgbImage Decode(string path) => ImageDecoder.DecodeFile(path, Limits);

    public AudioClip DecodeAudio(string path) => AudioDecoder.DecodeFile(path, Config.Voice.Limits);

    public void Dispose()
    {
        _services.Dispose();
        LoggerFactory.Dispose();
    }
}
