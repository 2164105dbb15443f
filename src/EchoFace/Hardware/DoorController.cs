using Microsoft.Extensions.Options;

namespace EchoFace.Hardware;

public sealed class DoorOptions
{
    public string Name { get; set; } = "door-1";
    /// <summary>auto (GPIO when a gpiochip exists, else simulated), gpio, or simulated.</summary>
    public string Board { get; set; } = "auto";
    public GpioPins Pins { get; set; } = new();
    /// <summary>How long a grant releases the lock.</summary>
    public double UnlockSeconds { get; set; } = 5;
    /// <summary>An authorised door left open longer than this raises the held-open alarm.</summary>
    public double HeldOpenSeconds { get; set; } = 30;
    /// <summary>Secure: locked while starting, stopping or faulted (a fire-exit route needs Safe: unlocked then).</summary>
    public string FailMode { get; set; } = "secure";
    public bool ExitButtonUnlocks { get; set; } = true;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("Door.Name must not be empty");
        if (Board is not ("auto" or "gpio" or "simulated")) throw new ArgumentException($"Door.Board must be auto, gpio or simulated, not '{Board}'");
        if (UnlockSeconds is <= 0 or > 600) throw new ArgumentException($"Door.UnlockSeconds must be in (0, 600], not {UnlockSeconds}");
        if (HeldOpenSeconds is <= 0 or > 86400) throw new ArgumentException($"Door.HeldOpenSeconds must be in (0, 86400], not {HeldOpenSeconds}");
        if (FailMode is not ("secure" or "safe")) throw new ArgumentException($"Door.FailMode must be secure or safe, not '{FailMode}'");
        if (Pins.Relay < 0) throw new ArgumentException($"Door.Pins.Relay must be a GPIO line number, not {Pins.Relay}");
    }
}

public enum DoorState { Locked, Unlocked, Open, HeldOpen, ForcedOpen, Fault }

/// <summary>Something the door did or saw, with the state it is in afterwards; the owner stores it with that state in one transaction.</summary>
public sealed record DoorEvent(string Kind, string Type, DoorState State, string Detail, string? IdentityId = null);

/// <summary>
/// The door's state machine, free of hardware (dotnet/iot's ButtonBase pattern): it reads and drives an <see cref="IDoorIo"/> on each
/// <see cref="Tick"/>, takes grants from the access policy, and reports every change as a <see cref="DoorEvent"/>. Time comes from a
/// <see cref="TimeProvider"/>, so tests step it instead of sleeping.
/// </summary>
public sealed class DoorController
{
    private readonly IDoorIo _io;
    private readonly IOptionsMonitor<DoorOptions> _options;
    private readonly TimeProvider _clock;
    private readonly Action<DoorEvent> _report;
    private readonly Lock _gate = new();
    // on the monotonic clock: a wall-clock jump back must not hold the door unlocked for the size of the jump
    private DateTimeOffset _unlockUntil = DateTimeOffset.MinValue;
    private DateTimeOffset _openedAt;
    private bool _wasOpen, _wasExit, _failed;
    private string? _grantedTo;

    private DoorOptions Options => _options.CurrentValue;

    /// <summary>A door that opens within this long after the lock re-engaged was still opened on the grant (the bolt takes a moment).</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    public DoorController(IDoorIo io, DoorOptions options, Action<DoorEvent> report, TimeProvider? clock = null)
        : this(io, new FixedOptions<DoorOptions>(options), report, clock) { }

    /// <param name="options">read at each use: a fleet change of Door (unlock time, fail mode, ...) applies from the next event</param>
    public DoorController(IDoorIo io, IOptionsMonitor<DoorOptions> options, Action<DoorEvent> report, TimeProvider? clock = null)
    {
        _io = io;
        _options = options;
        _report = report;
        _clock = clock ?? TimeProvider.System;
        State = DoorState.Fault;
        EnterFailMode("starting", fault: false);
    }

    public DoorState State { get; private set; }
    public string Board => _io.Name;

    /// <summary>Starting, stopping (<paramref name="fault"/> false) or faulted: the lock takes the configured fail position and stays there until <see cref="Resume"/>.</summary>
    public void EnterFailMode(string reason, bool fault = true)
    {
        lock (_gate)
        {
            _failed = true;
            TrySet(Options.FailMode == "safe");
            Change(DoorState.Fault, new DoorEvent(fault ? "fault" : "status", "door_fail_mode", DoorState.Fault, $"{reason}: lock {(Options.FailMode == "safe" ? "released (fail-safe)" : "held (fail-secure)")}"));
        }
    }

    /// <summary>Normal operation: locked, watching the contact.</summary>
    public void Resume()
    {
        lock (_gate)
        {
            _failed = false;
            _unlockUntil = DateTimeOffset.MinValue;
            TrySet(false);
            _wasOpen = SafeRead(() => _io.DoorOpen);
            Change(_wasOpen ? DoorState.Open : DoorState.Locked, new DoorEvent("status", "door_ready", _wasOpen ? DoorState.Open : DoorState.Locked, $"board {_io.Name}"));
            if (_wasOpen) _openedAt = Monotonic.Now(_clock);
        }
    }

    /// <summary>Releases the lock for UnlockSeconds on a granted decision (the event itself is the decision's).</summary>
    public bool Grant(string identityId)
    {
        lock (_gate)
        {
            if (_failed) return false;
            _unlockUntil = Monotonic.Now(_clock) + TimeSpan.FromSeconds(Options.UnlockSeconds);
            _grantedTo = identityId;
            TrySet(true);
            if (State == DoorState.Locked) State = DoorState.Unlocked;
            return true;
        }
    }

    /// <summary>Reads the inputs and advances the state; call every few tens of milliseconds.</summary>
    public void Tick()
    {
        lock (_gate)
        {
            if (_failed) return;
            var now = Monotonic.Now(_clock);
            bool open, exit;
            try { (open, exit) = (_io.DoorOpen, _io.ExitPressed); }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                EnterFailMode($"door inputs unreadable: {e.Message}");
                return;
            }

            if (exit && !_wasExit && Options.ExitButtonUnlocks)
            {
                _unlockUntil = now + TimeSpan.FromSeconds(Options.UnlockSeconds);
                _grantedTo = null;
                TrySet(true);
                Emit(new DoorEvent("access", "exit_button", State == DoorState.Locked ? DoorState.Unlocked : State, "request to exit"));
                if (State == DoorState.Locked) State = DoorState.Unlocked;
            }
            _wasExit = exit;

            if (_io.Unlocked && now >= _unlockUntil)
            {
                TrySet(false);
                if (State == DoorState.Unlocked) State = DoorState.Locked;
            }

            if (open && !_wasOpen)
            {
                _openedAt = now;
                if (now <= _unlockUntil + Grace)
                    Change(DoorState.Open, new DoorEvent("access", "door_opened", DoorState.Open, "opened on a grant", _grantedTo));
                else
                    Change(DoorState.ForcedOpen, new DoorEvent("alarm", "forced_open", DoorState.ForcedOpen, "the door opened without a grant"));
            }
            else if (open && State == DoorState.Open && now - _openedAt >= TimeSpan.FromSeconds(Options.HeldOpenSeconds))
                Change(DoorState.HeldOpen, new DoorEvent("alarm", "held_open", DoorState.HeldOpen, $"open for {Options.HeldOpenSeconds:F0} s"));
            else if (!open && _wasOpen)
            {
                var alarm = State is DoorState.HeldOpen or DoorState.ForcedOpen;
                // closing re-locks at once: a door that has been used needs no rest of its unlock time
                _unlockUntil = DateTimeOffset.MinValue;
                TrySet(false);
                Change(DoorState.Locked, new DoorEvent(alarm ? "alarm" : "access", alarm ? "alarm_cleared" : "door_closed", DoorState.Locked,
                    alarm ? $"door closed after {State}" : "door closed"));
            }
            _wasOpen = open;
        }
    }

    private void Change(DoorState state, DoorEvent e)
    {
        State = state;
        Emit(e);
    }

    private void Emit(DoorEvent e) => _report(e);

    private void TrySet(bool unlocked)
    {
        try { _io.SetUnlocked(unlocked); }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            _failed = true;
            State = DoorState.Fault;
            Emit(new DoorEvent("fault", "relay_fault", DoorState.Fault, e.Message));
        }
    }

    private static bool SafeRead(Func<bool> read)
    {
        try { return read(); }
        catch (Exception e) when (e is IOException or InvalidOperationException) { return false; }
    }
}
