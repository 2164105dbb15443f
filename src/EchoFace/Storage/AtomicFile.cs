namespace EchoFace.Storage;

/// <summary>Files written whole or not at all: the bytes go to PATH.part, which is then renamed over PATH.</summary>
public static class AtomicFile
{
    /// <param name="ownerOnly">create the file 0600 (it holds a face or a secret).</param>
    public static void Write(string path, ReadOnlySpan<byte> bytes, bool ownerOnly = false)
    {
        var part = path + ".part";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (ownerOnly && !OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(part, options)) file.Write(bytes);
        File.Move(part, path, overwrite: true);
    }
}
