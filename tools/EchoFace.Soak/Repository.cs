namespace EchoFace.Soak;

/// <summary>The repository this tool was built in (the folder holding EchoFace.sln above its binary), for its default paths.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EchoFace.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
