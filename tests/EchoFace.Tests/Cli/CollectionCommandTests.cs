using System.Diagnostics;
using EchoFace.Storage;

namespace EchoFace.Tests.Cli;

/// <summary>Photo collections on the shared photos (114 photos of 27 people sorted into a folder each).</summary>
[Trait("Category", "Slow")]
public class CollectionCommandTests
{
    private static string Photos => TestEnvironment.Data("faces", "photos");

    private static CollectionStore Open(CliRunner cli) =>
        new(Path.Combine(cli.DataDirectory, "echoface.db"), TemplateCipher.FromKeyFile(Path.Combine(cli.DataDirectory, "template.key")));

    [Fact]
    public void Indexing_twice_keeps_the_face_ids_search_finds_a_persons_photos_first_and_clusters_recover_the_people()
    {
        var cli = new CliRunner();
        var first = cli.Run("collection", "index", "photos", Photos, "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Equal(114, first.Json.GetProperty("indexed").GetInt32());
        List<long> ids;
        using (var store = Open(cli)) ids = [.. store.Faces("photos").Select(f => f.Id)];
        var again = cli.Run("collection", "index", "photos", Photos, "--json");
        Assert.Equal(0, again.Json.GetProperty("indexed").GetInt32());
        using (var store = Open(cli)) Assert.Equal(ids, store.Faces("photos").Select(f => f.Id));

        var jolie = CliRunner.Photos("df_angelina_jolie");
        var found = cli.Run("collection", "search", "photos", jolie[2], "--top", "8", "--json");
        Assert.True(found.ExitCode == 0, found.Stderr);
        var results = found.Json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(jolie.Length, results.Count);
        Assert.All(results, r => Assert.Contains("df_angelina_jolie", r.GetProperty("path").GetString()));

        var sheets = Path.Combine(cli.DataDirectory, "sheets");
        var clustered = cli.Run("collection", "cluster", "photos", "--sheets", sheets, "--json");
        Assert.True(clustered.ExitCode == 0, clustered.Stderr);
        Assert.True(clustered.Json.GetProperty("purity").GetDouble() >= 0.95, clustered.Stdout);
        Assert.InRange(clustered.Json.GetProperty("clusters").GetInt32(), 27, 32);
        Assert.NotEmpty(Directory.GetFiles(sheets, "cluster-*.png"));

        // a cluster becomes an identity, which the gallery then recognises
        var jolieCluster = clustered.Json.GetProperty("sizes").EnumerateArray().First(c => c.GetProperty("folder").GetString() == "df_angelina_jolie").GetProperty("cluster").GetInt32();
        var labelled = cli.Run("collection", "label", "photos", $"{jolieCluster}", "jolie", "--name", "Angelina Jolie");
        Assert.True(labelled.ExitCode == 0, labelled.Stderr);
        Assert.Contains("jolie", cli.Run("identify", CliRunner.Photos("df_angelina_jolie")[3]).Stdout);
        Assert.Equal(2, cli.Run("collection", "search", "nope", jolie[2]).ExitCode);
    }

    [Fact]
    public void A_killed_index_run_resumes_where_it_stopped_without_duplicates()
    {
        var cli = new CliRunner();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "echoface.dll"), "collection", "index", "photos", Photos,
                     "--data", cli.DataDirectory, "--models", TestEnvironment.ModelsDirectory })
            start.ArgumentList.Add(a);
        using (var child = Process.Start(start)!)
        {
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            int Indexed()
            {
                try { using var store = Open(cli); return store.Info("photos")?.Images ?? 0; }
                catch (Exception e) when (e is InvalidOperationException or Microsoft.Data.Sqlite.SqliteException or FileNotFoundException or IOException)
                {
                    return 0;
                }
            }
            Eventually.True(() => Indexed() >= 10, "the index run getting going (10 photos)", TimeSpan.FromSeconds(90), () => child.HasExited);
            child.Kill(entireProcessTree: true); // SIGKILL mid-run
            child.WaitForExit();
        }
        int partial;
        using (var store = Open(cli)) partial = store.Info("photos")!.Images;
        Assert.InRange(partial, 10, 113);
        var resumed = cli.Run("collection", "index", "photos", Photos, "--json");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal(114 - partial, resumed.Json.GetProperty("indexed").GetInt32());
        using (var store = Open(cli))
        {
            var faces = store.Faces("photos");
            Assert.Equal(117, faces.Count); // what one uninterrupted run finds
            Assert.Equal(faces.Count, faces.Select(f => (f.ImageId, f.FaceIndex)).Distinct().Count());
            Assert.Equal(114, store.Info("photos")!.Images);
        }
    }
}
