// The `echoface` executable: a thin root; every command lives in Commands/ and returns an exit code.
return await EchoFace.Cli.EchoFaceCli.RunAsync(args, EchoFace.Cli.Output.Standard());
