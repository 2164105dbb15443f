using System.CommandLine;
using EchoFace.Recommend;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>recommend train | eval | for: product recommendations for returning customers, learned from their purchases.</summary>
internal static class RecommendCommands
{
    public const string DefaultFolder = "recommender";

    public static Command Build(GlobalOptions g, Output o)
    {
        var recommend = new Command("recommend", "Learn, measure and serve product recommendations from purchase history");
        recommend.Subcommands.Add(Train(g, o));
        recommend.Subcommands.Add(Eval(g, o));
        recommend.Subcommands.Add(For(g, o));
        return recommend;
    }

    /// <summary>The data options `train` and `eval` share.</summary>
    private sealed class DataOptions
    {
        public readonly Option<string> Transactions = new("--transactions") { Description = "purchases CSV (one row per item bought)", Required = true };
        public readonly Option<string?> Map = new("--map") { Description = $"which column is what: customer=COL,item=COL,time=COL[,amount=COL][,rating=COL] (default {ColumnMap.Groceries})" };
        public readonly Option<string?> TimeFormat = new("--time-format") { Description = "time format of the time column, e.g. dd-MM-yyyy or unix (default: detected; ambiguous files must give one)" };
        public readonly Option<string?> Profiles = new("--profiles") { Description = "optional customer-profile CSV: numeric columns used as they are, text columns one-hot" };
        public readonly Option<string?> ProfileCustomer = new("--profile-customer") { Description = "column of the profile CSV that holds the customer id (default: the transactions' customer column name)" };
        public readonly Option<double> TestFraction = new("--test-fraction") { Description = "share of the latest purchases held out for testing", DefaultValueFactory = _ => 0.2 };
        public readonly Option<bool> NoRanker = new("--no-ranker") { Description = "skip the learning-to-rank model (the slowest to train)" };

        public void AddTo(Command c)
        {
            foreach (var option in new Option[] { Transactions, Map, TimeFormat, Profiles, ProfileCustomer, TestFraction, NoRanker }) c.Options.Add(option);
        }

        public (TransactionSet Set, ReadReport Read, ColumnMap Map, CustomerProfiles Profiles, ReadReport? ProfileRead, TrainOptions Options) Load(ParseResult p)
        {
            var map = p.GetValue(Map) is { } spec ? ColumnMap.Parse(spec) : ColumnMap.Groceries;
            var (set, read) = TransactionReader.Read(p.GetValue(Transactions)!, map, p.GetValue(TimeFormat));
            var profiles = CustomerProfiles.None;
            ReadReport? profileRead = null;
            if (p.GetValue(Profiles) is { } profilePath)
                (profiles, profileRead) = CustomerProfiles.Read(profilePath, p.GetValue(ProfileCustomer) ?? map.Customer);
            return (set, read, map, profiles, profileRead, new TrainOptions { TestFraction = p.GetValue(TestFraction), WithRanker = !p.GetValue(NoRanker) });
        }
    }

    private static Command Train(GlobalOptions g, Output o)
    {
        var data = new DataOptions();
        var output = new Option<string?>("--out") { Description = $"artifact folder (default <data>/{DefaultFolder})" };
        var cmd = new Command("train", "Evaluate every model on a time split, keep the best, refit it on all purchases and save the artifact") { output };
        data.AddTo(cmd);
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var (set, read, map, profiles, profileRead, options) = data.Load(p);
            var evaluation = Evaluate(o, ctx.Json, set, profiles, options);
            var model = o.Status(!ctx.Json, "refitting on all purchases", step => RecommenderModel.Train(set, read, map, profiles, profileRead, options, evaluation, step));
            var folder = p.GetValue(output) ?? Path.Combine(ctx.DataDirectory, DefaultFolder);
            model.Save(folder);
            var summary = new { artifact = Path.GetFullPath(folder), model.Manifest.Version, model.Manifest.DefaultModel, model.Manifest.ColdStartModel, read, profiles = profileRead, evaluation };
            if (ctx.Json) { o.Json(summary); return EchoFaceCli.Ok; }
            PrintRead(o, read, profileRead);
            PrintEvaluation(o, evaluation);
            o.Line($"saved version {model.Manifest.Version} to {Output.Esc(Path.GetFullPath(folder))}: serves [bold]{model.Manifest.DefaultModel}[/], cold start {model.Manifest.ColdStartModel}");
            return EchoFaceCli.Ok;
        });
    }

    private static Command Eval(GlobalOptions g, Output o)
    {
        var data = new DataOptions();
        var report = new Option<string?>("--report") { Description = "folder for report.json and the comparison plot (models.png, models.svg)" };
        var cmd = new Command("eval", "Precision, recall, MAP, NDCG, hit rate, coverage and diversity at K = 5 and 10, every model side by side") { report };
        data.AddTo(cmd);
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var (set, read, _, profiles, profileRead, options) = data.Load(p);
            var evaluation = Evaluate(o, ctx.Json, set, profiles, options);
            if (p.GetValue(report) is { } dir)
            {
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "report.json"), System.Text.Json.JsonSerializer.Serialize(new { read, profiles = profileRead, evaluation }, RecommenderModel.Json));
                var title = $"EchoFace recommenders on {Path.GetFileName(read.Path)} (test after {evaluation.Cutoff:yyyy-MM-dd})";
                RecommenderPlot.Write(Path.Combine(dir, "models.png"), title, evaluation.Warm, 10);
                RecommenderPlot.Write(Path.Combine(dir, "models.svg"), title, evaluation.Warm, 10);
            }
            if (ctx.Json) { o.Json(new { read, profiles = profileRead, evaluation }); return EchoFaceCli.Ok; }
            PrintRead(o, read, profileRead);
            PrintEvaluation(o, evaluation);
            if (p.GetValue(report) is { } d) o.Line($"report and plot in {Output.Esc(d)}");
            return EchoFaceCli.Ok;
        });
    }

    private static Command For(GlobalOptions g, Output o)
    {
        var customer = new Argument<string>("customer") { Description = "customer id as in the transactions" };
        var k = new Option<int>("--k") { Description = "how many items", DefaultValueFactory = _ => 10 };
        var folder = new Option<string?>("--model") { Description = $"artifact folder (default <data>/{DefaultFolder})" };
        var use = new Option<string?>("--using") { Description = $"serve with this model instead of the artifact's default ({string.Join(", ", ModelNames.All)})" };
        var cmd = new Command("for", "A customer's top-K products (cold-start list, flagged, for a customer with no history)") { customer, k, folder, use };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var model = RecommenderModel.Load(p.GetValue(folder) ?? Path.Combine(ctx.DataDirectory, DefaultFolder));
            var rec = model.Recommend(p.GetValue(customer)!, p.GetValue(k), p.GetValue(use));
            if (ctx.Json) { o.Json(rec); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("#", "item", "score");
            for (var i = 0; i < rec.Items.Count; i++) table.AddRow($"{i + 1}", Output.Esc(rec.Items[i].Item), $"{rec.Items[i].Score:G4}");
            o.Line($"customer {Output.Esc(rec.Customer)}: {rec.Model} (artifact version {rec.Version})" +
                   (rec.ColdStart ? " [yellow]cold start: no purchase history, non-personal list[/]" : ""));
            o.Console.Write(table);
            return EchoFaceCli.Ok;
        });
    }

    private static EvaluationResult Evaluate(Output o, bool json, TransactionSet set, CustomerProfiles profiles, TrainOptions options) =>
        o.Status(!json, "evaluating on a time split", step => RecommenderEvaluation.Run(set, profiles, options, step));

    private static void PrintRead(Output o, ReadReport read, ReadReport? profiles)
    {
        foreach (var r in new[] { read, profiles }.OfType<ReadReport>())
        {
            o.Line($"{Output.Esc(r.Path)}: {r.Rows} rows, {r.Accepted} read" + (r.TimeFormat.Length > 0 ? $" (times as {Output.Esc(r.TimeFormat)})" : "") +
                   (r.Malformed == 0 ? ", none malformed" : $", [yellow]{r.Malformed} malformed[/]"));
            foreach (var (reason, count) in r.MalformedByReason) o.Line($"  [yellow]{count} x[/] {Output.Esc(reason)}");
            foreach (var e in r.Examples.Take(5)) o.Line($"    line {e.Line}: {Output.Esc(e.Reason)}");
        }
    }

    private static void PrintEvaluation(Output o, EvaluationResult e)
    {
        o.Line($"train {e.TrainFrom:yyyy-MM-dd} .. {e.Cutoff.AddDays(-1):yyyy-MM-dd} ({e.TrainPurchases} purchases), test {e.Cutoff:yyyy-MM-dd} .. {e.TestTo:yyyy-MM-dd} " +
               $"({e.TestPurchases} purchases): {e.WarmCustomers} returning customers, {e.ColdCustomers} new");
        foreach (var (label, scores) in new[] { ("returning customers", e.Warm), ("new customers (cold start)", e.Cold) })
        {
            if (scores.Count == 0) continue;
            var table = new Table().Title(label).AddColumns("model", "K", "precision", "recall", "MAP", "NDCG", "hit rate", "coverage", "diversity", "train s");
            foreach (var s in scores.OrderBy(s => s.K).ThenBy(s => Array.IndexOf(ModelNames.All, s.Model)))
            {
                var best = s.Model == (scores == e.Warm ? e.Winner : e.ColdStart) ? "[bold]" : "";
                var end = best.Length > 0 ? "[/]" : "";
                table.AddRow($"{best}{s.Model}{end}", $"{s.K}", $"{s.Precision:F4}", $"{s.Recall:F4}", $"{s.Map:F4}", $"{best}{s.Ndcg:F4}{end}", $"{s.HitRate:F4}",
                    $"{s.Coverage:F3}", $"{s.Diversity:F3}", e.TrainSeconds.TryGetValue(s.Model, out var t) ? $"{t:F2}" : "");
            }
            o.Console.Write(table);
        }
        var versus = new Table().Title("NDCG@10 against popularity, paired over the same customers").AddColumns("model", "difference", "95% interval", "relative", "verdict");
        foreach (var v in e.VersusPopularity.Where(v => v.Model != ModelNames.Popularity).OrderBy(v => Array.IndexOf(ModelNames.All, v.Model)))
            versus.AddRow(v.Model, $"{v.Delta:+0.0000;-0.0000}", $"{v.Low:+0.0000;-0.0000} .. {v.High:+0.0000;-0.0000}", $"{v.Relative * 100:+0.0;-0.0}%",
                v.Low > 0 ? "[green]better[/]" : v.High < 0 ? "[red]worse[/]" : "no difference shown");
        o.Console.Write(versus);
        o.Line($"best on NDCG@10: [bold]{e.Winner}[/]; cold start uses {e.ColdStart}");
    }
}
