using System.CommandLine;
using Spectre.Console;

namespace EchoFace.Cli.Commands;

/// <summary>customers opt-in | opt-out | list: which enrolled people a shelf camera may recognise as retail customers (no model is loaded).</summary>
internal static class CustomerCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var customers = new Command("customers", "Retail opt-in: link enrolled people to customer ids; nobody else is ever reported by a shelf camera");

        var identity = new Argument<string>("identity") { Description = "enrolled identity (see `echoface people list`)" };
        var customer = new Argument<string>("customer") { Description = "the customer's id in the transactions (e.g. loyalty number)" };
        var note = new Option<string?>("--note") { Description = "where the consent was given (kept in the audit trail)" };
        var optIn = new Command("opt-in", "Record that the person agreed to be recognised as this customer") { identity, customer, note };
        optIn.WithAction(g, o, (ctx, p) =>
        {
            var id = p.GetValue(identity)!;
            var cust = p.GetValue(customer)!.Trim();
            if (cust.Length is 0 or > 200) throw new BadInputException("the customer id must be 1 to 200 characters");
            ctx.Store.LinkCustomer(id, cust, System.Text.Json.JsonSerializer.Serialize(new { customer = cust, note = p.GetValue(note) }));
            if (ctx.Json) o.Json(new { identity = id, customer = cust, status = "opted-in" });
            else o.Line($"{Output.Esc(id)} opted in as customer {Output.Esc(cust)}");
            return EchoFaceCli.Ok;
        });

        var outId = new Argument<string>("identity");
        var optOut = new Command("opt-out", "Withdraw the opt-in: the shelf camera stops reporting the person (their enrolment stays)") { outId };
        optOut.WithAction(g, o, (ctx, p) =>
        {
            var id = p.GetValue(outId)!;
            if (!ctx.Store.UnlinkCustomer(id, "opt-out")) throw new BadInputException($"'{id}' has not opted in (see `echoface customers list`)");
            if (ctx.Json) o.Json(new { identity = id, status = "opted-out" });
            else o.Line($"{Output.Esc(id)} opted out");
            return EchoFaceCli.Ok;
        });

        var list = new Command("list", "Opted-in customers");
        list.WithAction(g, o, (ctx, _) =>
        {
            var all = ctx.Store.Customers();
            if (ctx.Json) { o.Json(all.Select(kv => new { identity = kv.Key, customer = kv.Value })); return EchoFaceCli.Ok; }
            var table = new Table().AddColumns("identity", "customer");
            foreach (var (id, cust) in all) table.AddRow(Output.Esc(id), Output.Esc(cust));
            o.Console.Write(table);
            o.Line($"{all.Count} customers opted in");
            return EchoFaceCli.Ok;
        });

        customers.Subcommands.Add(optIn);
        customers.Subcommands.Add(optOut);
        customers.Subcommands.Add(list);
        return customers;
    }
}
