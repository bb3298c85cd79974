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
        return app;
    }

    private static async Task<Ok<BalanceView>> GetBalanceAsync(ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        var e = await c.QuerySingleAsync<Enterprise>("SELECT balance AS Balance, reserved AS Reserved, unit_price AS UnitPrice FROM enterprises WHERE id = @id", new { id = Caller.From(user).Enterprise });
        return TypedResults.Ok(new BalanceView(e.Balance, e.Reserved, e.UnitPrice));
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
        await using var c = await database.OpenAsync();
        var e = await c.QuerySingleOrDefaultAsync<Enterprise>("SELECT balance AS Balance, reserved AS Reserved FROM enterprises WHERE id = @enterpriseId", new { enterpriseId });
        if (e is null) return Problems.NotFound("enterprise");
        var totals = (await c.QueryAsync<Totals>(
            "SELECT kind AS Kind, SUM(amount) AS Amount, SUM(messages) AS Messages FROM ledger WHERE enterprise_id = @enterpriseId GROUP BY kind", new { enterpriseId }))
            .ToDictionary(t => t.Kind);
        long Sum(string kind) => totals.TryGetValue(kind, out var t) ? t.Amount : 0;
        long Count(string kind) => totals.TryGetValue(kind, out var t) ? t.Messages : 0;
        var (credits, reserves, charges, refunds) = (Sum(LedgerKind.Credit), Sum(LedgerKind.Reserve), Sum(LedgerKind.Charge), Sum(LedgerKind.Refund));
        return TypedResults.Ok(new LedgerView(e.Balance, e.Reserved, credits, reserves, charges, refunds,
            Count(LedgerKind.Reserve), Count(LedgerKind.Charge), Count(LedgerKind.Refund),
            e.Balance == credits - reserves + refunds && e.Reserved == reserves - charges - refunds));
    }
}
