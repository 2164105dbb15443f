using System.CommandLine;
using System.Diagnostics;
using EchoFace.Face;
using EchoFace.Gallery;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Storage;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>collection index | search | cluster | label | show: every face of every photo in a folder, searchable and groupable into people.</summary>
internal static class CollectionCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var collection = new Command("collection", "Index every face of a photo folder, find a person's photos, group unknown faces into people");
        collection.Subcommands.Add(Index(g, o));
        collection.Subcommands.Add(Search(g, o));
        collection.Subcommands.Add(Cluster(g, o));
        collection.Subcommands.Add(Label(g, o));
        collection.Subcommands.Add(Show(g, o));
        return collection;
    }

    private static CollectionStore Store(CliContext ctx) => new(Path.Combine(ctx.DataDirectory, ctx.Config.Storage.Database), ctx.Cipher);

    private static CollectionSearch Searcher(CliContext ctx, CollectionStore store) =>
        new(store, ctx.Cipher, CollectionSearch.CodesDirectory(ctx.DataDirectory));

    private static CollectionInfo Existing(CollectionStore store, string name) =>
        store.Info(name) ?? throw new BadInputException($"no collection '{name}' (`echoface collection index {name} FOLDER`)", BadInputKind.NotFound);

    private static Command Index(GlobalOptions g, Output o)
    {
        var name = new Argument<string>("name");
        var folder = new Argument<string>("folder") { Description = "photos, searched recursively" };
        var limit = new Option<int?>("--limit") { Description = "index at most this many new photos in this run (a re-run goes on from there)" };
        var cmd = new Command("index", "Detect and embed every face of every photo; a re-run (or a run after an interruption) indexes only what is new") { name, folder, limit };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var root = Path.GetFullPath(p.GetValue(folder)!);
            var collectionName = p.GetValue(name)!;
            using var store = Store(ctx);
            var indexer = new CollectionIndexer(ctx.Pipeline, store, ctx.Cipher, ctx.DataDirectory, ctx.Limits);
            var (todo, skipped) = indexer.Plan(collectionName, root, p.GetValue(limit));
            var run = o.Progress(!ctx.Json, $"indexing {todo.Count} photos", todo.Count,
                tick => indexer.Index(collectionName, todo, skipped, tick));
            var (faces, failed) = (run.Faces, run.Failed);
            var rate = run.Indexed / Math.Max(1e-3, run.Elapsed.TotalSeconds);
            var info = store.Info(collectionName)!;
            if (ctx.Json)
            {
                o.Json(new
                {
                    collection = info, indexed = run.Indexed, skipped, faces, failed, photosPerSecond = Math.Round(rate, 2),
                    facesPerSecond = Math.Round(faces / Math.Max(1e-3, run.Elapsed.TotalSeconds), 2),
                });
                return EchoFaceCli.Ok;
            }
            o.Line($"{run.Indexed} photos indexed ({skipped} already were), {faces} faces, {failed} unreadable; {rate:F1} photos/s");
            o.Line($"collection {Output.Esc(info.Name)}: {info.Images} photos, {info.Faces} faces, {info.Failed} unreadable");
            return EchoFaceCli.Ok;
        });
    }

    private static Command Search(GlobalOptions g, Output o)
    {
        var name = new Argument<string>("name");
        var image = new Argument<string>("face-image") { Description = "a photo of the person (its main face, the largest in focus, is searched)" };
        var top = new Option<int>("--top") { Description = "how many photos", DefaultValueFactory = _ => 20 };
        var cmd = new Command("search", "The photos a person appears in, best first, with the similarity of their best face") { name, image, top };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            using var store = Store(ctx);
            var collectionName = p.GetValue(name)!;
            var info = Existing(store, collectionName);
            var query = ctx.Pipeline.Analyze(ctx.Decode(p.GetValue(image)!)).FirstOrDefault()?.Embedding
                        ?? throw new BadInputException($"{p.GetValue(image)}: no face found");
            if (p.GetValue(top) is < 1 or > 1000) throw new BadInputException($"--top must be 1..1000, not {p.GetValue(top)}");
            var watch = Stopwatch.StartNew();
            using var searcher = Searcher(ctx, store);
            var (hits, _) = searcher.Search(collectionName, query, p.GetValue(top));
            var ms = watch.Elapsed.TotalMilliseconds;
            var threshold = ctx.Config.Match.VerifyThreshold;
            var rows = hits.Select(h => new { path = h.Path, faceId = h.FaceId, score = h.Score, match = h.Score >= threshold }).ToList();
            if (ctx.Json) { o.Json(new { collection = info.Name, faces = info.Faces, threshold, searchMs = Math.Round(ms, 2), results = rows }); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("#", "photo", "face", "similarity", "same person");
            for (var i = 0; i < rows.Count; i++)
                table.AddRow($"{i + 1}", Output.Esc(Path.GetRelativePath(info.Root, rows[i].path)), $"{rows[i].faceId}", F(rows[i].score), rows[i].match ? "[green]yes[/]" : "no");
            o.Console.Write(table);
            o.Line($"searched {info.Faces} faces in {ms:F1} ms; same person at similarity >= {threshold:F2} (Match.VerifyThreshold)");
            return EchoFaceCli.Ok;
        });
    }

    private static string F(float v) => CommandBase.F(v);

    private static Command Cluster(GlobalOptions g, Output o)
    {
        var name = new Argument<string>("name");
        var threshold = new Option<float?>("--threshold") { Description = "average similarity two groups need to merge (default Match.VerifyThreshold)" };
        var sheets = new Option<string?>("--sheets") { Description = "folder for one contact sheet PNG per cluster (aligned face crops)" };
        var cmd = new Command("cluster", "Group the collection's faces into people; sizes, purity against folder names, contact sheets") { name, threshold, sheets };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            using var store = Store(ctx);
            var collectionName = p.GetValue(name)!;
            var info = Existing(store, collectionName);
            var faces = store.Faces(collectionName);
            var t = p.GetValue(threshold) ?? ctx.Config.Match.VerifyThreshold;
            var labels = Gallery.FaceClustering.Cluster([.. faces.Select(f => f.Embedding)], t);
            store.SetClusters(faces.Select((f, i) => (f.Id, (int?)labels[i])).ToDictionary(x => x.Id, x => x.Item2));
            // the folder a photo sits in, under the collection's root, names the person when the photos are sorted that way
            var truth = faces.Select(f => Path.GetRelativePath(info.Root, f.Path).Split(Path.DirectorySeparatorChar) is { Length: > 1 } parts ? parts[0] : "").ToList();
            double? purity = truth.Any(x => x.Length > 0) ? Gallery.FaceClustering.Purity(labels, truth) : null;
            var clusters = labels.Select((c, i) => (c, i)).GroupBy(x => x.c).OrderBy(x => x.Key).Select(x => new
            {
                cluster = x.Key, faces = x.Count(), photos = x.Select(y => faces[y.i].Path).Distinct().Count(),
                folder = x.GroupBy(y => truth[y.i]).MaxBy(y => y.Count())!.Key,
            }).ToList();
            if (p.GetValue(sheets) is { } dir) WriteSheets(ctx, dir, faces, labels);
            if (ctx.Json) { o.Json(new { collection = info.Name, threshold = t, faces = faces.Count, clusters = clusters.Count, purity, sizes = clusters }); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("cluster", "faces", "photos", "most common folder");
            foreach (var c in clusters.Where(c => c.faces > 1)) table.AddRow($"{c.cluster}", $"{c.faces}", $"{c.photos}", Output.Esc(c.folder));
            o.Console.Write(table);
            o.Line($"{faces.Count} faces in {clusters.Count} clusters ({clusters.Count(c => c.faces == 1)} single faces not shown) at similarity {t:F2}" +
                   (purity is { } pu ? $"; purity against folder names {pu * 100:F1}%" : ""));
            if (p.GetValue(sheets) is { } d) o.Line($"contact sheets in {Output.Esc(d)}");
            return EchoFaceCli.Ok;
        });
    }

    /// <summary>One PNG per cluster of two or more faces: their aligned 112x112 crops, up to 48, in rows of 8.</summary>
    private static void WriteSheets(CliContext ctx, string dir, IReadOnlyList<IndexedFace> faces, int[] labels)
    {
        Directory.CreateDirectory(dir);
        var images = new Dictionary<string, RgbImage>();
        foreach (var group in labels.Select((c, i) => (c, i)).GroupBy(x => x.c).Where(x => x.Count() > 1))
        {
            var members = group.Take(48).ToList();
            const int cell = 112, perRow = 8;
            var rows = (members.Count + perRow - 1) / perRow;
            var sheet = new RgbImage(cell * Math.Min(perRow, members.Count), cell * rows);
            for (var m = 0; m < members.Count; m++)
            {
                var face = faces[members[m].i];
                if (!images.TryGetValue(face.Path, out var image)) images[face.Path] = image = ctx.Decode(face.Path);
                var crop = FaceEmbedder.AlignedCrop(image, face.Points5);
                var (ox, oy) = (m % perRow * cell, m / perRow * cell);
                for (var y = 0; y < cell; y++)
                    Array.Copy(crop.Data, y * cell * 3, sheet.Data, ((oy + y) * sheet.Width + ox) * 3, cell * 3);
            }
            using var bitmap = ImageEncoder.ToBitmap(sheet);
            ImageEncoder.Save(bitmap, Path.Combine(dir, $"cluster-{group.Key:D3}.png"));
        }
    }

    private static Command Label(GlobalOptions g, Output o)
    {
        var name = new Argument<string>("name");
        var cluster = new Argument<int>("cluster");
        var person = new Argument<string>("person") { Description = "identity id to enrol the cluster's faces under" };
        var display = new Option<string?>("--name") { Description = "display name" };
        var group = new Option<string?>("--group") { Description = "identity group (schedules)" };
        var cmd = new Command("label", "Enrol a cluster's faces as an identity (after `collection cluster`; replaces that identity's face templates)") { name, cluster, person, display, group };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            using var store = Store(ctx);
            var collectionName = p.GetValue(name)!;
            var info = Existing(store, collectionName);
            var recognizer = ctx.Recognizer;
            if (info.ModelId != ctx.Pipeline.EmbedderModelId) throw new BadInputException($"collection '{collectionName}' was indexed with {info.ModelId}, the gallery uses {ctx.Pipeline.EmbedderModelId}");
            var members = store.Faces(collectionName).Where(f => f.Cluster == p.GetValue(cluster)).ToList();
            if (members.Count == 0) throw new BadInputException($"cluster {p.GetValue(cluster)} has no faces (run `echoface collection cluster {collectionName}` first)");
            var id = p.GetValue(person)!;
            var templates = members.Select(f => new NewTemplate(Recognition.FaceRecognizer.Modality, info.ModelId, recognizer.ModelVersion, f.Quality, f.Path, f.Embedding)).ToList();
            var count = ctx.Enrolment(faces: true, voices: false).Import(new ImportRequest(id, p.GetValue(display), p.GetValue(group), templates,
                GalleryStore.Json(new { collection = collectionName, cluster = p.GetValue(cluster), faces = members.Count })));
            if (ctx.Json) { o.Json(new { identity = id, templates = count, collection = collectionName, cluster = p.GetValue(cluster) }); return EchoFaceCli.Ok; }
            o.Line($"{Output.Esc(id)} enrolled from cluster {p.GetValue(cluster)}: {count} face templates");
            return EchoFaceCli.Ok;
        });
    }

    private static Command Show(GlobalOptions g, Output o)
    {
        var name = new Argument<string>("name");
        var cmd = new Command("show", "A collection's photos, faces and unreadable files") { name };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            using var store = Store(ctx);
            var info = Existing(store, p.GetValue(name)!);
            if (ctx.Json) { o.Json(info); return EchoFaceCli.Ok; }
            o.Line($"{Output.Esc(info.Name)}: {Output.Esc(info.Root)}, {info.Images} photos, {info.Faces} faces, {info.Failed} unreadable, model {Output.Esc(info.ModelId)}");
            return EchoFaceCli.Ok;
        });
    }
}
