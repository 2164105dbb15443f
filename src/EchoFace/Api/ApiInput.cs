using EchoFace.Media;
using Microsoft.AspNetCore.Http;

namespace EchoFace.Api;

/// <summary>A request the API refuses before any model runs: the status and a title say what class of problem, the detail what exactly.</summary>
internal sealed class ApiProblem(int status, string detail) : Exception(detail)
{
    public int Status { get; } = status;
}

/// <summary>One uploaded file, checked: declared type and first bytes agree, and within the size limit.</summary>
internal sealed record Upload(string Name, string ContentType, byte[] Bytes);

/// <summary>
/// Reads images and recordings from a request, multipart (named parts) or a raw body, and checks each before decoding: a content type
/// of the right family, magic bytes that match it, and the size limit. Decoding then enforces the pixel limit.
/// </summary>
internal static class ApiInput
{
    public static async Task<IFormCollection?> FormAsync(HttpRequest request, CancellationToken cancel)
    {
        if (!request.HasFormContentType) return null;
        try { return await request.ReadFormAsync(cancel); }
        // a body cut short (the client gave up, or sent less than it said) is the client's error, not a 500
        catch (IOException e) when (!cancel.IsCancellationRequested)
        {
            throw new InvalidDataException($"cut short ({e.Message})", e); // answered 400, as a malformed multipart body is
        }
    }

    /// <summary>Files of the named parts (several parts may share a name), or the raw body when the request is not multipart and <paramref name="rawKind"/> matches it.</summary>
    public static async Task<List<Upload>> FilesAsync(HttpRequest request, IFormCollection? form, string[] names, string rawKind, long maxBytes, CancellationToken cancel)
    {
        var uploads = new List<Upload>();
        if (form is not null)
        {
            foreach (var file in form.Files.Where(f => names.Contains(f.Name, StringComparer.OrdinalIgnoreCase)))
            {
                if (file.Length > maxBytes) throw TooLarge(file.FileName, file.Length, maxBytes);
                using var stream = new MemoryStream();
                await file.CopyToAsync(stream, cancel);
                uploads.Add(new Upload(string.IsNullOrEmpty(file.FileName) ? file.Name : file.FileName, file.ContentType ?? "", stream.ToArray()));
            }
            return uploads;
        }
        var type = request.ContentType ?? "";
        // a raw body of unnamed bytes counts as an image (recordings must say audio/...)
        var octets = rawKind == "image" && type.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase);
        if (!type.StartsWith(rawKind + "/", StringComparison.OrdinalIgnoreCase) && !octets) return uploads;
        if (request.ContentLength > maxBytes) throw TooLarge("the body", request.ContentLength.Value, maxBytes);
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cancel);
        if (body.Length > maxBytes) throw TooLarge("the body", body.Length, maxBytes);
        uploads.Add(new Upload("body", type, body.ToArray()));
        return uploads;
    }

    private static ApiProblem TooLarge(string name, long length, long max) =>
        new(StatusCodes.Status413PayloadTooLarge, $"{name} is {length} bytes, over the limit of {max} (Media.MaxBytes)");

    /// <summary>The image's format from its first bytes, checked against the declared type; 415 when they disagree or are no image.</summary>
    public static RgbImage Image(Upload upload, ImageLimits limits)
    {
        var sniffed = ImageDecoder.SniffFormat(upload.Bytes)
            ?? throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, $"{upload.Name}: not an image EchoFace reads (JPEG, PNG, BMP, WebP, PGM/PPM): its first bytes match none of them");
        var declared = upload.ContentType.Split(';')[0].Trim().ToLowerInvariant();
        string[] accepted = sniffed switch
        {
            "jpeg" => ["image/jpeg", "image/jpg", "image/pjpeg"],
            "png" => ["image/png"],
            "bmp" => ["image/bmp", "image/x-bmp", "image/x-ms-bmp"],
            "webp" => ["image/webp"],
            _ => ["image/x-portable-graymap", "image/x-portable-pixmap", "image/x-portable-anymap"],
        };
        if (declared.Length > 0 && declared != "application/octet-stream" && !accepted.Contains(declared))
            throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, $"{upload.Name}: declared {declared} but its bytes are {sniffed}");
        return ImageDecoder.Decode(upload.Bytes, upload.Name, limits);
    }

    /// <summary>A recording, checked by its first bytes (WAV, FLAC, Ogg, MP3, MP4/M4A, WebM/Matroska) before ffmpeg sees it.</summary>
    public static Voice.AudioClip Audio(Upload upload, Voice.AudioLimits limits)
    {
        var b = upload.Bytes;
        var known = (At(b, 0, "RIFF") && At(b, 8, "WAVE")) || At(b, 0, "fLaC") || At(b, 0, "OggS") || At(b, 0, "ID3")
                    || (b.Length > 1 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0) || IsMp4OrMatroska(b);
        if (!known) throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, $"{upload.Name}: not a recording EchoFace reads (WAV, FLAC, Ogg, MP3, M4A/MP4, WebM): its first bytes match none of them");
        var declared = upload.ContentType.Split(';')[0].Trim().ToLowerInvariant();
        if (declared.Length > 0 && !declared.StartsWith("audio/", StringComparison.Ordinal) && declared is not ("video/mp4" or "video/webm" or "application/octet-stream"))
            throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, $"{upload.Name}: declared {declared}, not an audio type");
        return Voice.AudioDecoder.Decode(upload.Bytes, upload.Name, limits);
    }

    /// <summary>Runs <paramref name="work"/> on the clips saved to temporary files (name, path) for ffmpeg, and deletes them after.</summary>
    public static async Task<T> WithClipsAsync<T>(IReadOnlyList<Upload> clips, Func<IReadOnlyList<(string Name, string Path)>, Task<T>> work)
    {
        var saved = new List<(string Name, string Path)>();
        try
        {
            foreach (var clip in clips) saved.Add((clip.Name, Video(clip)));
            return await work(saved);
        }
        finally
        {
            foreach (var (_, path) in saved) File.Delete(path);
        }
    }

    /// <summary>A video clip, checked by its first bytes (MP4/MOV, WebM/Matroska, AVI) and written to a temporary file for ffmpeg.</summary>
    private static string Video(Upload upload)
    {
        var b = upload.Bytes;
        if (!IsMp4OrMatroska(b) && !(At(b, 0, "RIFF") && At(b, 8, "AVI ")))
            throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType,
                $"{upload.Name}: not a video EchoFace reads (MP4, MOV, WebM, MKV, AVI): its first bytes match none of them");
        var path = Path.Combine(Path.GetTempPath(), $"echoface-clip-{Guid.NewGuid():N}");
        File.WriteAllBytes(path, b);
        return path;
    }

    private static bool At(byte[] b, int offset, string ascii) =>
        b.Length >= offset + ascii.Length && b.AsSpan(offset, ascii.Length).SequenceEqual(System.Text.Encoding.ASCII.GetBytes(ascii));

    /// <summary>ISO base media (MP4, MOV, M4A: "ftyp" at 4) or EBML (WebM, Matroska).</summary>
    private static bool IsMp4OrMatroska(byte[] b) =>
        At(b, 4, "ftyp") || (b.Length > 3 && b[0] == 0x1A && b[1] == 0x45 && b[2] == 0xDF && b[3] == 0xA3);

    public static string? Field(IFormCollection? form, string name) =>
        form is not null && form.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v.ToString()) ? v.ToString().Trim() : null;
}
