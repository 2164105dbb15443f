using System.Collections.Concurrent;
using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;

namespace EchoFace.Daemon;

/// <summary>
/// What the HTTP API works with: its own face pipelines (created on demand, up to Api.Workers; a pipeline holds per-call buffers, so
/// one request uses one at a time) and voice pipeline, and the door's gallery, searched and changed under the same lock as the
/// frame loop (DoorTerminal.Exclusive), so an enrolment over HTTP is in force at the door from the next frame.
/// </summary>
public sealed class RecognitionService(ConfigurationInForce inForce, EngineLocation location, ModelManifest manifest, InferenceSessionFactory factory,
    FaceOptions face, FacePipeline door, FaceRecognizer faces, LoadedVoice doorVoice, GalleryStore store, DoorTerminal terminal, ApiKeyStore keys,
    Enrolment enrolment, TemplateCipher cipher, OneShotRecognizer oneShot) : IDisposable
{
    /// <summary>POST /v1/recognize's answer from a photo and/or a recording (the one-shot flow).</summary>
    public OneShotRecognizer OneShot => oneShot;

    private readonly VoiceRecognizer? voice = doorVoice.Recognizer;
    private readonly EchoFaceConfig _start = inForce.Current; // the sections it sizes itself by (Api, Storage) need a restart to change
    private readonly ConcurrentBag<FacePipeline> _idle = [];
    private readonly List<FacePipeline> _all = [];
    private readonly SemaphoreSlim _slots = new(inForce.Current.Api.Workers, inForce.Current.Api.Workers);
    private readonly Lock _voiceGate = new();
    private VoicePipeline? _voice;
    // the API's voice pipeline follows the door's embedder (a copy: the configuration stays as loaded)
    private readonly VoiceOptions _voiceOptions = inForce.Current.Voice.Copy();
    private int _generation;

    /// <summary>The configuration in force: a fleet change of a live section (Access, Match, Door, Voice) shows here at once.</summary>
    public EchoFaceConfig Config => inForce.Current;
    public ModelManifest Manifest => manifest;
    public FaceRecognizer Faces => faces;
    public VoiceRecognizer? Voice => voice;
    public GalleryStore Store => store;
    public ApiKeyStore Keys => keys;
    public Enrolment Enrolment => enrolment;
    public string Provider => door.Provider;
    /// <summary>The face embedder in use now (the configured one until PUT /v1/models/active switches it).</summary>
    public string FaceEmbedder => face.Embedder;
    /// <summary>The model the gallery's face templates must come from (the embedder's own, or its float model's for a variant sharing them).</summary>
    public string FaceTemplateModel => door.EmbedderModelId;
    /// <summary>The voice embedder in use now.</summary>
    public string? VoiceEmbedder => voice is null ? null : _voiceOptions.Embedder;
    /// <summary>
    /// Counts model switches: a request that analysed under one generation and stores under another holds embeddings of the old
    /// model, and is refused. Changed under the gallery's lock, read before analysing and again under it.
    /// </summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>
    /// Switches the face embedder live: the new model loads first (nothing changes if it fails), then, with no API request holding
    /// a pipeline and between two door frames, the door's pipeline takes it and the gallery holds that model's templates only.
    /// Lasts until restart: Face.Embedder in the configuration (or a fleet push) keeps it.
    /// </summary>
    public async Task SwitchFaceEmbedderAsync(string modelId, CancellationToken cancel)
    {
        if (face.Fusion.Mode != "off")
            throw new BadInputException($"Face.Fusion.Mode is {face.Fusion.Mode}: the fused models are set by Face.Fusion.Embedders and a restart, " +
                "not switched live", BadInputKind.Unsupported);
        var session = factory.Create(modelId);
        var probe = new EchoFace.Face.FaceEmbedder(session);
        // a blank crop of the model's own size and framing: what one aligned face costs it
        var blank = new Media.RgbImage(probe.InputSize, probe.InputSize);
        var ms = MedianMs(() => probe.Embed(blank, probe.CropTemplate));
        if (ms > _start.Api.FaceEmbedBudgetMs)
        {
            probe.Dispose();
            throw new BadInputException($"'{modelId}' takes {ms:F1} ms per face on this device; the face embedder's budget is " +
                $"{_start.Api.FaceEmbedBudgetMs} ms " +
                "(Api.FaceEmbedBudgetMs)");
        }
        var version = manifest.Version(modelId);
        var held = 0;
        try
        {
            for (; held < _start.Api.Workers; held++) await _slots.WaitAsync(cancel);
            terminal.SwitchModels(terminal.Models with { Embedder = modelId, EmbedderVersion = version }, () =>
            {
                door.UseEmbedder(probe);
                faces.Reindex(version);
                Interlocked.Increment(ref _generation);
            });
            face.Embedder = modelId;
            lock (_all)
            {
                foreach (var p in _all) p.Dispose();
                _all.Clear();
                _idle.Clear();
            }
        }
        catch
        {
            if (held < _start.Api.Workers) probe.Dispose(); // cancelled before the switch: the new model was never used
            throw;
        }
        finally
        {
            if (held > 0) _slots.Release(held);
        }
    }
    public CollectionIndexes Collections { get; } =
        new(location.Database(inForce.Current), cipher, EchoFace.Gallery.CollectionSearch.CodesDirectory(location.DataDirectory));

    /// <summary>
    /// Enrols from decoded images (and analysed recordings): the faces are analysed first, outside the door's lock, then everything is
    /// checked and stored in one transaction under it, as `enroll` does.
    /// </summary>
    public async Task<EnrolOutcome> EnrolAsync(EnrolRequest request, IReadOnlyList<(string Name, Media.RgbImage Image)> images,
        CancellationToken cancel, IReadOnlyList<(string Name, string Path)>? clips = null)
    {
        var generation = Generation;
        var config = Config;
        // a clip's frames are framed as this device's camera frames them, so that its templates are at the door's scale
        var analysed = await WithPipelineAsync(p => images.Select(d => (d.Name, (IReadOnlyList<FaceResult>)p.Analyze(d.Image)))
            .Concat((clips ?? []).SelectMany(c => VideoEnrolment.Analyse(p, c.Path, config.Camera.Width, config.Camera.Height,
                new VideoEnrolOptions(), (float)config.Match.VerifyThreshold, c.Name).Sources)).ToList(), cancel);
        return Gallery(() =>
        {
            // a model switch between the analysis and now: these embeddings may not be of the templates' model
            if (Generation != generation)
                throw new BadInputException("a model was switched while this request ran: send it again", kind: BadInputKind.Conflict);
            return Enrolment.Enrol(request with { Faces = analysed });
        });
    }

    /// <summary>Runs face analysis on a pipeline of the API's own, waiting for one to be free.</summary>
    public async Task<T> WithPipelineAsync<T>(Func<FacePipeline, T> work, CancellationToken cancel)
    {
        await _slots.WaitAsync(cancel);
        try
        {
            if (!_idle.TryTake(out var pipeline))
            {
                pipeline = new FacePipeline(factory, face, shareSessions: true);
                lock (_all) _all.Add(pipeline);
            }
            try { return work(pipeline); }
            finally { _idle.Add(pipeline); }
        }
        finally { _slots.Release(); }
    }

    /// <summary>
    /// Switches the speaker embedder live: the door's voice pipeline (step-up) between two frames, the API's under its own lock;
    /// the gallery then holds that model's voice templates only.
    /// </summary>
    public void SwitchVoiceEmbedder(string modelId)
    {
        if (voice is null || doorVoice.Pipeline is null) throw new BadInputException(Enrolment.NoVoiceModels, BadInputKind.Unsupported);
        var embedder = SpeakerEmbedder.Create(factory, modelId);
        var ms = MedianMs(() => embedder.Embed(new float[3 * AudioClip.SampleRate16k]));
        if (ms > _start.Api.VoiceEmbedBudgetMs)
        {
            embedder.Dispose();
            throw new BadInputException($"'{modelId}' takes {ms:F1} ms per 3 s of speech on this device; the speaker embedder's budget is " +
                $"{_start.Api.VoiceEmbedBudgetMs} ms (Api.VoiceEmbedBudgetMs)");
        }
        var version = manifest.Version(modelId);
        lock (_voiceGate)
        {
            terminal.SwitchModels(terminal.Models with { Voice = modelId }, () =>
            {
                doorVoice.Pipeline.UseEmbedder(embedder);
                voice.Reindex(version);
                Interlocked.Increment(ref _generation);
            });
            _voiceOptions.Embedder = modelId;
            _voice?.Dispose();
            _voice = null;
        }
    }

    /// <summary>Voice analysis on the API's voice pipeline (one at a time: it is short, 10-20 ms for a few seconds of speech).</summary>
    public VoiceResult AnalyzeVoice(AudioClip clip, string source)
    {
        if (voice is null) throw new BadInputException(Enrolment.NoVoiceModels, BadInputKind.Unsupported);
        lock (_voiceGate)
        {
            _voice ??= new VoicePipeline(factory, _voiceOptions);
            return _voice.Analyze(clip, source);
        }
    }

    /// <summary>A change to or search of the gallery, while the door's frame loop is not using it.</summary>
    public T Gallery<T>(Func<T> work) => terminal.Exclusive(work);

    /// <summary>The door's frame loop, for /v1/stats (its rate under the API's load is measured by `bench http`).</summary>
    public TerminalStats Door => terminal.Stats;

    /// <summary>Median of five timed calls after one warm-up.</summary>
    private static double MedianMs(Action run)
    {
        run();
        var times = new double[5];
        for (var i = 0; i < times.Length; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            run();
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return Evaluation.Percentiles.Of(times, 50);
    }

    public void Dispose()
    {
        lock (_all) foreach (var p in _all) p.Dispose();
        _voice?.Dispose();
        Collections.Dispose();
        _slots.Dispose();
    }
}
