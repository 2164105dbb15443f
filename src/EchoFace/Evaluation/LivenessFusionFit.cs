using EchoFace.Face;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EchoFace.Evaluation;

/// <summary>Fitted Face.LivenessFusion weights and bias, one weight per opinion named, in order.</summary>
public sealed record LivenessFusionWeights(IReadOnlyList<string> Opinions, double[] Weights, double Bias)
{
    public float Combine(LivenessSample s)
    {
        var z = Bias;
        for (var i = 0; i < Opinions.Count; i++) z += Weights[i] * LivenessOpinions.Feature(Opinions[i], s.Scores[Opinions[i]]);
        return LivenessOpinions.Sigmoid((float)z);
    }
}

/// <summary>Logistic regression of live against spoof on the opinions' features (ML.NET L-BFGS: a well-kept trainer, nothing hand-written).</summary>
public static class LivenessFusionFit
{
    /// <summary>
    /// Fits on the scored samples, live and spoof weighed equally (each class's rows weigh half of the total, so a set with many
    /// more spoofs does not buy a low APCER with refused people). The weights are on raw features: no normalisation to carry. The bias
    /// is moved so that the fused probability crosses <paramref name="threshold"/> (Access.LivenessThreshold) where the regression's
    /// balanced decision lies: the shipped threshold keeps its meaning.
    /// </summary>
    public static LivenessFusionWeights Fit(IReadOnlyList<LivenessSample> samples, IReadOnlyList<string> opinions, float threshold)
    {
        var scored = samples.Where(s => s.Failure is null && opinions.All(s.Scores.ContainsKey)).ToList();
        int live = scored.Count(s => s.Live), spoof = scored.Count - live;
        if (live == 0 || spoof == 0)
            throw new BadInputException($"fitting liveness fusion needs live and spoof faces scored by every opinion (live {live}, spoof {spoof})");
        var ml = new MLContext(seed: 1);
        var rows = scored.Select(s => new WeightedRow
        {
            Label = s.Live, Weight = 0.5f * scored.Count / (s.Live ? live : spoof),
            Features = [.. opinions.Select(o => LivenessOpinions.Feature(o, s.Scores[o]))],
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(WeightedRow));
        schema[nameof(WeightedRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, opinions.Count);
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        var trainer = ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new Microsoft.ML.Trainers.LbfgsLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = nameof(WeightedRow.Label), FeatureColumnName = nameof(WeightedRow.Features),
            ExampleWeightColumnName = nameof(WeightedRow.Weight),
            L2Regularization = 0.01f, L1Regularization = 0, OptimizationTolerance = 1e-7f,
        });
        var model = trainer.Fit(data).Model.SubModel;
        var shift = LivenessOpinions.Feature("", threshold); // log-odds of the threshold
        return new LivenessFusionWeights([.. opinions], [.. model.Weights.Select(w => (double)w)], model.Bias + shift);
    }

    private sealed class WeightedRow
    {
        public bool Label { get; set; }
        public float Weight { get; set; }
        public float[] Features { get; set; } = [];
    }
}
