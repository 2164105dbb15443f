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

    public static IEnumerable<string> ExpandImages(IEnumerable<string> paths)
    {
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
            {
                var files = Directory.GetFiles(p).Where(Evaluation.FaceEvaluation.IsImage).OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (files.Count == 0) throw new BadInputException($"{p} holds no images (.jpg, .png, .bmp, .pgm, .webp)");
                foreach (var f in files) yield return f;
            }
            else yield return p;
        }
    }

    public static string F(float v) => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
}
