using System.Numerics.Tensors;
using System.Text.RegularExpressions;
using EchoFace.Inference;
using EchoFace.Voice;

namespace EchoFace.Evaluation;

public sealed record EvaluatedRecording(string Path, string? Speaker, float[]? Embedding, double Seconds, double SpeechSeconds, VoiceTimings Timings, string? Failure);

public readonly record struct Trial(string A, string B, bool Target);

/// <summary>Enrolment with several utterances per speaker: one averaged template against keeping each as its own template (best match wins).</summary>
public sealed record EnrolmentStudy(int UtterancesPerSpeaker, VerificationMetrics Average, VerificationMetrics MultiTemplate);

public sealed class VoiceEvaluationResult
{
    public required IReadOnlyList<EvaluatedRecording> Recordings { get; init; }
    public required VerificationMetrics Metrics { get; init; }
    public int Trials { get; init; }
    /// <summary>Trials left out because one of their recordings could not be embedded (listed in <see cref="Failures"/>).</summary>
    public int SkippedTrials { get; init; }
    public EnrolmentStudy? Enrolment { get; init; }
    public IEnumerable<EvaluatedRecording> Failures => Recordings.Where(r => r.Embedding is null);
    /// <summary>Processing time over audio time, for the whole run (decode, VAD and embedding).</summary>
    public double RealTimeFactor => Recordings.Sum(r => r.Timings.Total) / 1000 / Math.Max(1e-9, Recordings.Sum(r => r.Seconds));
}

/// <summary>Speaker verification accuracy: from a trials list (Kaldi/VoxCeleb style) or from every pair of a labelled folder.</summary>
public static class VoiceEvaluation
{
    /// <summary>
    /// Reads "a b target|nontarget" lines (also 1/0 in either the first or last column, VoxCeleb's "1 a b"); paths relative to root.
    /// A malformed line is an error naming it.
    /// </summary>
    public static List<Trial> ReadTrials(string trialsFile, string root)
    {
        if (!File.Exists(trialsFile)) throw new BadInputException($"trials file not found: {trialsFile}");
        if (!Directory.Exists(root)) throw new BadInputException($"--root folder not found: {root}");
        var trials = new List<Trial>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(trialsFile))
        {
            lineNumber++;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0].StartsWith('#')) continue;
            bool? label = null;
            string a = "", b = "";
            if (parts.Length == 3 && Label(parts[2]) is { } last) (a, b, label) = (parts[0], parts[1], last);
            else if (parts.Length == 3 && Label(parts[0]) is { } first) (a, b, label) = (parts[1], parts[2], first);
            if (label is null)
                throw new BadInputException($"{trialsFile}:{lineNumber}: expected `<audio> <audio> target|nontarget` (or `1|0 <audio> <audio>`), got `{line.Trim()}`");
            trials.Add(new Trial(Path.GetFullPath(Path.Combine(root, a)), Path.GetFullPath(Path.Combine(root, b)), label.Value));
        }
        if (trials.Count == 0) throw new BadInputException($"{trialsFile} holds no trials");
        if (!trials.Any(t => t.Target) || trials.All(t => t.Target))
            throw new BadInputException($"{trialsFile} needs both target and nontarget trials");
        var missing = trials.SelectMany(t => new[] { t.A, t.B }).FirstOrDefault(f => !File.Exists(f));
        if (missing is not null) throw new BadInputException($"{trialsFile} names {missing}, which does not exist (is --root right?)");
        return trials;

        static bool? Label(string s) => s.ToLowerInvariant() switch
        {
            "target" or "tgt" or "1" or "true" => true,
            "nontarget" or "non-target" or "imp" or "impostor" or "0" or "false" => false,
            _ => null,
        };
    }

    /// <summary>
    /// Labelled recordings under a folder: one sub-folder per speaker (searched recursively), or, with <paramref name="labelPattern"/>,
    /// every recording below the folder labelled by the pattern's first group matched against its file name.
    /// </summary>
    public static List<(string Path, string Speaker)> ListRecordings(string root, string? labelPattern = null)
    {
        if (!Directory.Exists(root)) throw new BadInputException($"evaluation folder not found: {root}");
        List<(string, string)> items;
        if (labelPattern is not null)
        {
            Regex regex;
            try { regex = new Regex(labelPattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
            catch (ArgumentException e) { throw new BadInputException($"--label '{labelPattern}' is not a valid regular expression: {e.Message}"); }
            if (regex.GetGroupNumbers().Length < 2) throw new BadInputException($"--label '{labelPattern}' needs a group, e.g. '^([a-z]+)-', whose text names the speaker");
            items = [];
            foreach (var f in AudioFiles(root))
            {
                var m = regex.Match(Path.GetFileName(f));
                if (m.Success && m.Groups[1].Success) items.Add((f, m.Groups[1].Value));
            }
        }
        else
        {
            items = [.. Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal)
                .SelectMany(dir => AudioFiles(dir).Select(f => (f, Path.GetFileName(dir))))];
        }
        if (items.Select(i => i.Item2).Distinct().Count() < 2)
            throw new BadInputException($"{root} must hold recordings of at least two speakers: one folder per speaker, or --label with a pattern for file names (found {items.Count} recordings)");
        return items;
    }

    private static IEnumerable<string> AudioFiles(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(AudioDecoder.IsAudio).OrderBy(f => f, StringComparer.Ordinal);

    public static VoiceEvaluationResult RunTrials(VoicePipeline pipeline, IReadOnlyList<Trial> trials, IProgress<EvaluatedRecording>? progress = null)
    {
        var files = trials.SelectMany(t => new[] { t.A, t.B }).Distinct().Select(f => (f, (string?)null)).ToList();
        var recordings = Embed(pipeline, files, progress);
        var byPath = recordings.ToDictionary(r => r.Path);
        var genuine = new List<double>();
        var impostor = new List<double>();
        var skipped = 0;
        foreach (var t in trials)
        {
            var (a, b) = (byPath[t.A].Embedding, byPath[t.B].Embedding);
            if (a is null || b is null) { skipped++; continue; }
            (t.Target ? genuine : impostor).Add(TensorPrimitives.Dot(a, b));
        }
        return new VoiceEvaluationResult
        {
            Recordings = recordings, Trials = trials.Count, SkippedTrials = skipped, Metrics = Metrics(genuine, impostor),
        };
    }

    /// <param name="enrolUtterances">also compare averaged against multi-template enrolment with this many utterances per speaker (0 = no).</param>
    public static VoiceEvaluationResult RunFolder(VoicePipeline pipeline, IReadOnlyList<(string Path, string Speaker)> items, IProgress<EvaluatedRecording>? progress = null, int enrolUtterances = 0)
    {
        var recordings = Embed(pipeline, [.. items.Select(i => (i.Path, (string?)i.Speaker))], progress);
        var ok = recordings.Where(r => r.Embedding is not null).ToList();
        var genuine = new List<double>();
        var impostor = new List<double>();
        for (var i = 0; i < ok.Count; i++)
            for (var j = i + 1; j < ok.Count; j++)
                (ok[i].Speaker == ok[j].Speaker ? genuine : impostor).Add(TensorPrimitives.Dot(ok[i].Embedding, ok[j].Embedding));
        var n = recordings.Count;
        return new VoiceEvaluationResult
        {
            Recordings = recordings, Trials = n * (n - 1) / 2, SkippedTrials = n * (n - 1) / 2 - genuine.Count - impostor.Count,
            Metrics = Metrics(genuine, impostor), Enrolment = enrolUtterances > 0 ? StudyEnrolment(ok, enrolUtterances) : null,
        };
    }

    private static VerificationMetrics Metrics(List<double> genuine, List<double> impostor)
    {
        if (genuine.Count == 0 || impostor.Count == 0)
            throw new BadInputException($"too few recordings could be embedded to measure anything ({genuine.Count} target and {impostor.Count} nontarget trials left)");
        return VerificationMetrics.Compute(genuine, impostor, [1e-2, 1e-3]);
    }

    /// <summary>Each speaker's first n recordings enrol; every other recording is tried against every enrolled speaker.</summary>
    public static EnrolmentStudy StudyEnrolment(IReadOnlyList<EvaluatedRecording> embedded, int n)
    {
        var bySpeaker = embedded.GroupBy(r => r.Speaker!).Where(g => g.Count() > n).ToDictionary(g => g.Key, g => g.ToList());
        if (bySpeaker.Count < 2) throw new BadInputException($"--enrol {n}: fewer than two speakers have more than {n} recordings");
        var models = bySpeaker.ToDictionary(s => s.Key, s =>
        {
            var templates = s.Value.Take(n).Select(r => r.Embedding!).ToList();
            var mean = new float[templates[0].Length];
            foreach (var t in templates) TensorPrimitives.Add(mean, t, mean);
            Embeddings.Normalize(mean);
            return (Mean: mean, Templates: templates);
        });
        List<double> avgG = [], avgI = [], multiG = [], multiI = [];
        foreach (var (speaker, recordings) in bySpeaker)
            foreach (var probe in recordings.Skip(n))
                foreach (var (claimed, model) in models)
                {
                    double average = TensorPrimitives.Dot(model.Mean, probe.Embedding);
                    double multi = model.Templates.Max(t => TensorPrimitives.Dot(t, probe.Embedding));
                    var target = claimed == speaker;
                    (target ? avgG : avgI).Add(average);
                    (target ? multiG : multiI).Add(multi);
                }
        return new EnrolmentStudy(n, Metrics(avgG, avgI), Metrics(multiG, multiI));
    }

    private static List<EvaluatedRecording> Embed(VoicePipeline pipeline, IReadOnlyList<(string Path, string? Speaker)> files, IProgress<EvaluatedRecording>? progress)
    {
        var list = new List<EvaluatedRecording>();
        foreach (var (path, speaker) in files)
        {
            EvaluatedRecording item;
            try
            {
                var r = pipeline.AnalyzeFile(path);
                item = new EvaluatedRecording(path, speaker, r.Embedding, r.Seconds, r.SpeechSeconds, r.Timings, null);
            }
            catch (BadInputException e)
            {
                item = new EvaluatedRecording(path, speaker, null, 0, 0, default, e.Message);
            }
            list.Add(item);
            progress?.Report(item);
        }
        return list;
    }
}
