using EchoFace.Daemon;

namespace EchoFace.WebConsole.Pages;

public sealed class DeniedModel(DoorDaemon daemon) : ConsolePage(daemon)
{
    public void OnGet() { }
}
