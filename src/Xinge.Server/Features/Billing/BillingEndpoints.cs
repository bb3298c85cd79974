using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Features.Billing;

/// <summary>The enterprise's money in fen, and what one billing unit (segment) costs it.</summary>
public sealed record BalanceView(long Balance, long Reserved, int UnitPrice);

/// <summary>The ledger's totals, and whether they reconcile with the account to the fen.</summary>
public sealed record LedgerView(long Balance, long Reserved, long Credits, long Reserves, long Charges, long Refunds,
    long ReservedMessages, long ChargedMessages, long RefundedMessages, bool Reconciles);

/// <summary>One movement of money on a statement: a credit, or the reservation, charge or refund of a batch of messages.</summary>
public sealed record LedgerEntryView(string Id, string Kind, long Amount, int Messages, string? Reference, DateTimeOffset At);

public static class BillingEndpoints
{
    public static IServiceCollection AddBilling(this IServiceCollection services) => services.AddSingleton<BillingService>();

    public static IEndpointRouteBuilder MapBilling(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/balance", GetBalanceAsync).RequireAuthorization("enterprise", Rights.BalanceRead).WithTags("Enterprise");
        app.MapGet("/api/v1/ledger", (ClaimsPrincipal user, Database database) => LedgerAsync(Caller.From(user).Enterprise, database))
            .RequireAuthorization("enterprise", Rights.BalanceRead).WithTags("Enterprise");
        app.MapGet("/api/v1/admin/enterprises/{id:long}/ledger", (long id, Database database) => LedgerAsync(id, database))
            .RequireAuthorization(Rights.BillingRead).WithTags("Operator");
        app.MapGet("/api/v1/ledger/entries", (ClaimsPrincipal user, Database database, string? cursor, int? limit) => EntriesAsync(Caller.From(user).Enterprise, database, cursor, limit))
            .RequireAuthorization("enterprise", Rights.BalanceRead).WithTags("Enterprise").Produces<Messaging.Page<LedgerEntryView>>().ProducesProblem(400);
        app.MapGet("/api/v1/admin/enterprises/{id:long}/ledger/entries", (long id, Database database, string? cursor, int? limit) => EntriesAsync(id, database, cursor, limit))
            .RequireAuthorization(Rights.BillingRead).WithTags("Operator").Produces<Messaging.Page<LedgerEntryView>>().ProducesProblem(400);
        return app;
    }

    private static async Task<Ok<BalanceView>> GetBalanceAsync(ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        var e = await c.QuerySingleAsync<Enterprise>("SELECT balance AS Balance, reserved AS Reserved, unit_price AS UnitPrice FROM enterprises WHERE id = @id", new { id = Caller.From(user).Enterprise });
        return TypedResults.Ok(new BalanceView(e.Balance, e.Reserved, e.UnitPrice));
    }

    /// <summary>The statement: every movement of the enterprise's money, newest first, a page at a time.</summary>
    private static async Task<IResult> EntriesAsync(long enterpriseId, Database database, string? cursor, int? limit)
    {
        if (!Messaging.Cursor.TryRead(cursor, out var before)) return Problems.Validation("cursor is the next value of a previous page");
        if (limit is < 1 or > 1000) return Problems.Validation("limit is 1 to 1000");
        var take = limit ?? 100;
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<LedgerEntry>(
            "SELECT id AS Id, kind AS Kind, amount AS Amount, messages AS Messages, reference AS Reference, at AS At FROM ledger " +
            "WHERE enterprise_id = @enterpriseId AND (@before = 0 OR id < @before) ORDER BY id DESC LIMIT @take", new { enterpriseId, before = before ?? 0, take = take + 1 })).ToList();
        var more = rows.Count > take;
        if (more) rows.RemoveAt(take);
        return Results.Ok(new Messaging.Page<LedgerEntryView>(
            rows.Select(r => new LedgerEntryView(r.Id.ToString(), r.Kind, r.Amount, r.Messages, r.Reference, DateTimeOffset.FromUnixTimeMilliseconds(r.At))).ToList(),
            more ? Messaging.Cursor.Of(rows[^1].Id) : null));
    }

    private sealed class Totals
    {
        public string Kind { get; set; } = "";
        public long Amount { get; set; }
        public long Messages { get; set; }
    }

    /// <summary>
    /// The ledger's totals and whether they reconcile with the account to the fen:
    /// balance = credits − reserves + refunds, and reserved = reserves − charges − refunds.
    /// </summary>
    private static async Task<Results<Ok<LedgerView>, ProblemHttpResult>> LedgerAsync(long enterpriseId, Database database)
    {
        // One statement, so one snapshot: the balance and the ledger as of the same moment, even while messages settle.
        await using var c = await database.OpenAsync();
        var totals = (await c.QueryAsync<Totals>(
            "SELECT kind AS Kind, SUM(amount) AS Amount, SUM(messages) AS Messages FROM ledger WHERE enterprise_id = @enterpriseId GROUP BY kind " +
            "UNION ALL SELECT 'balance', balance, 0 FROM enterprises WHERE id = @enterpriseId " +
            "UNION ALL SELECT 'reserved', reserved, 0 FROM enterprises WHERE id = @enterpriseId", new { enterpriseId }))
            .ToDictionary(t => t.Kind);
        if (!totals.TryGetValue("balance", out var balance) || !totals.TryGetValue("reserved", out var reserved)) return Problems.NotFound("enterprise");
        var e = new Enterprise { Balance = balance.Amount, Reserved = reserved.Amount };
        long Sum(string kind) => totals.TryGetValue(kind, out var t) ? t.Amount : 0;
        long Count(string kind) => totals.TryGetValue(kind, out var t) ? t.Messages : 0;
        var (credits, reserves, charges, refunds) = (Sum(LedgerKind.Credit), Sum(LedgerKind.Reserve), Sum(LedgerKind.Charge), Sum(LedgerKind.Refund));
        return TypedResults.Ok(new LedgerView(e.Balance, e.Reserved, credits, reserves, charges, refunds,
            Count(LedgerKind.Reserve), Count(LedgerKind.Charge), Count(LedgerKind.Refund),
            e.Balance == credits - reserves + refunds && e.Reserved == reserves - charges - refunds));
    }
}
