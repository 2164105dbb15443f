using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;

namespace EchoFace.Cli.Commands;

/// <summary>bench http | collections | kernels: a device's HTTP API under load, synthetic collections, and the SIMD kernels this CPU runs.</summary>
internal static class BenchCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var bench = new Command("bench", "Measure a running device");
        var url = new Option<string>("--url") { Description = "the device's API address", DefaultValueFactory = _ => "http://127.0.0.1:9464" };
        var key = new Option<string>("--key") { Description = "an API key with the read role", Required = true };
        var image = new Option<string>("--image") { Description = "the photo each request sends to POST /v1/recognize", Required = true };
        var clients = new Option<int[]>("--clients")
        {
            Description = "concurrent clients, one run each; 0 measures the door's frame loop without load (e.g. --clients 0 1 4)",
            AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0, 1, 4],
        };
        var seconds = new Option<double>("--seconds") { Description = "length of each run, after a 2 s warm-up", DefaultValueFactory = _ => 20 };
        var http = new Command("http", "POST /v1/recognize with one photo as fast as N clients can: requests per second, p50/p95/p99 " +
            "latency, errors, and the door's frame rate and frame p95 meanwhile") { url, key, image, clients, seconds };
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
                if (n < 0) throw new BadInputException("--clients must be 0 (the door alone) or more");
                if (n > 0) await RunAsync(client, bytes, type, n, TimeSpan.FromSeconds(2), cancel); // warm-up: JIT, pipelines created on demand
                var before = await DoorAsync(client, null, cancel);
                var (latencies, errors, elapsed) = await RunAsync(client, bytes, type, n, TimeSpan.FromSeconds(p.GetValue(seconds)), cancel);
                var after = await DoorAsync(client, before.Frames, cancel);
                rows.Add(new BenchRun(n, latencies.Count, errors, Math.Round(elapsed.TotalSeconds, 1), Math.Round(latencies.Count / elapsed.TotalSeconds, 1),
                    Evaluation.Percentiles.Of(latencies, 50), Evaluation.Percentiles.Of(latencies, 95), Evaluation.Percentiles.Of(latencies, 99),
                    Math.Round((after.Frames - before.Frames) / elapsed.TotalSeconds, 1), after.P95));
            }
            if (p.GetValue(g.Json)) { o.Json(new { url = p.GetValue(url), image = Path.GetFullPath(path), runs = rows }); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("clients", "requests", "errors", "requests/s", "p50 ms", "p95 ms", "p99 ms", "door fps",
                "door frame p95 ms");
            foreach (var r in rows)
                table.AddRow($"{r.Clients}", $"{r.Requests}", $"{r.Errors}", $"{r.PerSecond:F1}", Ms(r.P50), Ms(r.P95), Ms(r.P99),
                    $"{r.DoorFps:F1}", r.DoorFrameP95 is { } p95 ? $"{p95:F1}" : "no frames");
            o.Console.Write(table);
            return EchoFaceCli.Ok;
        });
        bench.Subcommands.Add(http);
        bench.Subcommands.Add(Collections(g, o));
        bench.Subcommands.Add(Kernels(g, o));
        return bench;
    }

    private static Command Kernels(GlobalOptions g, Output o)
    {
        var cmd = new Command("kernels", "The hand-written SIMD kernels this CPU runs (the int8 1:N scan): each against the scalar reference, and its speed");
        return cmd.WithAction(g, o, (ctx, _) =>
        {
            var checks = Gallery.Int8Dot.Check();
            var ok = checks.All(c => c.Equal);
            if (ctx.Json)
            {
                o.Json(new { architecture = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(), int8Dot = checks });
                return ok ? EchoFaceCli.Ok : EchoFaceCli.Failure;
            }
            var table = new Table().AddColumns("int8 dot kernel", "in use", "pairs", "equal to scalar", "ns per 512-d dot");
            foreach (var c in checks)
                table.AddRow(c.Kernel, c.InUse ? "[green]yes[/]" : "", $"{c.Pairs}", c.Equal ? "[green]yes[/]" : "[red]NO[/]", $"{c.NsPerDot:F1}");
            o.Console.Write(table);
            return ok ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
    }

    private static Command Collections(GlobalOptions g, Output o)
    {
        var faces = new Option<int[]>("--faces") { Description = "collection sizes, one run each", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [10_000, 100_000, 1_000_000] };
        var queries = new Option<int>("--queries") { Description = "searches per size (a new photo of someone in the collection each)", DefaultValueFactory = _ => 30 };
        var work = new Option<string?>("--work") { Description = "folder for the synthetic collections, deleted after each run (default: bench/ in the data directory; 1M faces take ~3 GiB)" };
        var cmd = new Command("collections", "Synthetic photo collections at each size: faces stored and sealed per second, search p50/p95 and recall@20 against exact search, memory") { faces, queries, work };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            if (p.GetValue(queries) is < 1 or > 1000) throw new BadInputException($"--queries must be 1..1000, not {p.GetValue(queries)}");
            var bench = new Evaluation.CollectionBenchmark(p.GetValue(work) ?? Path.Combine(ctx.DataDirectory, "bench"), p.GetValue(queries));
            var rows = p.GetValue(faces)!.Select(n => o.Status(!ctx.Json, $"{n:N0} faces", step => bench.Run(n, new StepProgress(step)))).ToList();
            if (ctx.Json) { o.Json(rows); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("faces", "stored/s", "sealed/s", "search p50 ms", "p95 ms", "recall@20", "code file MiB", "RSS own MiB", "RSS mapped MiB");
            foreach (var r in rows)
                table.AddRow($"{r.Faces:N0}", $"{r.StoredPerSecond:N0}", $"{r.SealedPerSecond:N0}", $"{r.SearchP50Ms:F1}", $"{r.SearchP95Ms:F1}", $"{r.RecallAt20:P1}",
                    $"{r.CodeFileMiB:F0}", $"{r.AnonymousMiB:F0}", $"{r.FileBackedMiB:F0}");
            o.Console.Write(table);
            return EchoFaceCli.Ok;
        });
    }


    private static string Ms(double ms) => double.IsNaN(ms) ? "-" : $"{ms:F1}"; // no requests (the door alone): no latency

    private sealed record BenchRun(int Clients, int Requests, int Errors, double Seconds, double PerSecond, double P50, double P95, double P99,
        double DoorFps, double? DoorFrameP95);

    /// <summary>The door's frames so far and the p95 of those after <paramref name="after"/> (GET /v1/stats).</summary>
    private static async Task<(long Frames, double? P95)> DoorAsync(HttpClient client, long? after, CancellationToken cancel)
    {
        var url = after is null ? "/v1/stats" : $"/v1/stats?framesAfter={after}";
        using var stats = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync(url, cancel));
        var door = stats.RootElement.GetProperty("door");
        var p95 = door.GetProperty("frameMs").GetProperty("p95");
        return (door.GetProperty("frames").GetInt64(), p95.ValueKind == System.Text.Json.JsonValueKind.Number ? p95.GetDouble() : null);
    }

    private static async Task<(List<double> Latencies, int Errors, TimeSpan Elapsed)> RunAsync(HttpClient client, byte[] image, string type, int clients, TimeSpan length, CancellationToken cancel)
    {
        var latencies = new List<double>();
        var errors = 0;
        var watch = Stopwatch.StartNew();
        if (clients == 0) await Task.Delay(length, cancel); // the door alone, for the figures under load to be compared with
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
