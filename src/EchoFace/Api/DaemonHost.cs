using EchoFace.Configuration;
using EchoFace.Daemon;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace EchoFace.Api;

/// <summary>A part of the listener built above this layer (the web console): its services, then its middleware and endpoints.</summary>
public interface IListenerPart
{
    void AddServices(IServiceCollection services);
    void Map(WebApplication app);
}

/// <summary>
/// The daemon's host: the engine's services (<see cref="EngineServices.AddEchoFace"/>), the door as a hosted service, and one
/// listener (Health.Listen) for /healthz, /metrics and the HTTP API. `echoface run` runs it; a test may run it in its own process.
/// </summary>
public static class DaemonHost
{
    /// <param name="configure">a last say over the services (a test's fake clock or its own loggers)</param>
    /// <param name="parts">what else the listener serves (the web console), with the API</param>
    public static WebApplication Build(EchoFaceConfig config, EngineLocation location, RunRequest request,
        Action<IServiceCollection>? configure = null, IReadOnlyList<IListenerPart>? parts = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddSystemd();
        // AddSystemd registers the notifier only under systemd; outside it, this one does nothing (no NOTIFY_SOCKET)
        builder.Services.TryAddSingleton<ISystemdNotifier, SystemdNotifier>();
        builder.Logging.ClearProviders();
        // logs on stderr keep stdout for the summary (--json)
        builder.Logging.AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.UseUrls(config.Health.Listen);
        builder.Services.AddEchoFace(config, location with { CameraFrames = true }).AddDoorDaemon(request);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(15));
        if (config.Api.Enabled) builder.Services.AddApi(config);
        foreach (var part in parts ?? []) part.AddServices(builder.Services);
        configure?.Invoke(builder.Services);
        // the slim builder leaves HTTPS out unless asked for (Health.Listen https://, required beyond loopback with the API on)
        if (config.Health.Listen.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // several images or recordings per request: a few times the per-file limit, each file is checked on its own
            k.Limits.MaxRequestBodySize = config.Media.MaxBytes * 4;
            // set on purpose for a board on a network (docs/faults.md): slow or idle clients give their connection back soon
            k.Limits.MaxConcurrentConnections = config.Api.MaxConnections;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(config.Api.RequestHeadersSeconds);
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(Math.Max(config.Api.RequestHeadersSeconds, 30));
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            k.Limits.MaxRequestHeaderCount = 64;
            k.Limits.MaxRequestLineSize = 8 * 1024;
            k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(1024, TimeSpan.FromSeconds(5));
            k.Limits.MinResponseDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(1024, TimeSpan.FromSeconds(5));
            if (config.Api.CertificateFile is { } cert && config.Api.KeyFile is { } key)
                k.ConfigureHttpsDefaults(h =>
                    h.ServerCertificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(cert, key));
        });
        var app = builder.Build();
        var daemon = app.Services.GetRequiredService<DoorDaemon>();
        app.MapGet("/healthz", () => DaemonHealth.Of(daemon, config) is var h && h.Ok ? Results.Json(h) : Results.Json(h, statusCode: 503));
        app.MapMetrics();
        if (config.Api.Enabled) app.MapApi(daemon);
        foreach (var part in parts ?? []) part.Map(app);
        RegisterGauges(daemon);
        return app;
    }

    private static DoorDaemon? _current;
    private static int _gauges;

    /// <summary>prometheus-net's registry is process-wide: the gauges are registered once and read the daemon running now.</summary>
    private static void RegisterGauges(DoorDaemon d)
    {
        _current = d;
        if (Interlocked.Exchange(ref _gauges, 1) == 1) return;
        var dropped = Metrics.CreateGauge("echoface_camera_dropped_frames", "frames dropped because the pipeline was behind");
        var restarts = Metrics.CreateGauge("echoface_source_restarts", "camera source restarts");
        var pending = Metrics.CreateGauge("echoface_outbox_pending", "events not yet acknowledged by the fleet");
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            if (_current is not { } c) return;
            dropped.Set(c.Camera?.Dropped ?? 0);
            restarts.Set(c.Camera?.Restarts ?? 0);
            pending.Set(c.Outbox?.Pending() ?? 0);
        });
    }
}
