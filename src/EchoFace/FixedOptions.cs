using Microsoft.Extensions.Options;

namespace EchoFace;

/// <summary>
/// Options that never change, behind the monitor interface live options use: what a command, a benchmark or a test passes where
/// the daemon passes the configuration in force (Configuration/ConfigurationInForce). The framework has IOptions for this, but
/// not a monitor; the services read options through IOptionsMonitor so that a fleet change reaches them.
/// </summary>
public sealed class FixedOptions<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue => value;
    public T Get(string? name) => value;
    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
