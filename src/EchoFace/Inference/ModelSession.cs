using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Inference;

/// <summary>A loaded model and the provider it runs on. Every run goes through here, so the caller's thread flushes denormals.</summary>
public sealed class ModelSession(string modelId, string provider, InferenceSession session, string? templateModelId = null,
    bool flushDenormals = true, ModelEntry? spec = null) : IDisposable
{
    private readonly InferenceSession _session = session;

    /// <summary>How many handles hold the session (<see cref="Share"/>); the last one disposed frees it.</summary>
    private sealed class Handles
    {
        public int Count = 1;
    }

    private Handles _handles = new();

    /// <summary>
    /// Another handle on the same loaded model, for another pipeline: ONNX Runtime runs one session from several threads at once, so
    /// the weights and the arena are held once; each handle has its own run options and bindings. Null once the model was freed.
    /// </summary>
    public ModelSession? Share()
    {
        var h = _handles;
        if (Interlocked.Increment(ref h.Count) == 1)
        {
            Interlocked.Decrement(ref h.Count); // every handle had been disposed: the session is gone
            return null;
        }
        return new ModelSession(ModelId, Provider, _session, TemplateModelId, flushDenormals, spec) { _handles = h };
    }

    /// <summary>The manifest entry loaded (a variant's own id when one was chosen).</summary>
    public string ModelId { get; } = modelId;
    /// <summary>The model whose templates this one's embeddings match: its own id, or the float model's for a variant measured to share them.</summary>
    public string TemplateModelId { get; } = templateModelId ?? modelId;
    public string Provider { get; } = provider;
    /// <summary>A face embedder's input layout, from its manifest entry (a variant's from its float model's).</summary>
    public FaceCropSpec? FaceCrop => spec?.FaceCrop;
    /// <summary>A liveness model's input layout, from its manifest entry (a variant's from its float model's).</summary>
    public LivenessCropSpec? LivenessCrop => spec?.LivenessCrop;
    public string InputName => _session.InputMetadata.Keys.First();
    public int[] InputShape => _session.InputMetadata.Values.First().Dimensions;
    public IReadOnlyList<string> OutputNames => [.. _session.OutputMetadata.Keys];
    public string OutputName => _session.OutputMetadata.Keys.First();
    /// <summary>An output's dimensions as the graph declares them (-1 where free).</summary>
    public int[] OutputDimensions(string name) => _session.OutputMetadata[name].Dimensions;
    /// <summary>An output's shape with any free dimension (a batch) read as 1.</summary>
    public long[] OutputShape(string name) => [.. OutputDimensions(name).Select(d => d > 0 ? (long)d : 1)];
    /// <summary>One per session, reused by every call: a fresh RunOptions per frame would be a native allocation left to the finalizer.</summary>
    private readonly RunOptions _runOptions = new();

    public IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs,
        IReadOnlyCollection<string> outputNames)
    {
        if (flushDenormals) DenormalFlush.EnsureOnThisThread();
        return _session.Run(_runOptions, inputNames, inputs, outputNames);
    }

    /// <summary>Runs with inputs and outputs bound once (<see cref="BoundModel"/>): no managed allocation per call.</summary>
    public void Run(OrtIoBinding binding)
    {
        if (flushDenormals) DenormalFlush.EnsureOnThisThread();
        _session.RunWithBinding(_runOptions, binding);
    }

    internal OrtIoBinding CreateBinding() => _session.CreateIoBinding();

    public void Dispose()
    {
        if (Interlocked.Decrement(ref _handles.Count) == 0) _session.Dispose();
        _runOptions.Dispose();
    }
}

/// <summary>
/// A model with one float input and every output bound to buffers allocated once, for the face stages that run on every frame.
/// The outputs' shapes must be fixed by the graph (a free batch dimension counts as 1).
/// </summary>
public sealed class BoundModel : IDisposable
{
    private readonly ModelSession _model;
    private readonly OrtIoBinding _binding;
    private readonly OrtValue _input;
    private readonly OrtValue[] _outputValues;
    private readonly float[][] _outputs;

    public BoundModel(ModelSession model, long[] inputShape)
    {
        _model = model;
        Input = new float[inputShape.Aggregate(1L, (a, b) => a * b)];
        _input = OrtValue.CreateTensorValueFromMemory(Input, inputShape);
        _binding = model.CreateBinding();
        _binding.BindInput(model.InputName, _input);
        OutputNames = model.OutputNames;
        _outputs = new float[OutputNames.Count][];
        _outputValues = new OrtValue[OutputNames.Count];
        for (var i = 0; i < OutputNames.Count; i++)
        {
            var shape = model.OutputShape(OutputNames[i]);
            _outputs[i] = new float[shape.Aggregate(1L, (a, b) => a * b)];
            _outputValues[i] = OrtValue.CreateTensorValueFromMemory(_outputs[i], shape);
            _binding.BindOutput(OutputNames[i], _outputValues[i]);
        }
    }

    /// <summary>The input tensor's elements, filled by the caller before <see cref="Run"/>.</summary>
    public float[] Input { get; }
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Output i after the last run (valid until the next).</summary>
    public ReadOnlySpan<float> Output(int i = 0) => _outputs[i];
    public int OutputIndex(string name)
    {
        for (var i = 0; i < OutputNames.Count; i++) if (OutputNames[i] == name) return i;
        throw new ModelException($"{_model.ModelId}: no output '{name}' (it has {string.Join(", ", OutputNames)})");
    }

    public void Run() => _model.Run(_binding);

    public void Dispose()
    {
        _binding.Dispose();
        _input.Dispose();
        foreach (var v in _outputValues) v.Dispose();
    }
}
