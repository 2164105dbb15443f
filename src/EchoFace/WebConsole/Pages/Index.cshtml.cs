using EchoFace.Daemon;

namespace EchoFace.WebConsole.Pages;

public sealed class IndexModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    public DaemonHealth Health { get; private set; } = null!;
    public double Fps { get; private set; }
    public string Models { get; private set; } = "";
    public IReadOnlyList<DecisionRow> Decisions { get; private set; } = [];

    public void OnGet()
    {
        Health = DaemonHealth.Of(Daemon, Daemon.Config);
        Fps = Daemon.Stats?.Fps ?? 0;
        Models = Engine is { } e ? $"{e.Config.Face.Detector} · {e.FaceEmbedder} · {e.Config.Face.Liveness}" : "loading";
        Decisions = DecisionRow.Latest(Daemon, new Storage.EventOutbox.Filter("access"), 8);
    }
}
