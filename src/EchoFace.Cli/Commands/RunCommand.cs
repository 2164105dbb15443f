using System.CommandLine;
using EchoFace.Api;
using EchoFace.Configuration;
using EchoFace.Daemon;
using EchoFace.Evaluation;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>echoface run: the door terminal daemon (systemd Type=notify), with /healthz and /metrics.</summary>
internal static class RunCommand
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var camera = new Option<string?>("--camera") { Description = "v4l2:/dev/video0 | rtsp://... | file:PATH | none (default Camera.Source)" };
        var microphone = new Option<string?>("--microphone") { Description = "alsa:DEVICE | pulse:DEVICE | file:PATH | none, for the voice step-up (default Microphone.Source)" };
        var policy = new Option<string?>("--policy") { Description = "face | face+liveness | face+voice | retail (default Access.Policy)" };
        var board = new Option<string?>("--door") { Description = "auto | gpio | simulated (default Door.Board)" };
        var health = new Option<string?>("--health") { Description = "address of /healthz and /metrics (default Health.Listen)" };
        var once = new Option<bool>("--once") { Description = "stop when a file camera source ends, and print a summary (demos, tests, benchmarks)" };
        var cmd = new Command("run", "Run the door terminal: camera -> faces -> policy -> door, until stopped (SIGTERM)") { camera, microphone, policy, board, health, once };
        cmd.SetAction(async (parse, cancel) =>
        {
            var overrides = Overrides(parse, camera, microphone, policy, board, health);
            var config = EchoFaceConfig.Load(parse.GetValue(g.Config), overrides);
            var data = CliContext.ResolveDataDirectory(parse.GetValue(g.Data));
            // what the fleet pushed before and the console's edits (each stored with its version) are in force from the start
            Directory.CreateDirectory(data);
            var shadow = new Configuration.ConfigShadow(Path.Combine(data, config.Storage.Database), parse.GetValue(g.Config), overrides);
            config = shadow.Current;
            if (config.Camera.Source.StartsWith("file:", StringComparison.Ordinal) && !File.Exists(config.Camera.Source[5..]))
                throw new BadInputException($"camera file not found: {config.Camera.Source[5..]}");
            if (config.Microphone.Source.StartsWith("file:", StringComparison.Ordinal) && !File.Exists(config.Microphone.Source[5..]))
                throw new BadInputException($"microphone file not found: {config.Microphone.Source[5..]}");
            var request = new RunRequest(parse.GetValue(once), shadow);
            IListenerPart[] parts = config.Api is { Enabled: true, Console: true } ? [new WebConsole.ConsoleSite(config)] : [];
            await using var app = DaemonHost.Build(config, new EngineLocation(data, parse.GetValue(g.Models)), request, parts: parts);
            var daemon = app.Services.GetRequiredService<DoorDaemon>();
            using var ownShadow = shadow;
            try { await app.RunAsync(cancel); }
            catch (Exception e) when (e is BadInputException or ModelException or ToolException)
            {
                o.Error(e.Message);
                return e is BadInputException ? EchoFaceCli.BadInput : EchoFaceCli.Failure;
            }
            catch (IOException e)
            {
                // Kestrel could not bind (the address is in use, or not this machine's)
                o.Error($"cannot listen on {config.Health.Listen}: {e.Message}");
                return EchoFaceCli.Failure;
            }
            if (daemon.Failure is { } failure)
            {
                o.Error(failure);
                return EchoFaceCli.BadInput;
            }
            if (request.Once) Summary(o, parse.GetValue(g.Json), daemon, config);
            return EchoFaceCli.Ok;
        });
        return cmd;
    }

    private static Dictionary<string, string?> Overrides(ParseResult p, params Option<string?>[] options)
    {
        string[] keys = ["Camera:Source", "Microphone:Source", "Access:Policy", "Door:Board", "Health:Listen"];
        var result = new Dictionary<string, string?>();
        for (var i = 0; i < options.Length; i++)
            if (p.GetValue(options[i]) is { } v) result[keys[i]] = v;
        return result;
    }

    private static void Summary(Output o, bool json, DoorDaemon d, EchoFaceConfig config)
    {
        var stats = d.Stats;
        var frames = stats?.FrameMs ?? [];
        var decisions = stats?.DecisionMs ?? [];
        var seconds = (DateTimeOffset.UtcNow - d.StartedAt).TotalSeconds - (d.ReadyMs ?? 0) / 1000;
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        var summary = new
        {
            camera = config.Camera.Source, readyMs = d.ReadyMs, frames = stats?.Frames ?? 0, captured = d.Camera?.Captured ?? 0,
            dropped = d.Camera?.Dropped ?? 0, restarts = d.Camera?.Restarts ?? 0, fps = (stats?.Frames ?? 0) / Math.Max(1e-9, seconds),
            frameMs = new { p50 = Percentiles.Of(frames, 50), p95 = Percentiles.Of(frames, 95) },
            frameToDecisionMs = new { p50 = Percentiles.Of(decisions, 50), p95 = Percentiles.Of(decisions, 95) },
            granted = stats?.Granted ?? 0, denied = stats?.Denied ?? 0, door = d.Door?.State.ToString(),
            rssMiB = self.WorkingSet64 / 1048576.0, peakRssMiB = self.PeakWorkingSet64 / 1048576.0,
            events = d.FinalEvents.Select(e => new { e.Id, e.Kind, payload = System.Text.Json.JsonDocument.Parse(e.Payload).RootElement }),
        };
        if (json) { o.Json(summary); return; }
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("time to ready", $"{summary.readyMs:F0} ms");
        table.AddRow("frames processed / captured / dropped", $"{summary.frames} / {summary.captured} / {summary.dropped}");
        table.AddRow("frames per second", $"{summary.fps:F1}");
        table.AddRow("frame ms p50 / p95", $"{summary.frameMs.p50:F1} / {summary.frameMs.p95:F1}");
        table.AddRow("frame-to-decision ms p50 / p95", $"{summary.frameToDecisionMs.p50:F1} / {summary.frameToDecisionMs.p95:F1}");
        table.AddRow("decisions granted / denied", $"{summary.granted} / {summary.denied}");
        table.AddRow("source restarts", $"{summary.restarts}");
        table.AddRow("RSS / peak", $"{summary.rssMiB:F0} / {summary.peakRssMiB:F0} MiB");
        o.Console.Write(table);
    }
}
