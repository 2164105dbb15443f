using System.Diagnostics;
using System.Text.Json;

namespace EchoFace.Tests.Inference;

/// <summary>The reference runtimes under Node (tools/faceapi-oracle): face-api.js and TF.js, the ONNX conversions' oracles.</summary>
internal static class NodeOracle
{
    public static readonly string Folder = Path.Combine(TestEnvironment.RepoRoot, "tools", "faceapi-oracle");

    /// <summary>Runs <paramref name="script"/> and parses the JSON it prints; fails naming set-up when its package is missing.</summary>
    public static JsonDocument Run(string package, string script, IEnumerable<string> arguments)
    {
        if (!Directory.Exists(Path.Combine(Folder, "node_modules", package)))
            throw new InvalidOperationException($"tools/faceapi-oracle is not installed ({package} is missing): run {TestEnvironment.SetupCommand}");
        var psi = new ProcessStartInfo("node") { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments.Prepend(script)) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        Assert.True(node.WaitForExit(120_000), $"{script} did not finish in 2 minutes");
        Assert.True(node.ExitCode == 0, $"{script} failed: {stderr.Result}");
        return JsonDocument.Parse(stdout.Result);
    }
}
