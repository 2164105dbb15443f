using NetArchTest.Rules;

namespace EchoFace.Tests.Architecture;

/// <summary>
/// The engine's layer rule (docs/architecture.md): a capability may use only the layers below its own, never one beside it or above.
/// The root namespace (EchoFace: the error types every layer throws) is shared.
/// </summary>
[Trait("Category", "Unit")]
public class LayerTests
{
    /// <summary>Bottom to top; folders on one line are one layer and must not use each other.</summary>
    public static readonly string[][] Layers =
    [
        ["Storage"],
        ["Media", "Inference", "Hardware", "Recommend"],
        ["Gallery"],
        ["Face", "Voice"],
        ["Recognition"],
        ["Access", "Sync"],
        ["Evaluation", "Configuration"],
        ["Daemon", "Fleet"],
        ["Api"],
        ["WebConsole"],
    ];

    public static TheoryData<string> Capabilities() => [.. Layers.SelectMany(l => l)];

    [Theory]
    [MemberData(nameof(Capabilities))]
    public void A_capability_uses_only_the_layers_below_it(string capability)
    {
        var level = Array.FindIndex(Layers, l => l.Contains(capability));
        var forbidden = Layers.Skip(level).SelectMany(l => l).Where(c => c != capability).Select(c => $"EchoFace.{c}").ToArray();
        var result = Types.InAssembly(typeof(BadInputException).Assembly)
            .That().ResideInNamespace($"EchoFace.{capability}")
            .ShouldNot().HaveDependencyOnAny(forbidden)
            .GetResult();
        Assert.True(result.IsSuccessful,
            $"EchoFace.{capability} reaches sideways or up into {string.Join(", ", forbidden)}: " +
            string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void Every_engine_folder_has_a_layer_and_a_readme()
    {
        var engine = Path.Combine(TestEnvironment.RepoRoot, "src", "EchoFace");
        var folders = Directory.GetDirectories(engine).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).ToList();
        var placed = Layers.SelectMany(l => l).ToHashSet();
        var unplaced = folders.Where(f => !placed.Contains(f!)).ToList();
        var gone = placed.Where(p => !folders.Contains(p)).ToList();
        var undocumented = folders.Where(f => !File.Exists(Path.Combine(engine, f!, "README.md"))).ToList();
        Assert.True(unplaced.Count == 0, $"engine folders with no layer in LayerTests.Layers: {string.Join(", ", unplaced)}");
        Assert.True(gone.Count == 0, $"layers naming no folder: {string.Join(", ", gone)}");
        Assert.True(undocumented.Count == 0, $"engine folders without a README.md (what it owns, what it may use): {string.Join(", ", undocumented)}");
    }

    [Fact]
    public void The_rule_catches_a_reference_that_goes_up()
    {
        // the check itself must be able to fail: Access really does use Face, one layer down, so asking Face not to use Access passes
        // and asking Access not to use Face fails
        var asm = typeof(BadInputException).Assembly;
        Assert.True(Types.InAssembly(asm).That().ResideInNamespace("EchoFace.Face").ShouldNot().HaveDependencyOn("EchoFace.Access").GetResult().IsSuccessful);
        Assert.False(Types.InAssembly(asm).That().ResideInNamespace("EchoFace.Access").ShouldNot().HaveDependencyOn("EchoFace.Face").GetResult().IsSuccessful);
    }
}
