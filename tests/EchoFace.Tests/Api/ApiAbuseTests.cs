using System.Net;
using System.Net.Sockets;
using System.Text;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Api;

/// <summary>
/// The daemon's listener against clients that misbehave, on 127.0.0.1: slow senders holding connections, oversized and too many
/// headers, truncated multipart, malformed JSON, a body trickled in. Each gets its answer or its connection closed by the limits
/// Kestrel is given on purpose, the daemon stays up and healthy, and its memory stays bounded.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ApiAbuseTests
{
    private readonly CliRunner _cli = new();

    private static async Task<string> RawAsync(Uri at, string head, byte[]? body = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(at.Host, at.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        if (body is not null) await stream.WriteAsync(body);
        var buffer = new byte[4096];
        var n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    /// <summary>True when the server closes the connection within the wait (a read returns 0 or the socket is reset).</summary>
    private static async Task<bool> ClosedAsync(NetworkStream stream, TimeSpan wait)
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
                if (await stream.ReadAsync(buffer).AsTask().WaitAsync(wait) == 0) return true;
        }
        catch (IOException) { return true; }
        catch (TimeoutException) { return false; }
    }

    private static long RssKiB(int pid) => long.Parse(File.ReadLines($"/proc/{pid}/status")
        .First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [Fact]
    public async Task Misbehaving_clients_get_their_answer_or_their_connection_closed_and_the_daemon_stays_healthy()
    {
        var key = _cli.Run("api-key", "create", "--role", "admin", "--json").Json.GetProperty("key").GetString()!;
        var (daemon, at) = HttpApiTests.Start(_cli, new Dictionary<string, string>
        {
            ["ECHOFACE__Api__MaxConnections"] = "16", ["ECHOFACE__Api__RequestHeadersSeconds"] = "2",
        });
        using var _ = daemon;
        using var http = HttpApiTests.Client(at, key);
        var before = RssKiB(daemon.Process.Id);

        // 40 slow senders, more than the 16 connections allowed: each is dropped after its 2 s for headers
        var slow = new List<TcpClient>();
        for (var i = 0; i < 40; i++)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(at.Host, at.Port);
            await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "));
            slow.Add(tcp);
        }
        var closed = await Task.WhenAll(slow.Take(16).Select(t => ClosedAsync(t.GetStream(), TimeSpan.FromSeconds(15))));
        Assert.All(closed, Assert.True);
        foreach (var t in slow) t.Dispose();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

        var huge = await RawAsync(at, $"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 20_000)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", huge);
        var many = await RawAsync(at, "GET /healthz HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 70).Select(i => $"X-H{i}: v\r\n")) + "\r\n");
        Assert.StartsWith("HTTP/1.1 431", many);

        // a multipart body cut short, malformed JSON, the wrong content type: a problem each, nothing changed
        var truncated = new ByteArrayContent(Encoding.ASCII.GetBytes(
            "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n\xff\xd8"));
        truncated.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=b");
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/v1/recognize", truncated)).StatusCode);
        var json = await http.PutAsync("/v1/models/active", new StringContent("{\"face\": ", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        var type = await http.PostAsync("/v1/recognize", new StringContent("hello", Encoding.UTF8, "text/plain"));
        Assert.True((int)type.StatusCode is 400 or 415, $"{type.StatusCode}");

        // a body trickled at a few bytes a second is cut off by the minimum data rate (1 KiB/s after 5 s)
        using (var trickle = new TcpClient())
        {
            await trickle.ConnectAsync(at.Host, at.Port);
            var stream = trickle.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/recognize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary=b\r\n" +
                "Content-Length: 100000\r\n\r\n"));
            var cutOff = ClosedAsync(stream, TimeSpan.FromSeconds(20));
            // 4 bytes every half second until the server closes the connection (Kestrel's data rate runs on the real clock)
            for (var i = 0; i < 40 && !cutOff.IsCompleted; i++)
            {
                try { await stream.WriteAsync(new byte[4]); } catch (IOException) { break; }
                try { await cutOff.WaitAsync(TimeSpan.FromMilliseconds(500)); } catch (TimeoutException) { }
            }
            Assert.True(await cutOff, "the trickled body was not cut off");
        }

        Assert.False(daemon.Process.HasExited, daemon.Log);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        var after = RssKiB(daemon.Process.Id);
        Assert.True(after < before + 200 * 1024, $"RSS grew from {before} KiB to {after} KiB");
        Assert.True(daemon.Stop(), daemon.Log);
    }
}
