using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public sealed record OptOutAdd(List<string>? Numbers);
public sealed record OptOutView(string Msisdn, DateTimeOffset At);
public sealed record OptOutChange(int Added, IReadOnlyList<ListProblem> Invalid);

/// <summary>
/// An enterprise's opt-out list (R-S1-10): the numbers that replied an unsubscribe keyword, and those it brings from
/// elsewhere (import). Only the subscriber takes a number off it, by replying START or 订阅.
/// </summary>
public static class OptOutEndpoints
{

    public static IEndpointRouteBuilder MapOptOuts(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/opt-outs").RequireAuthorization("enterprise").WithTags("Enterprise");
        api.MapGet("", ListAsync).RequireAuthorization(Rights.MessagesRead).Produces<Page<OptOutView>>().ProducesProblem(400);
        api.MapPost("", AddAsync).RequireAuthorization(Rights.MessagesSend).Produces<OptOutChange>().ProducesProblem(400);
        // A bearer call, never a browser's cookie: no antiforgery token to ask for.
        api.MapPut("/import", ImportAsync).RequireAuthorization(Rights.MessagesSend).DisableAntiforgery().Produces<OptOutChange>().ProducesProblem(400).ProducesProblem(415);
        api.MapGet("/export", (ClaimsPrincipal user, Database database, PlatformTimeZone zone) =>
                Results.Stream(body => Spreadsheet.WriteCsvAsync(body, ["number", "opted_out_at"],
                        NumberListQueries.AllAsync<OptOut>(database, Select, new { enterprise = Caller.From(user).Enterprise }, o => o.Msisdn,
                            o => [o.Msisdn, zone.Local(DateTimeOffset.FromUnixTimeMilliseconds(o.At))])),
                    "text/csv; charset=utf-8", "opt-outs.csv"))
            .RequireAuthorization(Rights.MessagesRead).Produces(200, contentType: "text/csv");
        return app;
    }

    private const string Select = "SELECT msisdn AS Msisdn, at AS At FROM opt_outs WHERE enterprise_id = @enterprise";

    private static Task<IResult> ListAsync(string? q, string? after, int? limit, ClaimsPrincipal user, Database database) =>
        NumberListQueries.PageAsync<OptOut, OptOutView>(database, Select, new { enterprise = Caller.From(user).Enterprise }, q, after, limit, o => o.Msisdn,
            o => new OptOutView(o.Msisdn, DateTimeOffset.FromUnixTimeMilliseconds(o.At)));

    private static async Task<IResult> AddAsync(OptOutAdd body, ClaimsPrincipal user, Database database, AuditLog audit, TimeProvider time, HttpContext http)
    {
        if (body.Numbers is not { Count: > 0 and <= 10_000 } numbers) return Problems.Validation("numbers: 1 to 10,000 phone numbers");
        var invalid = new List<ListProblem>();
        var added = await StoreAsync(Caller.From(user).Enterprise, ListFile.ValidNumbers(numbers.Select((n, i) => (i + 1, n ?? "", 0)), invalid), database, time);
        await audit.RecordAsync(http, "opt_out.added", $"{added} numbers");
        return Results.Ok(new OptOutChange(added, invalid));
    }

    private static async Task<IResult> ImportAsync(ClaimsPrincipal user, Database database, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var (file, problem) = await ListFile.ReadAsync(http);
        if (file is null) return problem!;
        var invalid = new List<ListProblem>();
        var added = await StoreAsync(Caller.From(user).Enterprise, ListFile.ValidNumbers(file.Select(r => (r.Line, r.Value, 0)), invalid), database, time);
        await audit.RecordAsync(http, "opt_out.imported", $"{added} numbers", detail: $"{invalid.Count} rows refused");
        return Results.Ok(new OptOutChange(added, invalid.Take(1000).ToList()));
    }

    private static async Task<int> StoreAsync(long enterprise, List<(string Msisdn, int Row)> rows, Database database, TimeProvider time)
    {
        if (rows.Count == 0) return 0;
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The engine's writers take turns on SQLite; a long import takes its turn like them.
        using var turn = await database.WriteTurnAsync();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await ManyRows.InsertAsync(c, tx, "INSERT INTO opt_outs (enterprise_id, msisdn, at) VALUES", "ON CONFLICT DO NOTHING", rows, r => [enterprise, r.Msisdn, at]);
        await tx.CommitAsync();
        return rows.Count;
    }
}
