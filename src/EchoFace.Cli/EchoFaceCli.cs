using System.CommandLine;
using EchoFace.Cli.Commands;

namespace EchoFace.Cli;

/// <summary>Builds the command tree and maps failures to exit codes: 0 ok, 1 runtime failure, 2 usage or bad input.</summary>
public static class EchoFaceCli
{
    public const int Ok = 0, Failure = 1, BadInput = 2;

    public static async Task<int> RunAsync(string[] args, Output output)
    {
        var globals = new GlobalOptions();
        var root = new RootCommand("EchoFace: face and voice recognition at the door, on the edge.");
        globals.AddTo(root);
        foreach (var command in new[]
                 {
                     FaceCommands.Enroll(globals, output), FaceCommands.Identify(globals, output), FaceCommands.Verify(globals, output),
                     FaceCommands.Faces(globals, output), RecognizeCommand.Build(globals, output), VoiceCommands.Build(globals, output),
                     PeopleCommands.Build(globals, output), ModelsCommands.Build(globals, output),
                     EvalCommands.Build(globals, output), RunCommand.Build(globals, output), FleetCommands.Build(globals, output),
                     RecommendCommands.Build(globals, output), CustomerCommands.Build(globals, output), SnapshotCommands.Build(globals, output), ApiKeyCommands.Build(globals, output), BenchCommands.Build(globals, output), CollectionCommands.Build(globals, output), ConfigCommands.Build(globals, output),
                 })
            root.Subcommands.Add(command);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) output.Error(e.Message);
            output.Error("see `echoface --help`");
            return BadInput;
        }
        try
        {
            // our own handler below maps exceptions to exit codes; the library's would turn every one into 1
            // no ProcessTerminationTimeout: the daemon's host handles SIGTERM and may need longer than the library's 2 s to stop cleanly
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (BadInputException e)
        {
            output.Error(e.Message);
            return BadInput;
        }
        catch (Exception e) when (e is ModelException or ToolException)
        {
            output.Error(e.Message);
            return Failure;
        }
        catch (Npgsql.NpgsqlException e)
        {
            // the fleet store (fleet serve, events, devices, migrate): unreachable, refused or a failed statement
            output.Error($"the fleet database: {e.Message}");
            return Failure;
        }
    }
}
