using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Calls;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Onhook;

public static class OnhookQueries
{
    public const string SelectPolicies =
        "SELECT id AS Id, enterprise_id AS EnterpriseId, hotline_id AS HotlineId, name AS Name, signature AS Signature, category AS Category, " +
        "delay_minutes AS DelayMinutes, content_answered AS ContentAnswered, content_busy AS ContentBusy, content_no_answer AS ContentNoAnswer, " +
        "no_repeat AS NoRepeat, period_days AS PeriodDays, window_from AS WindowFrom, window_to AS WindowTo, daily_limit AS DailyLimit, " +
        "priority AS Priority, enabled AS Enabled, created_at AS CreatedAt, updated_at AS UpdatedAt FROM onhook_policies";

    /// <summary>
    /// The outcome a policy has content for: the switch's six as the seed's three (connected, busy, no answer). A call
    /// the hotline rejected was busy for the caller; one it could not be reached at went unanswered.
    /// </summary>
    public static string OutcomeOf(string switchOutcome) => switchOutcome switch
    {
        CallOutcome.Answered => CallOutcome.Answered,
        CallOutcome.Busy or CallOutcome.Rejected => CallOutcome.Busy,
        _ => CallOutcome.NoAnswer,
    };

    public static string? ContentOf(OnhookPolicy p, string outcome) => outcome switch
    {
        CallOutcome.Answered => p.ContentAnswered,
        CallOutcome.Busy => p.ContentBusy,
        _ => p.ContentNoAnswer,
    };
}

/// <summary>
/// Sends the SMS the decisions left pending, through the messaging engine like every way in, each with the call as its
/// Idempotency-Key: a node that stops between the send and its note sends nothing twice when the decision is taken up
/// again (its lease runs out after a minute). A delayed SMS goes to the engine at once, scheduled for its time.
/// </summary>
public sealed class OnhookSender(Database database, MessagingService messaging, WakeSignalFor<OnhookDecision> signal, TimeProvider time,
    ILogger<OnhookSender> logger) : BackgroundService
{
    private const int Claim = 200;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    private sealed record Pending(string CallId, long EnterpriseId, long? PolicyId, string Caller, string Outcome, long? SendAt);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await SendSomeAsync(stoppingToken) < Claim) await signal.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Sending on-hook SMS failed; retrying");
                await Task.Delay(1000, stoppingToken);
            }
        }
    }

    public async Task<int> SendSomeAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        List<Pending> claimed;
        using (await database.WriteTurnAsync(ct))
        {
            await using var c = await database.OpenAsync(ct);
            claimed = (await c.QueryAsync<Pending>(
                "UPDATE onhook_decisions SET lease_until = @until WHERE call_id IN (SELECT call_id FROM onhook_decisions " +
                "WHERE send_state = 'pending' AND (lease_until IS NULL OR lease_until < @now) ORDER BY send_at LIMIT @limit" + (database.IsPostgres ? " FOR UPDATE SKIP LOCKED" : "") + ") " +
                "RETURNING call_id AS CallId, enterprise_id AS EnterpriseId, policy_id AS PolicyId, caller AS Caller, outcome AS Outcome, send_at AS SendAt",
                new { until = now + (long)Lease.TotalMilliseconds, now, limit = Claim })).ToList();
        }
        if (claimed.Count == 0) return 0;
        Dictionary<long, OnhookPolicy> policies;
        await using (var c = await database.OpenAsync(ct))
        {
            var ids = claimed.Where(x => x.PolicyId is not null).Select(x => x.PolicyId!.Value).Distinct().ToArray();
            policies = (await c.QueryAsync<OnhookPolicy>(OnhookQueries.SelectPolicies + " WHERE id " + Database.InList(c, "ids"), new { ids })).ToDictionary(p => p.Id);
        }
        var outcomes = new List<(string CallId, string State, long? MessageId, string? Error)>(claimed.Count);
        await Parallel.ForEachAsync(claimed, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (d, _) =>
        {
            var outcome = await SendAsync(d, d.PolicyId is { } id ? policies.GetValueOrDefault(id) : null);
            lock (outcomes) outcomes.Add(outcome);
        });
        using (await database.WriteTurnAsync(ct))
        {
            await using var c = await database.OpenAsync(ct);
            await using var tx = await c.BeginTransactionAsync(ct);
            foreach (var (callId, state, messageId, error) in outcomes)
            {
                await c.ExecuteAsync("UPDATE onhook_decisions SET send_state = @state, message_id = @messageId, error = @error, lease_until = NULL WHERE call_id = @callId",
                    new { callId, state, messageId, error }, tx);
            }
            await tx.CommitAsync(ct);
        }
        return claimed.Count;
    }

    private async Task<(string, string, long?, string?)> SendAsync(Pending d, OnhookPolicy? policy)
    {
        var text = policy is null ? null : OnhookQueries.ContentOf(policy, d.Outcome);
        if (policy is null || string.IsNullOrEmpty(text)) return (d.CallId, SendStates.Failed, null, "policy_removed");
        var at = d.SendAt is { } ms && ms > time.GetUtcNow().ToUnixTimeMilliseconds() + 1000 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        var (result, refusal) = await messaging.SendAsync(new SendCommand(d.EnterpriseId, [new Recipient(d.Caller, null)], policy.Signature, policy.Category, text,
            at, ClientRef: "onhook:" + d.CallId[..Math.Min(d.CallId.Length, 57)], IdempotencyKey: "onhook:" + d.CallId, Origin: "onhook"));
        if (refusal is not null) return (d.CallId, SendStates.Failed, null, refusal.Rejected is [{ } first, ..] ? first.Reason : refusal.Detail[..Math.Min(refusal.Detail.Length, 200)]);
        if (result!.Messages is [{ } message, ..]) return (d.CallId, SendStates.Sent, message.Id, null);
        return (d.CallId, SendStates.Failed, null, result.Rejected is [{ } rejected, ..] ? rejected.Reason : "not_accepted");
    }
}
