using System.Device.Gpio;

namespace EchoFace.Hardware;

/// <summary>The door's wiring: one lock relay output, a door contact and an exit button as inputs. Implemented by GPIO or a simulation.</summary>
public interface IDoorIo : IDisposable
{
    /// <summary>What this is, for logs and health ("gpio /dev/gpiochip0", "simulated").</summary>
    string Name { get; }
    /// <summary>Drives the lock: true releases it (the relay's active level is handled inside).</summary>
    void SetUnlocked(bool unlocked);
    bool Unlocked { get; }
    /// <summary>Door contact: true when the door is open.</summary>
    bool DoorOpen { get; }
    /// <summary>Request-to-exit button: true while pressed.</summary>
    bool ExitPressed { get; }
}

public sealed class GpioPins
{
    public int Relay { get; set; } = 17;
    /// <summary>Relay boards often switch on a low level.</summary>
    public bool RelayActiveLow { get; set; }
    /// <summary>-1 when no door contact is wired (no held-open or forced alarms then).</summary>
    public int Contact { get; set; } = 27;
    /// <summary>A normally-closed reed contact reads low when the door is closed: open = high.</summary>
    public bool ContactOpenHigh { get; set; } = true;
    /// <summary>-1 when no exit button is wired.</summary>
    public int ExitButton { get; set; } = 22;
    public bool ExitButtonActiveLow { get; set; } = true;
    public int Chip { get; set; }
}

/// <summary>A board wired through the Linux GPIO character device (System.Device.Gpio picks libgpiod or sysfs).</summary>
public sealed class GpioDoorIo : IDoorIo
{
    private readonly GpioController _gpio;
    private readonly GpioPins _pins;
    private bool _unlocked;

    public GpioDoorIo(GpioPins pins)
    {
        _pins = pins;
        _gpio = new GpioController();
        _gpio.OpenPin(pins.Relay, PinMode.Output);
        if (pins.Contact >= 0) _gpio.OpenPin(pins.Contact, PinMode.InputPullUp);
        if (pins.ExitButton >= 0) _gpio.OpenPin(pins.ExitButton, PinMode.InputPullUp);
        Name = $"gpio chip {pins.Chip} (relay {pins.Relay}, contact {pins.Contact}, exit {pins.ExitButton})";
    }

    public string Name { get; }
    public bool Unlocked => _unlocked;

    public void SetUnlocked(bool unlocked)
    {
        _gpio.Write(_pins.Relay, unlocked ^ _pins.RelayActiveLow ? PinValue.High : PinValue.Low);
        _unlocked = unlocked;
    }

    public bool DoorOpen => _pins.Contact >= 0 && (_gpio.Read(_pins.Contact) == PinValue.High) == _pins.ContactOpenHigh;
    public bool ExitPressed => _pins.ExitButton >= 0 && (_gpio.Read(_pins.ExitButton) == PinValue.Low) == _pins.ExitButtonActiveLow;

    public void Dispose() => _gpio.Dispose();
}

/// <summary>A door with no hardware: the relay is a flag, the contact and button are set by a script or a test. Same interface as GPIO.</summary>
public sealed class SimulatedDoorIo : IDoorIo
{
    private readonly Lock _gate = new();
    private readonly List<(DateTimeOffset At, bool Unlocked)> _relay = [];
    private readonly TimeProvider _clock;
    private bool _unlocked, _open, _exit;

    public SimulatedDoorIo(TimeProvider? clock = null) => _clock = clock ?? TimeProvider.System;

    public string Name => "simulated";
    public bool Unlocked { get { lock (_gate) return _unlocked; } }
    public bool DoorOpen { get { lock (_gate) return _open; } set { lock (_gate) _open = value; } }
    public bool ExitPressed { get { lock (_gate) return _exit; } set { lock (_gate) _exit = value; } }

    /// <summary>Every relay change, for tests and the demo's summary.</summary>
    public IReadOnlyList<(DateTimeOffset At, bool Unlocked)> RelayHistory { get { lock (_gate) return [.. _relay]; } }

    public void SetUnlocked(bool unlocked)
    {
        lock (_gate)
        {
            if (unlocked != _unlocked) _relay.Add((_clock.GetUtcNow(), unlocked));
            _unlocked = unlocked;
        }
    }

    public void Dispose() { }
}

public static class DoorIoFactory
{
    /// <summary>
    /// "gpio" opens the GPIO board (an error when there is none), "simulated" the simulation, "auto" GPIO when a gpiochip exists and the
    /// simulation otherwise, as dotnet/iot picks its drivers: try in order, fall back only on "not on this machine".
    /// </summary>
    public static IDoorIo Open(string board, GpioPins pins, TimeProvider? clock, out string? fallbackReason)
    {
        fallbackReason = null;
        switch (board)
        {
            case "simulated": return new SimulatedDoorIo(clock);
            case "gpio": return new GpioDoorIo(pins);
            case "auto":
                if (!File.Exists($"/dev/gpiochip{pins.Chip}"))
                {
                    fallbackReason = $"/dev/gpiochip{pins.Chip} does not exist";
                    return new SimulatedDoorIo(clock);
                }
                try { return new GpioDoorIo(pins); }
                catch (Exception e) when (e is PlatformNotSupportedException or DllNotFoundException or IOException or UnauthorizedAccessException)
                {
                    fallbackReason = $"GPIO could not be opened: {e.Message}";
                    return new SimulatedDoorIo(clock);
                }
            default: throw new ArgumentException($"Door.Board must be auto, gpio or simulated, not '{board}'");
        }
    }
}
