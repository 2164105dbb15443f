namespace EchoFace.Storage;

/// <summary>Files written whole or not at all: the bytes go to PATH.part, synced, which is then renamed over PATH.</summary>
public static class AtomicFile
{
    /// <param name="ownerOnly">create the file 0600 (it holds a face or a secret).</param>
    public static void Write(string path, ReadOnlySpan<byte> bytes, bool ownerOnly = false)
    {
        var part = path + ".part";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (ownerOnly && !OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var file = new FileStream(part, options))
            {
                file.Write(bytes);
                // on the card before the rename: after a power cut PATH is the old file or the new one, never an empty one
                file.Flush(flushToDisk: true);
            }
            File.Move(part, path, overwrite: true);
        }
        catch (IOException)
        {
            // a full or failing card leaves no half-written .part behind
            try { File.Delete(part); } catch (IOException) { }
            throw;
        }
    }
}
