using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public sealed record BlacklistAdd(List<string>? Numbers, string? Scope, string? Reason);
public sealed record BlacklistEntryView(string Msisdn, string Scope, string? Reason, DateTimeOffset AddedAt, string AddedBy);
public sealed record BlacklistChange(int Added, IReadOnlyList<ListProblem> Invalid);

/// <summary>The operator's platform blacklist (R-S1-16): add, remove, search, import and export.</summary>
public static class BlacklistEndpoints
{

    public static IEndpointRouteBuilder MapBlacklist(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin/blacklist").RequireAuthorization(Rights.BlacklistManage).WithTags("Operator");
        admin.MapGet("", ListAsync).Produces<Page<BlacklistEntryView>>().ProducesProblem(400);
        admin.MapPost("", AddAsync).Produces<BlacklistChange>().ProducesProblem(400);
        admin.MapDelete("/{msisdn}", RemoveAsync).Produces(204).ProducesProblem(404);
        // A bearer call, never a browser's cookie: no antiforgery token to ask for.
        admin.MapPut("/import", ImportAsync).DisableAntiforgery().Produces<BlacklistChange>().ProducesProblem(400).ProducesProblem(415);
        admin.MapGet("/export", Export).Produces(200, contentType: "text/csv");
        return app;
    }

    private const string Select = "SELECT msisdn AS Msisdn, scope AS Scope, reason AS Reason, added_at AS AddedAt, added_by AS AddedBy FROM blacklist WHERE 1 = 1";

    /// <summary>In number order, a page at a time, or the one number asked for.</summary>
    private static Task<IResult> ListAsync(string? q, string? after, int? limit, Database database) =>
        NumberListQueries.PageAsync<BlacklistEntry, BlacklistEntryView>(database, Select, new { }, q, after, limit, e => e.Msisdn, View);

    private static BlacklistEntryView View(BlacklistEntry e) => new(e.Msisdn, e.Scope, e.Reason, DateTimeOffset.FromUnixTimeMilliseconds(e.AddedAt), e.AddedBy);

    private static async Task<IResult> AddAsync(BlacklistAdd body, ClaimsPrincipal user, Database database, Revocations revocations, PlatformBlacklist blacklist, AuditLog audit, TimeProvider time,
        HttpContext http)
    {
        if (body.Numbers is not { Count: > 0 and <= 10_000 } numbers) return Problems.Validation("numbers: 1 to 10,000 phone numbers");
        var scope = body.Scope ?? BlacklistScope.All;
        if (!BlacklistScope.IsValid(scope)) return Problems.Validation("scope is all or marketing");
        if (ReasonProblem(body.Reason) is { } problem) return Problems.Validation(problem);
        var invalid = new List<ListProblem>();
        var rows = ListFile.ValidNumbers(numbers.Select((n, i) => (i + 1, n ?? "", (Scope: scope, Reason: body.Reason?.Trim()))), invalid);
        var change = await StoreAsync(rows, Caller.From(user).Name, database, revocations, blacklist, time);
        await audit.RecordAsync(http, "blacklist.added", $"{change} numbers", detail: body.Reason);
        return Results.Ok(new BlacklistChange(change, invalid));
    }

    private static string? ReasonProblem(string? reason) =>
        reason is { Length: > 200 } || reason is not null && Input.HasHiddenCharacters(reason) ? "reason is at most 200 characters, without control characters" : null;

    /// <summary>Inserts or updates in chunks, then tells every node (one revocation for the whole change).</summary>
    private static async Task<int> StoreAsync(List<(string Msisdn, (string Scope, string? Reason) Row)> rows, string by, Database database, Revocations revocations, PlatformBlacklist blacklist,
        TimeProvider time)
    {
        if (rows.Count == 0) return 0;
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The engine's writers take turns on SQLite; a long import takes its turn like them.
        using var turn = await database.WriteTurnAsync();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await ManyRows.InsertAsync(c, tx, "INSERT INTO blacklist (msisdn, scope, reason, added_at, added_by) VALUES",
            "ON CONFLICT (msisdn) DO UPDATE SET scope = excluded.scope, reason = excluded.reason, added_at = excluded.added_at, added_by = excluded.added_by",
            rows, r => [r.Msisdn, r.Row.Scope, r.Row.Reason, at, by]);
        await revocations.CommitAsync(c, tx, RevocationKind.Blacklist, "");
        // This node follows at once: the change is in force here when the operator has the answer.
        await blacklist.LoadAsync(CancellationToken.None);
        return rows.Count;
    }

    private static async Task<IResult> RemoveAsync(string msisdn, Database database, Revocations revocations, PlatformBlacklist blacklist, AuditLog audit, HttpContext http)
    {
        if (Messaging.PhoneNumbers.ToE164(msisdn) is not { } e164) return Problems.NotFound("number on the blacklist");
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteAsync("DELETE FROM blacklist WHERE msisdn = @e164", new { e164 }, tx) == 0) return Problems.NotFound("number on the blacklist");
        await revocations.CommitAsync(c, tx, RevocationKind.Blacklist, "");
        // This node follows at once: the change is in force here when the operator has the answer.
        await blacklist.LoadAsync(CancellationToken.None);
        await audit.RecordAsync(http, "blacklist.removed", e164);
        return Results.NoContent();
    }

    /// <summary>A CSV file (<see cref="ListFile"/>): a number per row, then optionally its scope and a reason; rows not taken come back by line.</summary>
    private static async Task<IResult> ImportAsync(ClaimsPrincipal user, Database database, Revocations revocations, PlatformBlacklist blacklist, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var (file, problem) = await ListFile.ReadAsync(http);
        if (file is null) return problem!;
        var invalid = new List<ListProblem>();
        var rows = new List<(int, string, (string Scope, string? Reason))>();
        foreach (var row in file)
        {
            var scope = row.Rest is [{ Length: > 0 } s, ..] ? s.ToLowerInvariant() : BlacklistScope.All;
            var reason = row.Rest is [_, { Length: > 0 } r, ..] ? r : null;
            if (!BlacklistScope.IsValid(scope)) invalid.Add(new ListProblem(row.Line, scope.Length > 40 ? scope[..40] : scope, "scope is all or marketing"));
            else if (ReasonProblem(reason) is { } why) invalid.Add(new ListProblem(row.Line, row.Value, why));
            else rows.Add((row.Line, row.Value, (scope, reason)));
        }
        var added = await StoreAsync(ListFile.ValidNumbers(rows, invalid), Caller.From(user).Name, database, revocations, blacklist, time);
        await audit.RecordAsync(http, "blacklist.imported", $"{added} numbers", detail: $"{invalid.Count} rows refused");
        return Results.Ok(new BlacklistChange(added, invalid.OrderBy(p => p.Line).Take(1000).ToList()));
    }

    /// <summary>The whole list as CSV (number, scope, reason, added at, by), read a thousand numbers at a time.</summary>
    private static IResult Export(Database database, PlatformTimeZone zone) =>
        Results.Stream(body => Spreadsheet.WriteCsvAsync(body, ["number", "scope", "reason", "added_at", "added_by"],
            NumberListQueries.AllAsync<BlacklistEntry>(database, Select, new { }, e => e.Msisdn,
                e => [e.Msisdn, e.Scope, e.Reason, zone.Local(DateTimeOffset.FromUnixTimeMilliseconds(e.AddedAt)), e.AddedBy])),
            "text/csv; charset=utf-8", "blacklist.csv");
}
