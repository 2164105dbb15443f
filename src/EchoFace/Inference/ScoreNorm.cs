using System.Text.Json.Serialization;

namespace EchoFace.Inference;

/// <summary>A model's impostor cosine mean and standard deviation: (s - mean) / std puts every model's scores on one scale.</summary>
public sealed record ScoreNorm(
    [property: JsonPropertyName("impostorMean")] double ImpostorMean, [property: JsonPropertyName("impostorStd")] double ImpostorStd)
{
    public double Normalise(double cosine) => (cosine - ImpostorMean) / ImpostorStd;

    public static ScoreNorm Of(IReadOnlyCollection<double> impostor)
    {
        if (impostor.Count < 2) throw new ArgumentException("need at least two impostor scores");
        var mean = impostor.Average();
        var std = Math.Sqrt(impostor.Sum(s => (s - mean) * (s - mean)) / (impostor.Count - 1));
        return new ScoreNorm(mean, std);
    }
}
