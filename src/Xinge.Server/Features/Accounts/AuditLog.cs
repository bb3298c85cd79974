using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Accounts;

public static class Outcome
{
    public const string Success = "success";
    public const string Failure = "failure";
    /// <summary>Refused before the credential was checked (locked out, throttled).</summary>
    public const string Denied = "denied";
}

public sealed record AuditView(string Id, DateTimeOffset At, string Actor, string Action, string Target, string Source, string Outcome, string? Detail, long? EnterpriseId);

/// <summary>
/// The audit log (R-S5-4): every administrative action and every security event, written by the feature that acts,
/// read by the operator. Written in its own statement, after the action committed (or was refused).
/// </summary>
public sealed class AuditLog(Database database, TimeProvider time, ILogger<AuditLog> logger)
{
    public async Task RecordAsync(string actor, string action, string target, string source, string outcome, string? detail = null, long? enterpriseId = null)
    {
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            await using var c = await database.OpenAsync();
            await c.ExecuteAsync(
                "INSERT INTO audit_log (at, actor, action, target, source, outcome, detail, enterprise_id) VALUES (@at, @actor, @action, @target, @source, @outcome, @detail, @enterpriseId)",
                new { at, actor = Clip(actor), action, target = Clip(target), source, outcome, detail = detail is null ? null : Clip(detail, 500), enterpriseId });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The action stands; losing its record is logged where the operator's log collector sees it.
            logger.LogError(e, "Audit record lost: {Actor} {Action} {Target} {Outcome}", actor, action, target, outcome);
        }
        if (outcome != Outcome.Success) logger.LogWarning("Security event: {Actor} {Action} {Target} from {Source}: {Outcome} {Detail}", actor, action, target, source, outcome, detail);
    }

    /// <summary>An action by the caller of this request.</summary>
    public Task RecordAsync(HttpContext http, string action, string target, string outcome = Outcome.Success, string? detail = null, long? enterpriseId = null) =>
        RecordAsync(ActorOf(http.User), action, target, SourceOf(http), outcome, detail, enterpriseId ?? Caller.From(http.User).EnterpriseId);

    public static string ActorOf(ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true ? Caller.From(user).Name : "anonymous";

    public static string SourceOf(HttpContext http) => ClientAddress.Of(http);

    public async Task<Page<AuditView>> QueryAsync(string? actor, string? action, long? since, long? until, long? before, int limit)
    {
        var where = new List<string>();
        if (!string.IsNullOrEmpty(actor)) where.Add("actor = @actor");
        if (!string.IsNullOrEmpty(action)) where.Add(action.EndsWith('.') ? "action LIKE @prefix" : "action = @action");
        if (since is not null) where.Add("at >= @since");
        if (until is not null) where.Add("at < @until");
        if (before is not null) where.Add("id < @before");
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<AuditEntry>(
            "SELECT id AS Id, at AS At, actor AS Actor, action AS Action, target AS Target, source AS Source, outcome AS Outcome, detail AS Detail, enterprise_id AS EnterpriseId " +
            "FROM audit_log" + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "") + " ORDER BY id DESC LIMIT @take",
            new { actor, action, prefix = action + "%", since, until, before, take = limit + 1 })).ToList();
        var more = rows.Count > limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<AuditView>(rows.Select(r => new AuditView(r.Id.ToString(), DateTimeOffset.FromUnixTimeMilliseconds(r.At), r.Actor, r.Action, r.Target, r.Source, r.Outcome,
            r.Detail, r.EnterpriseId)).ToList(), more ? Cursor.Of(rows[^1].Id) : null);
    }

    private static string Clip(string s, int max = 200) => s.Length <= max ? s : s[..max];
}
