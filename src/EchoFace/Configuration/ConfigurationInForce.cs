using Microsoft.Extensions.Options;

namespace EchoFace.Configuration;

/// <summary>
/// The configuration the running daemon works with. It starts as loaded; a fleet change that the shadow applied and validated
/// takes its place whole (<see cref="Apply"/>). The live sections (<see cref="ConfigShadow.LiveSections"/>) reach the services
/// through standard options monitors, which read the section in force at each use and tell their listeners of a change; the
/// other sections keep their start values until a restart.
/// </summary>
public sealed class ConfigurationInForce(EchoFaceConfig initial)
{
    private readonly Lock _gate = new();
    private readonly List<(string Section, Action Listener)> _listeners = [];
    private volatile EchoFaceConfig _current = initial;

    public EchoFaceConfig Current => _current;

    /// <summary>
    /// Takes the changed live sections of <paramref name="next"/> into force (the others keep their start values: they need a
    /// restart) and tells their listeners.
    /// </summary>
    public void Apply(EchoFaceConfig next, IEnumerable<string> changedSections)
    {
        var changed = changedSections.ToList();
        var merged = _current.Copy();
        foreach (var section in changed)
        {
            switch (section)
            {
                case "Access": merged.Access = next.Access; break;
                case "Match": merged.Match = next.Match; break;
                case "Door": merged.Door = next.Door; break;
                case "Voice": merged.Voice = next.Voice; break;
                default: throw new ArgumentException($"{section} is not a live section ({string.Join(", ", ConfigShadow.LiveSections)})");
            }
        }
        _current = merged;
        List<Action> tell;
        lock (_gate) tell = [.. _listeners.Where(l => changed.Contains(l.Section)).Select(l => l.Listener)];
        foreach (var listener in tell) listener();
    }

    /// <summary>The monitor of one live section, e.g. <c>Monitor(c => c.Access, "Access")</c>.</summary>
    public IOptionsMonitor<T> Monitor<T>(Func<EchoFaceConfig, T> section, string name) =>
        ConfigShadow.LiveSections.Contains(name) ? new SectionMonitor<T>(this, section, name)
            : throw new ArgumentException($"{name} is not a live section ({string.Join(", ", ConfigShadow.LiveSections)})");

    private sealed class SectionMonitor<T>(ConfigurationInForce owner, Func<EchoFaceConfig, T> section, string name) : IOptionsMonitor<T>
    {
        public T CurrentValue => section(owner.Current);
        public T Get(string? optionsName) => CurrentValue;

        public IDisposable OnChange(Action<T, string?> listener)
        {
            var entry = (name, (Action)(() => listener(CurrentValue, name)));
            lock (owner._gate) owner._listeners.Add(entry);
            return new Unsubscribe(() => { lock (owner._gate) owner._listeners.Remove(entry); });
        }
    }

    private sealed class Unsubscribe(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
