using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>bench http: load a device's HTTP API with N concurrent clients and report requests per second and latency percentiles.</summary>
internal static class BenchCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var bench = new Command("bench", "Measure a running device");
        var url = new Option<string>("--url") { Description = "the device's API address", DefaultValueFactory = _ => "http://127.0.0.1:9464" };
        var key = new Option<string>("--key") { Description = "an API key with the read role", Required = true };
        var image = new Option<string>("--image") { Description = "the photo each request sends to POST /v1/recognize", Required = true };
        var clients = new Option<int[]>("--clients") { Description = "concurrent clients, one run each (e.g. --clients 1 4)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [1, 4] };
        var seconds = new Option<double>("--seconds") { Description = "length of each run, after a 2 s warm-up", DefaultValueFactory = _ => 20 };
        var http = new Command("http", "POST /v1/recognize with one photo as fast as N clients can: requests per second, p50/p95/p99 latency, errors") { url, key, image, clients, seconds };
        http.SetAction(async (p, cancel) =>
        {
            var path = p.GetValue(image)!;
            if (!File.Exists(path)) throw new BadInputException($"image not found: {path}");
            var bytes = await File.ReadAllBytesAsync(path, cancel);
            var type = Media.ImageDecoder.SniffFormat(bytes) is { } f ? $"image/{(f == "pnm" ? "x-portable-anymap" : f)}" : throw new BadInputException($"{path} is not an image");
            using var client = new HttpClient { BaseAddress = new Uri(p.GetValue(url)!), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", p.GetValue(key));
            var rows = new List<BenchRun>();
            foreach (var n in p.GetValue(clients)!)
            {
                if (n < 1) throw new BadInputException("--clients must be at least 1");
                await RunAsync(client, bytes, type, n, TimeSpan.FromSeconds(2), cancel); // warm-up: JIT, pipelines created on demand
                var (latencies, errors, elapsed) = await RunAsync(client, bytes, type, n, TimeSpan.FromSeconds(p.GetValue(seconds)), cancel);
                rows.Add(new BenchRun(n, latencies.Count, errors, Math.Round(elapsed.TotalSeconds, 1), Math.Round(latencies.Count / elapsed.TotalSeconds, 1),
                    Evaluation.Percentiles.Of(latencies, 50), Evaluation.Percentiles.Of(latencies, 95), Evaluation.Percentiles.Of(latencies, 99)));
            }
            if (p.GetValue(g.Json)) { o.Json(new { url = p.GetValue(url), image = Path.GetFullPath(path), runs = rows }); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("clients", "requests", "errors", "requests/s", "p50 ms", "p95 ms", "p99 ms");
            foreach (var r in rows)
                table.AddRow($"{r.Clients}", $"{r.Requests}", $"{r.Errors}", $"{r.PerSecond:F1}", $"{r.P50:F1}", $"{r.P95:F1}", $"{r.P99:F1}");
            o.Console.Write(table);
            return EchoFaceCli.Ok;
        });
        bench.Subcommands.Add(http);
        return bench;
    }

    private sealed record BenchRun(int Clients, int Requests, int Errors, double Seconds, double PerSecond, double P50, double P95, double P99);

    private static async Task<(List<double> Latencies, int Errors, TimeSpan Elapsed)> RunAsync(HttpClient client, byte[] image, string type, int clients, TimeSpan length, CancellationToken cancel)
    {
        var latencies = new List<double>();
        var errors = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            while (watch.Elapsed < length && !cancel.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(image);
                content.Headers.ContentType = new MediaTypeHeaderValue(type);
                using var response = await client.PostAsync("/v1/recognize", content, cancel);
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (latencies)
                {
                    if (response.IsSuccessStatusCode) latencies.Add(ms);
                    else errors++;
                }
            }
        }));
        return (latencies, errors, watch.Elapsed);
    }
}
