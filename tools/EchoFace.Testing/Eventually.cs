using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EchoFace.Testing;

/// <summary>
/// The one way tests wait for something another process or thread does: poll a condition until it holds, give up after a limit
/// (or as soon as <c>abandon</c> says there is no point, e.g. the daemon exited) with a message saying what did not happen.
/// Code that takes a clock is tested on FakeTimeProvider instead; this is for real processes, sockets and brokers.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public static void True(Func<bool> done, string what, TimeSpan? limit = null, Func<bool>? abandon = null, Func<string>? context = null)
    {
        var watch = Stopwatch.StartNew();
        while (!done())
        {
            if (watch.Elapsed > (limit ?? DefaultLimit) || abandon?.Invoke() == true) throw Timeout(what, watch, context);
            Thread.Sleep(Poll);
        }
    }

    public static async Task TrueAsync(Func<bool> done, string what, TimeSpan? limit = null, Func<string>? context = null)
    {
        var watch = Stopwatch.StartNew();
        while (!done())
        {
            if (watch.Elapsed > (limit ?? DefaultLimit)) throw Timeout(what, watch, context);
            await Task.Delay(Poll);
        }
    }

    /// <summary>Calls <paramref name="attempt"/> until it stops throwing <typeparamref name="TException"/> (a listener not bound yet).</summary>
    public static async Task<T> SucceedsAsync<T, TException>(Func<Task<T>> attempt, string what, TimeSpan? limit = null) where TException : Exception
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try { return await attempt(); }
            catch (TException) when (watch.Elapsed < (limit ?? DefaultLimit)) { await Task.Delay(Poll); }
            catch (TException e) { throw new TimeoutException($"{what} still failed after {watch.Elapsed.TotalSeconds:F0} s: {e.Message}", e); }
        }
    }

    private static TimeoutException Timeout(string what, Stopwatch watch, Func<string>? context) =>
        new($"{what} did not happen within {watch.Elapsed.TotalSeconds:F0} s{(context is null ? "" : "\n" + context())}");
}

/// <summary>The one free-port helper: a port on 127.0.0.1 the kernel just handed out, for a server a test or tool starts.</summary>
public static class FreePort
{
    public static int Next()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
