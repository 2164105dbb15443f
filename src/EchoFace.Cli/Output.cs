using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace EchoFace.Cli;

/// <summary>Where a command writes: tables and progress for people, or one JSON document for machines (--json).</summary>
public sealed class Output(IAnsiConsole console, TextWriter stdout, TextWriter stderr)
{
    public IAnsiConsole Console { get; } = console;
    public TextWriter Stdout { get; } = stdout;
    public TextWriter Stderr { get; } = stderr;

    public static Output Standard()
    {
        var console = AnsiConsole.Console;
        // piped into a log or a file Spectre assumes 80 columns and wraps every wide table cell by cell; a terminal keeps its own width
        if (System.Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("COLUMNS")))
            console.Profile.Width = PipedWidth;
        return new(console, System.Console.Out, System.Console.Error);
    }

    /// <summary>The width tables are laid out for when stdout is not a terminal (and COLUMNS does not say).</summary>
    public const int PipedWidth = 200;

    /// <summary>What --json prints and the reports are written with: camelCase, as every machine-readable output of the CLI.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public void Json(object value) => Stdout.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    public void Error(string message) => Stderr.WriteLine($"echoface: {message}");

    public void Line(string markup) => Console.MarkupLine(markup);

    public static string Esc(string? s) => Markup.Escape(s ?? "");

    /// <summary>Runs work with a progress bar on a terminal, silently otherwise (--json, pipes, tests).</summary>
    public T Progress<T>(bool enabled, string label, int total, Func<Action, T> work)
    {
        if (!enabled || !Console.Profile.Capabilities.Interactive) return work(() => { });
        return Console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: total);
                return work(() => task.Increment(1));
            });
    }

    /// <summary>Runs work under a spinner whose text the work updates with each step it starts (silently without a terminal).</summary>
    public T Status<T>(bool enabled, string label, Func<Action<string>, T> work)
    {
        if (!enabled || !Console.Profile.Capabilities.Interactive) return work(_ => { });
        return Console.Status().Start(label, ctx => work(step => ctx.Status($"{Esc(label)}: {Esc(step)}")));
    }
}
