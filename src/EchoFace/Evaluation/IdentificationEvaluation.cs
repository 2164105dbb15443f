using System.Numerics.Tensors;
using EchoFace.Inference;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EchoFace.Evaluation;

/// <summary>One way of matching a face against enrolled people, scored on held-out photos.</summary>
public sealed record IdentifyMethodResult(string Method, string Description, double Accuracy, double MacroF1, double DetectionAndIdentification,
    double OpenSetRejection, int[,] Confusion);

public sealed record IdentificationReport(int Identities, int EnrolledIdentities, int EnrolImages, int TestImages, int OpenSetImages, float Threshold,
    IReadOnlyList<string> Labels, IReadOnlyList<IdentifyMethodResult> Methods, string Best);

/// <summary>
/// Closed- and open-set identification: each person's photos split into enrolment and test (in name order), every fourth person
/// never enrolled (their photos must be rejected). Methods: every template (nearest), one averaged template, up to three k-means
/// centroids, and a linear classifier (ML.NET maximum entropy on standardised embeddings).
/// </summary>
public static class IdentificationEvaluation
{
    public static IdentificationReport Run(IReadOnlyList<EvaluatedImage> images, float threshold, double enrolFraction = 0.5, int holdOutEvery = 4)
    {
        var byPerson = images.Where(i => i.Embedding is not null).GroupBy(i => i.Identity).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Person: g.Key, Images: g.OrderBy(i => i.Path, StringComparer.Ordinal).ToList())).ToList();
        if (byPerson.Count < 3) throw new BadInputException($"identification needs at least 3 people with a detected face; found {byPerson.Count}");
        var enrol = new Dictionary<string, List<float[]>>(StringComparer.Ordinal);
        var test = new List<(string Person, float[] Embedding)>();
        var open = new List<float[]>();
        for (var p = 0; p < byPerson.Count; p++)
        {
            var (person, list) = byPerson[p];
            if (holdOutEvery > 0 && p % holdOutEvery == holdOutEvery - 1) { open.AddRange(list.Select(i => i.Embedding!)); continue; }
            var n = list.Count == 1 ? 1 : Math.Clamp((int)Math.Ceiling(list.Count * enrolFraction), 1, list.Count - 1);
            enrol[person] = [.. list.Take(n).Select(i => i.Embedding!)];
            test.AddRange(list.Skip(n).Select(i => (person, i.Embedding!)));
        }
        var labels = enrol.Keys.ToList();
        var methods = new List<(string Name, string Description, Func<float[], (string Person, float Score)> Predict)>
        {
            ("nearest", "every enrolment photo a template; the best one counts (the gallery's default)", q => Best(enrol, q, ts => ts.Max(t => TensorPrimitives.Dot(t, q)))),
            ("average", "one template per person: the mean of their photos", Centroids(enrol, 1)),
            ("kmeans3", "up to 3 k-means centroids per person, to cover pose and lighting", Centroids(enrol, 3)),
            ("classifier", "linear classifier (maximum entropy) on standardised embeddings; open set by its probability", Classifier(enrol)),
        };
        var results = methods.Select(m => Score(m.Name, m.Description, m.Predict, labels, test, open, threshold)).ToList();
        // open-set balance: people identified at the threshold plus strangers rejected, then macro F1
        var best = results.MaxBy(r => (r.DetectionAndIdentification + r.OpenSetRejection, r.MacroF1))!.Method;
        return new IdentificationReport(byPerson.Count, enrol.Count, enrol.Values.Sum(v => v.Count), test.Count, open.Count, threshold, labels, results, best);
    }

    private static (string, float) Best(Dictionary<string, List<float[]>> templates, float[] query, Func<List<float[]>, float> score)
    {
        var (who, top) = ("", float.MinValue);
        foreach (var (person, list) in templates)
        {
            var s = score(list);
            if (s > top) (who, top) = (person, s);
        }
        return (who, top);
    }

    /// <summary>Spherical k-means per person (k = min(K, photos)), farthest-point start, 20 rounds; score = best centroid.</summary>
    private static Func<float[], (string, float)> Centroids(Dictionary<string, List<float[]>> enrol, int k)
    {
        var centroids = enrol.ToDictionary(kv => kv.Key, kv => KMeans(kv.Value, Math.Min(k, kv.Value.Count)));
        return q => Best(centroids, q, cs => cs.Max(c => TensorPrimitives.Dot(c, q)));
    }

    public static List<float[]> KMeans(IReadOnlyList<float[]> points, int k)
    {
        var centres = new List<float[]> { (float[])points[0].Clone() };
        while (centres.Count < k)
            centres.Add((float[])points.MaxBy(p => -centres.Max(c => TensorPrimitives.Dot(c, p)))!.Clone());
        var assign = new int[points.Count];
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < points.Count; i++)
                assign[i] = Enumerable.Range(0, k).MaxBy(c => TensorPrimitives.Dot(centres[c], points[i]));
            for (var c = 0; c < k; c++)
            {
                var members = points.Where((_, i) => assign[i] == c).ToList();
                if (members.Count == 0) continue;
                var mean = new float[points[0].Length];
                foreach (var m in members) TensorPrimitives.Add(mean, m, mean);
                Embeddings.Normalize(mean);
                centres[c] = mean;
            }
        }
        return centres;
    }

    private sealed class Row
    {
        public string Label { get; set; } = "";
        public float[] Features { get; set; } = [];
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>ML.NET maximum entropy on mean/variance-normalised embeddings; the score is the predicted class's probability.</summary>
    private static Func<float[], (string, float)> Classifier(Dictionary<string, List<float[]>> enrol)
    {
        var ml = new MLContext(seed: 1);
        var dimension = enrol.Values.First()[0].Length;
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        var rows = enrol.SelectMany(kv => kv.Value.Select(v => new Row { Label = kv.Key, Features = v })).ToList();
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(Row.Label))
            .Append(ml.Transforms.NormalizeMeanVariance(nameof(Row.Features)))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", nameof(Row.Features)));
        var model = pipeline.Fit(data);
        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model, inputSchemaDefinition: schema);
        var keys = default(VBuffer<ReadOnlyMemory<char>>);
        model.GetOutputSchema(data.Schema)["Score"].Annotations.GetValue("SlotNames", ref keys);
        var names = keys.DenseValues().Select(v => v.ToString()).ToArray();
        return q =>
        {
            var scores = engine.Predict(new Row { Features = q }).Score;
            var best = Array.IndexOf(scores, scores.Max());
            return (names[best], scores[best]);
        };
    }

    private static IdentifyMethodResult Score(string name, string description, Func<float[], (string Person, float Score)> predict, List<string> labels,
        List<(string Person, float[] Embedding)> test, List<float[]> open, float threshold)
    {
        // the classifier's score is a probability: its open-set cut is 0.5, the others use the identify threshold
        var cut = name == "classifier" ? 0.5f : threshold;
        var index = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i);
        var confusion = new int[labels.Count, labels.Count];
        int correct = 0, detected = 0;
        foreach (var (person, embedding) in test)
        {
            var (predicted, score) = predict(embedding);
            confusion[index[person], index[predicted]]++;
            if (predicted == person) correct++;
            if (predicted == person && score >= cut) detected++;
        }
        var rejected = open.Count(e => predict(e).Score < cut);
        double f1Sum = 0;
        var classes = 0;
        for (var c = 0; c < labels.Count; c++)
        {
            int tp = confusion[c, c], fp = Enumerable.Range(0, labels.Count).Sum(r => confusion[r, c]) - tp, fn = Enumerable.Range(0, labels.Count).Sum(p => confusion[c, p]) - tp;
            if (tp + fn == 0) continue; // nobody of this class in the test set
            classes++;
            f1Sum += tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
        }
        return new IdentifyMethodResult(name, description, test.Count == 0 ? 0 : (double)correct / test.Count, classes == 0 ? 0 : f1Sum / classes,
            test.Count == 0 ? 0 : (double)detected / test.Count, open.Count == 0 ? 0 : (double)rejected / open.Count, confusion);
    }
}
