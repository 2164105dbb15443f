using EchoFace.Inference;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Voice;

/// <summary>Turns speech (16 kHz mono) into an L2-normalised speaker embedding; which front end is used comes from the model's manifest entry.</summary>
public abstract class SpeakerEmbedder : IDisposable
{
    protected SpeakerEmbedder(ModelSession model)
    {
        Model = model;
        Dimension = model.OutputDimensions(model.OutputName)[^1];
        if (Dimension <= 0) throw new ModelException($"speaker model '{model.ModelId}' does not declare its embedding size in its first output");
    }

    protected ModelSession Model { get; }
    /// <summary>The model templates are kept under (a quantized variant measured to share them reports its float model).</summary>
    public string ModelId => Model.TemplateModelId;
    /// <summary>The manifest entry actually running.</summary>
    public string LoadedModelId => Model.ModelId;
    public string Provider => Model.Provider;
    public int Dimension { get; }

    public abstract float[] Embed(ReadOnlySpan<float> speech);

    public static SpeakerEmbedder Create(InferenceSessionFactory factory, string modelId)
    {
        var entry = factory.Manifest.Get(modelId);
        if (entry.Task != "speaker-embed") throw new ModelException($"model '{modelId}' is a {entry.Task} model, not a speaker-embed one (Voice.Embedder)");
        var frontEnd = entry.FrontEnd ?? new FrontEndSpec();
        return frontEnd.Type switch
        {
            "waveform" => new WaveformSpeakerEmbedder(factory.Create(modelId), frontEnd.ChunkSeconds),
            "kaldi-fbank" => new FbankSpeakerEmbedder(factory.Create(modelId), frontEnd),
            _ => throw new ModelException($"model '{modelId}': frontEnd.type '{frontEnd.Type}' is unknown; use waveform or kaldi-fbank"),
        };
    }

    protected float[] RunFirstOutput(OrtValue input, int batch)
    {
        using var outputs = Model.Run([Model.InputName], [input], [Model.OutputName]);
        var all = outputs[0].GetTensorDataAsSpan<float>();
        if (all.Length != batch * Dimension) throw new ModelException($"speaker model '{ModelId}' returned {all.Length} values for {batch} input(s), expected {batch * Dimension}");
        return all.ToArray();
    }

    public virtual void Dispose()
    {
        Model.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Models that take the waveform and compute their own features (nnid_speaker). Long speech is cut into chunks of the training length,
/// as the model's README prescribes: the last short chunk is zero-padded on the left, or dropped when under half a chunk unless it is
/// the only one; the chunks run as one batch and their L2-normalised embeddings are averaged.
/// </summary>
public sealed class WaveformSpeakerEmbedder(ModelSession model, double chunkSeconds) : SpeakerEmbedder(model)
{
    public int ChunkSamples { get; } = (int)Math.Round(chunkSeconds * AudioClip.SampleRate16k);

    public override float[] Embed(ReadOnlySpan<float> speech)
    {
        if (speech.Length == 0) throw new ArgumentException("no speech to embed");
        var chunk = ChunkSamples > 0 ? ChunkSamples : speech.Length;
        var full = speech.Length / chunk;
        var rest = speech.Length - full * chunk;
        var keepRest = rest > 0 && (full == 0 || rest >= chunk / 2);
        var batch = full + (keepRest ? 1 : 0);
        var input = new float[batch * chunk];
        speech[..(full * chunk)].CopyTo(input);
        if (keepRest) speech[(full * chunk)..].CopyTo(input.AsSpan(batch * chunk - rest)); // left zero-pad
        using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, chunk]);
        var embeddings = RunFirstOutput(value, batch);
        var mean = new float[Dimension];
        for (var b = 0; b < batch; b++)
        {
            var e = embeddings.AsSpan(b * Dimension, Dimension);
            Embeddings.Normalize(e);
            System.Numerics.Tensors.TensorPrimitives.Add(mean, e, mean);
        }
        Embeddings.Normalize(mean);
        return mean;
    }
}

/// <summary>Models trained on 80-dim Kaldi fbank (WeSpeaker, 3D-Speaker, NeMo exports): input [1, T, melBins], mean-normalised per utterance.</summary>
public sealed class FbankSpeakerEmbedder : SpeakerEmbedder
{
    private readonly KaldiFbank _fbank;
    private readonly bool _cmn;

    public FbankSpeakerEmbedder(ModelSession model, FrontEndSpec spec) : base(model)
    {
        _fbank = new KaldiFbank(new FbankOptions { MelBins = spec.MelBins, InputScale = spec.InputScale });
        _cmn = spec.Cmn;
    }

    public override float[] Embed(ReadOnlySpan<float> speech)
    {
        var features = _fbank.Compute(speech, out var frames);
        if (frames == 0) throw new ArgumentException($"speech of {speech.Length} samples is shorter than one fbank frame");
        if (_cmn) KaldiFbank.SubtractMean(features, frames, _fbank.Options.MelBins);
        using var value = OrtValue.CreateTensorValueFromMemory(features, [1, frames, _fbank.Options.MelBins]);
        var embedding = RunFirstOutput(value, 1);
        Embeddings.Normalize(embedding);
        return embedding;
    }
}
