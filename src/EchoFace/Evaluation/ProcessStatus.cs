using System.Globalization;

namespace EchoFace.Evaluation;

/// <summary>Numbers from /proc/PID/status, for the benchmarks that watch a process's memory and threads (Linux only).</summary>
public static class ProcessStatus
{
    /// <summary>The field's number (kB for the memory fields, a count for Threads); 0 when the line is missing, null without /proc.</summary>
    /// <param name="process">a process id, or "self".</param>
    public static double? Field(string process, string name)
    {
        var path = $"/proc/{process}/status";
        if (!File.Exists(path)) return null;
        return File.ReadLines(path).Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).FirstOrDefault();
    }
}
