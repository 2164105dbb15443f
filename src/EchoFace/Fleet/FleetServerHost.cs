using EchoFace.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EchoFace.Fleet;

/// <summary>
/// `echoface fleet serve` under systemd (echoface-fleet.service): migrates the store, then runs the collector until SIGTERM,
/// logging what it stored. A database that is not up yet at boot is waited for, not a failed start.
/// </summary>
public sealed class FleetServerService(EchoFaceConfig config, ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger("EchoFace.FleetServer");

    public EventCollector? Collector { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        await using var store = new FleetStore(FleetStore.Open(config.FleetServer.ConnectionString(), config.FleetServer.Collector),
            config.FleetServer.TelemetryHistory);
        await MigrateAsync(store, stop);
        await using var collector = new EventCollector(config.Fleet, config.FleetServer, store, _log);
        Collector = collector;
        var run = collector.RunAsync(stop);
        var dispatcher = new FleetDispatcher(store.Source, config.FleetServer, collector.PublishAsync, _log);
        var dispatch = dispatcher.RunAsync(() => collector.Stats.BrokerConnected, stop);
        var last = (Events: 0L, At: DateTime.UtcNow);
        while (!run.IsCompleted)
        {
            await ((Task)Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30), stop))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var s = collector.Stats;
            var now = DateTime.UtcNow;
            var rate = (s.Events - last.Events) / Math.Max(0.001, (now - last.At).TotalSeconds);
            last = (s.Events, now);
            _log.LogInformation("Fleet collector: {Events} events stored ({Rate:F0}/s), {Duplicates} re-sends, {Refused} refused, " +
                                "{Statuses} statuses, {Telemetry} telemetry, {Reports} reports, {Answers} enrolment answers; sent {Sent} " +
                                "enrolments and {Configs} configurations{Down}", s.Events, rate, s.Duplicates, s.Refused, s.Statuses, s.Telemetry,
                s.Reports, s.Answers, Interlocked.Read(ref dispatcher.Sent), Interlocked.Read(ref dispatcher.Configs),
                s.DatabaseDown ? "; database unavailable" : "");
        }
        await run;
        await dispatch;
    }

    private async Task MigrateAsync(FleetStore store, CancellationToken stop)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                var applied = await store.MigrateAsync(stop);
                _log.LogInformation("Fleet store at schema version {Version}{Applied}", FleetSchema.Latest,
                    applied.Count > 0 ? $" (applied {string.Join(", ", applied)})" : "");
                return;
            }
            catch (Exception e) when (Unreachable(e) && !stop.IsCancellationRequested)
            {
                _log.LogWarning("Fleet store unreachable ({Reason}); retrying in {Seconds:F0} s", e.Message, delay.TotalSeconds);
                await Task.Delay(delay, stop);
                delay = TimeSpan.FromSeconds(Math.Min(30, delay.TotalSeconds * 2));
            }
        }
    }

    /// <summary>Down or starting (retry) rather than refusing us (a wrong password or database name: fail with the server's reason).</summary>
    private static bool Unreachable(Exception e) => e switch
    {
        Npgsql.PostgresException p => p.SqlState is "57P03" or "53300",
        Npgsql.NpgsqlException or System.Net.Sockets.SocketException or TimeoutException => true,
        _ => false,
    };

    /// <summary>The host: systemd notify and journal-friendly logs when started by systemd, console logs otherwise.</summary>
    public static IHost Build(EchoFaceConfig config)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSystemd();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton<FleetServerService>();
        builder.Services.AddHostedService(s => s.GetRequiredService<FleetServerService>());
        return builder.Build();
    }
}
