using System.CommandLine;
using EchoFace.Configuration;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;
using Microsoft.Extensions.Logging;

namespace EchoFace.Cli;

/// <summary>Composes the engine for one command from the global options, lazily: `models` never opens the database, `people` never loads a model.</summary>
public sealed class CliContext : IDisposable
{
    private readonly ParseResult _parse;
    private readonly GlobalOptions _globals;
    private ModelManifest? _manifest;
    private InferenceSessionFactory? _factory;
    private FacePipeline? _pipeline;
    private GalleryStore? _store;
    private TemplateCipher? _cipher;
    private FaceRecognizer? _recognizer;
    private VoicePipeline? _voice;
    private VoiceRecognizer? _voiceRecognizer;

    public CliContext(ParseResult parse, GlobalOptions globals, Output output)
    {
        _parse = parse;
        _globals = globals;
        Output = output;
        Json = parse.GetValue(globals.Json);
        Config = EchoFaceConfig.Load(parse.GetValue(globals.Config));
        DataDirectory = ResolveDataDirectory(parse.GetValue(globals.Data));
        // logs go to stderr so --json output on stdout stays parseable
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddFilter(level => level >= LogLevel.Warning));
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

    public ModelManifest Manifest => _manifest ??= ModelManifest.Discover(_parse.GetValue(_globals.Models));

    public InferenceSessionFactory Factory => _factory ??=
        new InferenceSessionFactory(Manifest, Config.Inference, LoggerFactory.CreateLogger("EchoFace.Inference"));

    public FacePipeline Pipeline => _pipeline ??= new FacePipeline(Factory, Config.Face);

    public TemplateCipher Cipher => _cipher ??= TemplateCipher.FromKeyFile(Path.Combine(DataDirectory, Config.Storage.KeyFile));

    public GalleryStore Store => _store ??= new GalleryStore(Path.Combine(DataDirectory, Config.Storage.Database), Cipher);

    public Access.DecisionSnapshots Snapshots =>
        Access.DecisionSnapshots.In(DataDirectory, Cipher, () => Config.Access.SnapshotKeep, LoggerFactory.CreateLogger("EchoFace.Access"));

    public FaceRecognizer Recognizer => _recognizer ??= new FaceRecognizer(Pipeline, Store, Config.Match,
        Manifest.Get(Config.Face.Embedder).Sha256[..12]);

    public RgbImage Decode(string path) => ImageDecoder.DecodeFile(path, Limits);

    public VoicePipeline Voice => _voice ??= new VoicePipeline(Factory, Config.Voice);

    public VoiceRecognizer VoiceRecognizer => _voiceRecognizer ??= new VoiceRecognizer(Voice, Store,
        Manifest.Get(Config.Voice.Embedder).Sha256[..12]);

    public AudioClip DecodeAudio(string path) => AudioDecoder.DecodeFile(path, Config.Voice.Limits);

    /// <summary>The display name to store: the one given, else the identity's current one (adding a modality keeps the name), else the id.</summary>
    public string DisplayName(string id, string? given) => given ?? Store.GetIdentity(id)?.DisplayName ?? id;

    public string Group(string id, string? given) => given ?? Store.GetIdentity(id)?.Group ?? "default";

    public void Dispose()
    {
        _pipeline?.Dispose();
        _voice?.Dispose();
        _store?.Dispose();
        LoggerFactory.Dispose();
    }
}
