using System.CommandLine;

namespace EchoFace.Cli.Commands;

internal static class CommandBase
{
    /// <summary>Gives a command an action that receives a composed <see cref="CliContext"/> and returns an exit code.</summary>
    public static Command WithAction(this Command command, GlobalOptions globals, Output output, Func<CliContext, ParseResult, int> action)
    {
        command.SetAction(parse =>
        {
            using var context = new CliContext(parse, globals, output);
            return action(context, parse);
        });
        return command;
    }

    public static IEnumerable<string> ExpandImages(IEnumerable<string> paths) =>
        ExpandFolders(paths, Evaluation.FaceEvaluation.IsImage, "images (.jpg, .png, .bmp, .pgm, .webp)");

    public static IEnumerable<string> ExpandAudio(IEnumerable<string> paths) =>
        ExpandFolders(paths, Voice.AudioDecoder.IsAudio, $"recordings ({string.Join(", ", Voice.AudioDecoder.Extensions)})");

    /// <summary>Files as given, with each folder replaced by the files in it that <paramref name="accept"/> takes (a folder with none is an error).</summary>
    private static IEnumerable<string> ExpandFolders(IEnumerable<string> paths, Func<string, bool> accept, string kind)
    {
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
            {
                var files = Directory.GetFiles(p).Where(accept).OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (files.Count == 0) throw new BadInputException($"{p} holds no {kind}");
                foreach (var f in files) yield return f;
            }
            else yield return p;
        }
    }

    public static string F(float v) => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Progress reported as a status line (Output.Status's step), synchronously: Progress&lt;T&gt; would post it to the thread pool.</summary>
internal sealed class StepProgress(Action<string> step) : IProgress<string>
{
    public void Report(string value) => step(value);
}
