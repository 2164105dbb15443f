using System.Reflection;

namespace EchoFace.Tests.Meta;

/// <summary>
/// Every test class carries exactly one category, so `./test.sh --fast` (Unit and Integration, no Slow) is a real subset:
/// Unit needs nothing outside the process; Integration uses the real models, data, ffmpeg, mosquitto or child processes;
/// Slow is what takes 3 s or more on a 2-core machine (fuzzers, crash safety, daemons driven end to end, whole evaluations),
/// a whole class or single methods of a quicker class.
/// </summary>
[Trait("Category", "Unit")]
public class TestCategoryTests
{
    public static readonly string[] Categories = ["Unit", "Integration", "Slow"];

    [Fact]
    public void Every_test_class_has_one_category()
    {
        var unmarked = new List<string>();
        foreach (var type in typeof(TestCategoryTests).Assembly.GetTypes().Where(IsTestClass))
        {
            var data = type.GetCustomAttributesData().Where(a => a.AttributeType == typeof(TraitAttribute))
                .Select(a => (Name: (string)a.ConstructorArguments[0].Value!, Value: (string)a.ConstructorArguments[1].Value!))
                .Where(t => t.Name == "Category").ToList();
            if (data.Count != 1 || !Categories.Contains(data[0].Value)) unmarked.Add($"{type.FullName} ({string.Join(", ", data.Select(d => d.Value))})");
            // a method may only add Slow (a long test in a quick class); anything else would leak out of --fast or into it unseen
            foreach (var method in type.GetMethods())
                foreach (var t in method.GetCustomAttributesData().Where(a => a.AttributeType == typeof(TraitAttribute)))
                    if ((string)t.ConstructorArguments[0].Value! == "Category" && (string)t.ConstructorArguments[1].Value! != "Slow")
                        unmarked.Add($"{type.FullName}.{method.Name} (method category {t.ConstructorArguments[1].Value})");
        }
        Assert.True(unmarked.Count == 0, "test classes without exactly one [Trait(\"Category\", Unit|Integration|Slow)]:\n" + string.Join("\n", unmarked));
    }

    private static bool IsTestClass(Type type) =>
        type.IsClass && !type.IsAbstract && type.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any());
}
