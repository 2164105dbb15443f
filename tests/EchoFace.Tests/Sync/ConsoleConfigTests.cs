using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EchoFace.Configuration;

namespace EchoFace.Tests.Sync;

/// <summary>The console's edits of a live section: on the file, under the fleet, never over what the fleet sets, stored with a version.</summary>
[Trait("Category", "Integration")]
public class ConsoleConfigTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private string Db => Path.Combine(_dir, "echoface.db");

    private static JsonObject Section(EchoFaceConfig config, string name) => JsonSerializer.SerializeToNode(config)![name]!.AsObject();

    [Fact]
    public void A_section_edited_whole_is_applied_kept_and_refused_where_the_fleet_sets_it()
    {
        using (var shadow = new ConfigShadow(Db, null))
        {
            var access = Section(shadow.Current, "Access");
            access["ReentrySeconds"] = 12;
            var r = shadow.OfferSection("Access", access, out var changed);
            Assert.Equal(("applied", 1L), (r.Status, r.Version));
            Assert.Equal(["Access"], changed);
            Assert.Equal(12, shadow.Current.Access.ReentrySeconds);

            // the fleet then sets the policy: the console may send it back unchanged, never change it
            Assert.Equal("applied", shadow.Offer("device", Encoding.UTF8.GetBytes("""{"version": 5, "Access": {"Policy": "face"}}"""), out _).Status);
            access = Section(shadow.Current, "Access");
            access["ReentrySeconds"] = 15;
            Assert.Equal("applied", shadow.OfferSection("Access", access, out _).Status);
            Assert.Equal((15, "face"), (shadow.Current.Access.ReentrySeconds, shadow.Current.Access.Policy));
            access["Policy"] = "face+liveness";
            var refused = shadow.OfferSection("Access", access, out _);
            Assert.Equal("rejected", refused.Status);
            Assert.Contains("Access:Policy", refused.Error, StringComparison.Ordinal);

            // invalid, or a section that needs a restart: refused, the configuration in force unchanged
            access = Section(shadow.Current, "Access");
            access["ReentrySeconds"] = "soon";
            Assert.Equal("rejected", shadow.OfferSection("Access", access, out _).Status);
            Assert.Equal("rejected", shadow.OfferSection("Inference", Section(shadow.Current, "Inference"), out _).Status);
            Assert.Equal(15, shadow.Current.Access.ReentrySeconds);
            Assert.Equal(2, shadow.Version(ConfigShadow.Console));
        }
        using var again = new ConfigShadow(Db, null);
        Assert.Equal((15, "face"), (again.Current.Access.ReentrySeconds, again.Current.Access.Policy));
    }
}
