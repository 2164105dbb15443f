using System.Text;
using EchoFace.Configuration;
using EchoFace.Media;
using EchoFace.Sync;
using EchoFace.Voice;

namespace EchoFace.Tests.Robustness;

/// <summary>
/// Mutation fuzzing of every decoder that takes bytes from outside: images, WAV audio, and from MQTT enrolments, recommendation
/// sets and desired configuration documents. 100,000 mutated inputs each (bit flips, boundary bytes, cut, repeated and inserted runs, two seeds spliced);
/// the only exception allowed is the product's own bad-input error. An input that breaks that is written to TestResults/ to
/// become a regression test.
/// </summary>
[Trait("Category", "Slow")]
public class FuzzTests
{
    private const int Inputs = 100_000;

    private static byte[] Mutate(Random rng, byte[][] seeds)
    {
        var data = new List<byte>(seeds[rng.Next(seeds.Length)]);
        var steps = 1 + rng.Next(4);
        for (var s = 0; s < steps; s++)
        {
            var at = data.Count == 0 ? 0 : rng.Next(data.Count);
            switch (rng.Next(7))
            {
                case 0 when data.Count > 0: data[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when data.Count > 0: data[at] = new byte[] { 0, 0xFF, 0x7F, 0x80, (byte)'"', (byte)'{', (byte)'9' }[rng.Next(7)]; break;
                case 2 when data.Count > 0: data.RemoveRange(at, Math.Min(data.Count - at, 1 + rng.Next(64))); break;
                case 3 when data.Count > 0: data.InsertRange(at, data.GetRange(at, Math.Min(data.Count - at, 1 + rng.Next(64)))); break;
                case 4: data.InsertRange(at, Enumerable.Range(0, 1 + rng.Next(16)).Select(_ => (byte)rng.Next(256))); break;
                case 5 when data.Count > 0: data.RemoveRange(at, data.Count - at); break;
                case 6:
                    var other = seeds[rng.Next(seeds.Length)];
                    var from = rng.Next(other.Length + 1);
                    data.InsertRange(at, other.Skip(from).Take(1 + rng.Next(128)));
                    break;
            }
        }
        return [.. data];
    }

    private static void Fuzz(string target, byte[][] seeds, Action<byte[]> decode, int seed)
    {
        var rng = new Random(seed);
        var refused = 0;
        for (var i = 0; i < Inputs; i++)
        {
            var input = Mutate(rng, seeds);
            try { decode(input); }
            catch (BadInputException) { refused++; }
            catch (Exception e)
            {
                var dir = Path.Combine(TestEnvironment.RepoRoot, "TestResults", "fuzz");
                Directory.CreateDirectory(dir);
                var file = Path.Combine(dir, $"{target}-{i}.bin");
                File.WriteAllBytes(file, input);
                Assert.Fail($"{target}: input {i} ({input.Length} bytes, saved to {file}) threw {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.InRange(refused, 1, Inputs); // the mutations do reach the checks
    }

    private static byte[] Small(string photo, string format, string dir)
    {
        var output = Path.Combine(dir, $"seed.{format}");
        TestEnvironment.Ffmpeg(output, "-i", photo, "-vf", "scale=48:48", "-frames:v", "1");
        return File.ReadAllBytes(output);
    }

    [Fact]
    public void Image_decoding_survives_100000_mutated_files()
    {
        var dir = TestEnvironment.TempDirectory();
        var photo = CliRunnerPhoto();
        byte[][] seeds = [Small(photo, "jpg", dir), Small(photo, "png", dir), Small(photo, "bmp", dir), Small(photo, "webp", dir), Small(photo, "pgm", dir), Small(photo, "ppm", dir)];
        var limits = new ImageLimits { MaxPixels = 4_000_000 };
        Fuzz("image", seeds, b => ImageDecoder.Decode(b, "fuzz", limits), 1);
    }

    private static string CliRunnerPhoto() => Cli.CliRunner.Photos("df_angelina_jolie")[2];

    [Fact]
    public void Wav_reading_survives_100000_mutated_files()
    {
        var dir = TestEnvironment.TempDirectory();
        var flac = TestEnvironment.Speech("1688")[0];
        byte[][] seeds = [.. new[] { "pcm_s16le", "pcm_s24le", "pcm_f32le" }.Select(codec =>
            File.ReadAllBytes(TestEnvironment.Ffmpeg(Path.Combine(dir, $"{codec}.wav"), "-i", flac, "-t", "0.2", "-ar", "16000", "-ac", "1", "-c:a", codec)))];
        Fuzz("wav", seeds, b =>
        {
            // what the in-process reader takes goes through the decoder's own checks; the rest would go to ffmpeg (a process each: not here)
            if (WavReader.TryRead(b) is null) throw new BadInputException("not a 16 kHz WAV: ffmpeg's to read");
            var clip = AudioDecoder.Decode(b, "fuzz.wav");
            if (clip.Samples.Any(s => !float.IsFinite(s))) throw new InvalidDataException("non-finite samples accepted");
        }, 2);
    }

    [Fact]
    public void Recommendation_sets_survive_100000_mutated_payloads()
    {
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes("""{"requestId": "r1", "version": 7, "mode": "merge", "lists": {"c3": ["espresso beans", {"item": "oat milk", "score": 0.5}], "c9": []}}"""),
            Encoding.UTF8.GetBytes("""{"version": 20261130045740, "lists": {"1000": [{"item": "whole milk", "score": 1e3}, {"item": "soda", "score": null}]}}"""),
        ];
        Fuzz("recommendations", seeds, b =>
        {
            RecommendationSet.PeekRequestId(b); // read first, to name the request in the answer: must never throw
            RecommendationSet.Parse(b);
        }, 3);
    }

    private static string Vector(params float[] v) => Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));

    [Fact]
    public void Enrolments_from_the_fleet_survive_100000_mutated_payloads()
    {
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes($$"""{"requestId": "e1", "action": "upsert", "identity": {"id": "ana", "name": "Ana", "group": "staff"}, "templates": [{"modality": "face", "modelId": "fr_feature", "modelVersion": "87aacdfe5751", "quality": 0.8, "source": "a.jpg", "vector": "{{Vector(0.5f, -0.25f, 1e-3f, 0.125f)}}"}, {"modality": "voice", "modelId": "nnid_speaker", "vector": "{{Vector(1, 2)}}"}], "customer": "c-17"}"""),
            Encoding.UTF8.GetBytes("""{"requestId": "e2", "action": "remove", "identity": {"id": "bob"}}"""),
        ];
        Fuzz("enroll", seeds, b => EnrollRequest.Parse(b), 5);
    }

    [Fact]
    public void Desired_configuration_survives_100000_mutated_documents_and_the_running_one_stays_valid()
    {
        using var shadow = new ConfigShadow(Path.Combine(TestEnvironment.TempDirectory(), "echoface.db"), null);
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes("""{"version": 5, "Access": {"Policy": "face", "ReentrySeconds": 20, "Schedules": {"staff": [{"Days": "Mon-Fri", "From": "07:00", "To": "19:00"}]}}, "Match": {"IdentifyThreshold": 0.5}}"""),
            Encoding.UTF8.GetBytes("""{"version": 6, "Door": {"UnlockSeconds": 4, "Pins": {"Relay": 17}}, "Camera": {"Source": "rtsp://10.0.0.7/s"}, "Retail": {"TopK": 5}}"""),
        ];
        var reports = 0;
        Fuzz("config", seeds, b =>
        {
            // Offer answers every document with a report (applied, ignored or rejected) and never throws
            var report = shadow.Offer("device", b, out _);
            if (report.Status is not ("applied" or "ignored" or "rejected")) throw new InvalidDataException($"status {report.Status}");
            reports++;
            throw new BadInputException("counted"); // keep the harness's count of inputs that reached a verdict
        }, 4);
        Assert.Equal(Inputs, reports);
        shadow.Current.Validate();
    }
}
