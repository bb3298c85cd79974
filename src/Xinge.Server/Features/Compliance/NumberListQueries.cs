using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>
/// Reading a list of numbers (the platform blacklist, an enterprise's opt-outs) in number order: a page after a number,
/// the one number asked for, or the whole list for an export, a thousand at a time.
/// </summary>
public static class NumberListQueries
{
    private const int Chunk = 1000;

    /// <param name="select">The columns and table with the list's own condition, ending where <c>AND msisdn …</c> can follow.</param>
    public static async Task<IResult> PageAsync<TRow, TView>(Database database, string select, object args, string? q, string? after, int? limit,
        Func<TRow, string> numberOf, Func<TRow, TView> view)
    {
        if (limit is < 1 or > 1000) return Problems.Validation("limit is 1 to 1000");
        var number = q is { Length: > 0 } ? Messaging.PhoneNumbers.ToE164(q) : null;
        if (q is { Length: > 0 } && number is null) return Problems.Validation("q is a phone number");
        if (after is { Length: > 20 }) return Problems.Validation("after is a number from the previous page");
        var take = limit ?? 100;
        var p = new DynamicParameters(args);
        p.Add("number", number);
        p.Add("after", after ?? "");
        p.Add("take", take + 1);
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<TRow>($"{select} AND {(number is null ? "msisdn > @after" : "msisdn = @number")} ORDER BY msisdn LIMIT @take", p)).ToList();
        var more = rows.Count > take;
        if (more) rows.RemoveAt(take);
        return Results.Ok(new Page<TView>(rows.Select(view).ToList(), more ? numberOf(rows[^1]) : null));
    }

    public static async IAsyncEnumerable<string?[]> AllAsync<TRow>(Database database, string select, object args, Func<TRow, string> numberOf, Func<TRow, string?[]> fields)
    {
        var after = "";
        while (true)
        {
            var p = new DynamicParameters(args);
            p.Add("after", after);
            p.Add("take", Chunk);
            List<TRow> page;
            await using (var c = await database.OpenAsync())
            {
                page = (await c.QueryAsync<TRow>($"{select} AND msisdn > @after ORDER BY msisdn LIMIT @take", p)).ToList();
            }
            foreach (var row in page) yield return fields(row);
            if (page.Count < Chunk) yield break;
            after = numberOf(page[^1]);
        }
    }
}
