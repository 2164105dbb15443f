using System.CommandLine;
using EchoFace.Face;
using EchoFace.Media;
using EchoFace.Recognition;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;

namespace EchoFace.Cli.Commands;

/// <summary>enroll, identify, verify and faces: the face path from the command line.</summary>
internal static class FaceCommands
{
    public static Command Enroll(GlobalOptions g, Output o)
    {
        var id = new Argument<string>("id") { Description = "identity id (unique, e.g. an employee number)" };
        var images = new Argument<string[]>("images")
        {
            Description = "photos, folders of photos or video clips of this person (a clip gives --frames templates)",
            Arity = ArgumentArity.OneOrMore,
        };
        var frames = new Option<int>("--frames")
        {
            Description = "templates to take from each clip: frontal, turned left, turned right, then the best", DefaultValueFactory = _ => 5,
        };
        var name = new Option<string?>("--name") { Description = "display name (default: the id)" };
        var face = new Option<int?>("--face")
        {
            Description = "which face to take when a photo holds several (0 = the main face: the largest in focus)",
        };
        var group = new Option<string?>("--group") { Description = "identity group (schedules apply per group; default: unchanged, or 'default' for a new identity)" };
        var cmd = new Command("enroll", "Enrol a person from photos or clips: one face each, good quality, not already someone else")
        {
            id, images, name, face, group, frames,
        };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var who = p.GetValue(id)!;
            FaceRecognizer.ValidateId(who);
            var given = p.GetValue(images)!;
            var clipOptions = new VideoEnrolOptions { Frames = p.GetValue(frames) };
            var clips = given.Where(VideoFrames.IsVideo).Select(path => VideoEnrolment.Analyse(ctx.Pipeline, path, ctx.Config.Camera.Width,
                ctx.Config.Camera.Height, clipOptions, (float)ctx.Config.Match.VerifyThreshold)).ToList();
            var analysed = ExpandImages(given.Where(path => !VideoFrames.IsVideo(path)))
                .Select(path => (path, (IReadOnlyList<FaceResult>)ctx.Pipeline.Analyze(ctx.Decode(path))))
                .Concat(clips.SelectMany(c => c.Sources)).ToList();
            var result = ctx.Enrolment(faces: true, voices: false).Enrol(new EnrolRequest(who, p.GetValue(name), p.GetValue(group))
            {
                Faces = analysed, FaceIndex = p.GetValue(face), Via = "cli",
            });
            if (ctx.Json)
            {
                o.Json(new
                {
                    identity = who, templates = result.FaceTemplateIds, qualities = result.Qualities,
                    clips = clips.Select(c => new
                    {
                        path = c.Path, c.FramesRead, c.OneFace, c.EnrolQuality, c.OtherFace,
                        chosen = c.Chosen.Select(x => new
                        {
                            seconds = x.Seconds, pose = x.Pose, yaw = x.Face.Quality.Yaw, quality = x.Face.Quality.Score,
                        }),
                    }),
                });
                return EchoFaceCli.Ok;
            }
            foreach (var c in clips)
                o.Line($"{Output.Esc(c.Path)}: {c.FramesRead} frames read, {c.OneFace} with one face, {c.EnrolQuality} of enrolment quality" +
                       (c.OtherFace > 0 ? $", {c.OtherFace} of another face left out" : "") + "; took " +
                       string.Join(", ", c.Chosen.Select(x =>
                           $"{x.Seconds:F1} s ({x.Pose}, yaw {x.Face.Quality.Yaw:F0}, quality {F(x.Face.Quality.Score)})")));
            o.Line($"[green]enrolled[/] {Output.Esc(who)} with {result.FaceTemplateIds.Count} face template(s), " +
                       $"quality {string.Join(", ", result.Qualities.Select(F))}");
            return EchoFaceCli.Ok;
        });
    }

    public static Command Identify(GlobalOptions g, Output o)
    {
        var image = new Argument<string>("image") { Description = "photo to search the gallery with" };
        var cmd = new Command("identify", "Find every face in a photo and name the enrolled people among them") { image };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var faces = ctx.Recognizer.Identify(ctx.Decode(p.GetValue(image)!));
            var threshold = ctx.Config.Match.IdentifyThreshold;
            if (ctx.Json)
            {
                o.Json(new
                {
                    threshold,
                    faces = faces.Select(f => new
                    {
                        box = Box(f.Face.Box), identity = f.IdentityId, name = f.DisplayName, score = f.Score,
                        threshold = f.Match?.Threshold, method = f.Match?.Method, scores = f.Match?.PerModel,
                        liveness = f.Face.Liveness, quality = f.Face.Quality.Score,
                        candidates = f.Candidates.Select(c => new { identity = c.IdentityId, score = c.Score }),
                    }),
                });
                return EchoFaceCli.Ok;
            }
            var table = new Table().AddColumns("#", "box", "identity", "score", "threshold", "by", "liveness", "quality");
            for (var i = 0; i < faces.Count; i++)
            {
                var f = faces[i];
                table.AddRow($"{i}", BoxText(f.Face.Box),
                    f.IdentityId is null ? "[red]unknown[/]" : $"[green]{Output.Esc(f.IdentityId)}[/] ({Output.Esc(f.DisplayName)})",
                    F(f.Score), F(f.Match?.Threshold ?? threshold), Output.Esc(Method(f.Match)), F(f.Face.Liveness ?? 0), F(f.Face.Quality.Score));
            }
            o.Console.Write(table);
            o.Line($"{faces.Count} face(s)");
            return EchoFaceCli.Ok;
        });
    }

    public static Command Verify(GlobalOptions g, Output o)
    {
        var id = new Argument<string>("id") { Description = "claimed identity" };
        var image = new Argument<string>("image") { Description = "photo of the claimant (the main face, the largest in focus, is used)" };
        var cmd = new Command("verify", "1:1: does the main face in the photo (the largest in focus) belong to the claimed identity?") { id, image };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var path = p.GetValue(image)!;
            var r = ctx.Recognizer.Verify(p.GetValue(id)!, ctx.Decode(path), path);
            if (ctx.Json)
            {
                o.Json(new
                {
                    identity = r.IdentityId, score = r.Score, threshold = r.Threshold, accepted = r.Accepted, method = r.Match?.Method,
                    scores = r.Match?.PerModel, liveness = r.Face.Liveness,
                });
            }
            else
            {
                o.Line($"{(r.Accepted ? "[green]accept[/]" : "[red]reject[/]")} {Output.Esc(r.IdentityId)}: score {F(r.Score)} " +
                    $"(threshold {F(r.Threshold)}, by {Output.Esc(Method(r.Match))}), liveness {F(r.Face.Liveness ?? 0)}");
            }
            // a rejection is an answer, not a failure: exit 0 either way
            return EchoFaceCli.Ok;
        });
    }

    public static Command Faces(GlobalOptions g, Output o)
    {
        var image = new Argument<string>("image") { Description = "photo to analyse" };
        var annotate = new Option<string?>("--annotate") { Description = "write the photo with boxes, landmarks, names and aligned crops (PNG or JPEG)" };
        var cmd = new Command("faces", "Detect and analyse every face (box, landmarks, quality, liveness), optionally drawing them") { image, annotate };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var decoded = ctx.Decode(p.GetValue(image)!);
            var recognized = ctx.Recognizer.Identify(decoded);
            if (p.GetValue(annotate) is { } outPath)
                FaceAnnotator.Write(decoded, [.. recognized.Select(r => new FaceLabel(r.Face, FormattableString.Invariant($"{r.IdentityId ?? "unknown"} {F(r.Score)} yaw {r.Face.Quality.Yaw:+0;-0} deg"), r.IdentityId is not null))], outPath);
            if (ctx.Json)
            {
                o.Json(new
                {
                    width = decoded.Width, height = decoded.Height,
                    faces = recognized.Select(r => new
                    {
                        box = Box(r.Face.Box), detection = r.Face.DetectionScore, identity = r.IdentityId, score = r.Score,
                        liveness = r.Face.Liveness,
                        quality = new { score = r.Face.Quality.Score, eyeDistance = r.Face.Quality.EyeDistance, sharpness = r.Face.Quality.Sharpness, yaw = r.Face.Quality.Yaw, pitch = r.Face.Quality.Pitch, roll = r.Face.Quality.Roll },
                        points5 = r.Face.Points5.Select(q => new[] { q.X, q.Y }),
                    }),
                    annotated = p.GetValue(annotate),
                });
                return EchoFaceCli.Ok;
            }
            var table = new Table().AddColumns("#", "box", "detect", "quality", "eye dist", "sharp", "yaw", "pitch", "roll", "liveness", "identity");
            for (var i = 0; i < recognized.Count; i++)
            {
                var r = recognized[i]; var q = r.Face.Quality;
                table.AddRow($"{i}", BoxText(r.Face.Box), F(r.Face.DetectionScore), F(q.Score), $"{q.EyeDistance:F0}", $"{q.Sharpness:F0}",
                    $"{q.Yaw:F0}", $"{q.Pitch:F0}", $"{q.Roll:F0}", F(r.Face.Liveness ?? 0), Output.Esc(r.IdentityId ?? "unknown"));
            }
            o.Console.Write(table);
            o.Line($"{recognized.Count} face(s) in {decoded.Width}x{decoded.Height}{(p.GetValue(annotate) is { } a ? $"; annotated: {Output.Esc(a)}" : "")}");
            return EchoFaceCli.Ok;
        });
    }

    private static float[] Box(BoxF b) => [MathF.Round(b.X1, 1), MathF.Round(b.Y1, 1), MathF.Round(b.X2, 1), MathF.Round(b.Y2, 1)];
    private static string BoxText(BoxF b) => $"{b.X1:F0},{b.Y1:F0} {b.Width:F0}x{b.Height:F0}";

    /// <summary>Which model decided, with each model's cosine where fusion computed them.</summary>
    internal static string Method(Recognition.MatchScore? m) => m is null ? "" : m.PerModel.Count < 2 ? m.Method
        : $"{m.Method}: " + string.Join(", ", m.PerModel.Select(kv => FormattableString.Invariant($"{kv.Key} {kv.Value:F3}")));
}
