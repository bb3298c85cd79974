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

    // Properties, not a record's constructor: Dapper converts each column to its property (a day is an int on PostgreSQL, a long on SQLite).
    private sealed class Pending
    {
        public string CallId { get; set; } = "";
        public long EnterpriseId { get; set; }
        public long? PolicyId { get; set; }
        public string Caller { get; set; } = "";
        public string Outcome { get; set; } = "";
        public long? SendAt { get; set; }
        public long EndedAt { get; set; }
        public int Day { get; set; }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (time.GetUtcNow() - _purged > TimeSpan.FromHours(1)) await PurgeAsync(stoppingToken);
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

    private DateTimeOffset _purged = DateTimeOffset.MinValue;

    /// <summary>
    /// What is kept: decisions for <see cref="KeepDecisions"/> (the statistics' year and more); the no-repeat memory for a
    /// year and a day (the longest period), except a policy's that sends once ever.
    /// </summary>
    public static readonly TimeSpan KeepDecisions = TimeSpan.FromDays(400), KeepCallers = TimeSpan.FromDays(366);

    public async Task PurgeAsync(CancellationToken ct)
    {
        _purged = time.GetUtcNow();
        var decisionsBefore = (_purged - KeepDecisions).ToUnixTimeMilliseconds();
        var callersBefore = (_purged - KeepCallers).ToUnixTimeMilliseconds();
        using (await database.WriteTurnAsync(ct))
        {
            await using var c = await database.OpenAsync(ct);
            await c.ExecuteAsync("DELETE FROM onhook_decisions WHERE ended_at < @decisionsBefore AND (send_state IS NULL OR send_state <> 'pending')", new { decisionsBefore });
            await c.ExecuteAsync("DELETE FROM onhook_callers WHERE last_sent_at < @callersBefore AND policy_id NOT IN (SELECT id FROM onhook_policies WHERE period_days IS NULL)",
                new { callersBefore });
        }
    }

    public async Task<int> SendSomeAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var until = now + (long)Lease.TotalMilliseconds;
        List<Pending> claimed;
        using (await database.WriteTurnAsync(ct))
        {
            await using var c = await database.OpenAsync(ct);
            claimed = (await c.QueryAsync<Pending>(
                "UPDATE onhook_decisions SET lease_until = @until WHERE call_id IN (SELECT call_id FROM onhook_decisions " +
                "WHERE send_state = 'pending' AND (lease_until IS NULL OR lease_until < @now) ORDER BY send_at LIMIT @limit" + (database.IsPostgres ? " FOR UPDATE SKIP LOCKED" : "") + ") " +
                "RETURNING call_id AS CallId, enterprise_id AS EnterpriseId, policy_id AS PolicyId, caller AS Caller, outcome AS Outcome, send_at AS SendAt, " +
                "ended_at AS EndedAt, day AS Day",
                new { until, now, limit = Claim })).ToList();
        }
        if (claimed.Count == 0) return 0;
        Dictionary<long, OnhookPolicy> policies;
        await using (var c = await database.OpenAsync(ct))
        {
            var ids = claimed.Where(x => x.PolicyId is not null).Select(x => x.PolicyId!.Value).Distinct().ToArray();
            policies = (await c.QueryAsync<OnhookPolicy>(OnhookQueries.SelectPolicies + " WHERE id " + Database.InList(c, "ids"), new { ids })).ToDictionary(p => p.Id);
        }
        var outcomes = new List<(Pending Call, string State, long? MessageId, string? Error)>(claimed.Count);
        await Parallel.ForEachAsync(claimed, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (d, _) =>
        {
            (string, long?, string?) outcome;
            try
            {
                outcome = await SendAsync(d, d.PolicyId is { } id ? policies.GetValueOrDefault(id) : null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Left pending: taken up again when its lease runs out.
                logger.LogError(e, "Sending the on-hook SMS of call {CallId} failed", d.CallId);
                return;
            }
            lock (outcomes) outcomes.Add((d, outcome.Item1, outcome.Item2, outcome.Item3));
        });
        using (await database.WriteTurnAsync(ct))
        {
            await using var c = await database.OpenAsync(ct);
            await using var tx = await c.BeginTransactionAsync(ct);
            // A failed SMS gives back what its decision took (a place in the day's peak, the caller's turn), under the deciders' lock.
            if (database.IsPostgres && outcomes.Any(o => o.State == SendStates.Failed)) await c.ExecuteAsync("LOCK TABLE onhook_daily IN EXCLUSIVE MODE", transaction: tx);
            foreach (var (call, state, messageId, error) in outcomes)
            {
                // Only while this node's claim holds: a node slower than the lease does not overwrite the next one's outcome.
                var noted = await c.ExecuteAsync("UPDATE onhook_decisions SET send_state = @state, message_id = @messageId, error = @error, lease_until = NULL " +
                    "WHERE call_id = @callId AND lease_until = @until", new { callId = call.CallId, state, messageId, error, until }, tx);
                if (noted == 0 || state != SendStates.Failed || call.PolicyId is not { } policy) continue;
                await c.ExecuteAsync("UPDATE onhook_daily SET sent = sent - 1 WHERE policy_id = @policy AND day = @day AND sent > 0", new { policy, day = call.Day }, tx);
                await c.ExecuteAsync("DELETE FROM onhook_callers WHERE policy_id = @policy AND caller = @caller AND last_sent_at = @ended",
                    new { policy, caller = call.Caller, ended = call.EndedAt }, tx);
            }
            await tx.CommitAsync(ct);
        }
        return claimed.Count;
    }

    private async Task<(string State, long? MessageId, string? Error)> SendAsync(Pending d, OnhookPolicy? policy)
    {
        var text = policy is null ? null : OnhookQueries.ContentOf(policy, d.Outcome);
        if (policy is null || string.IsNullOrEmpty(text)) return (SendStates.Failed, null, "policy_removed");
        // An immediate SMS goes now; a delayed one is scheduled for its time while that is ahead.
        var at = policy.DelayMinutes > 0 && d.SendAt is { } ms && ms > time.GetUtcNow().ToUnixTimeMilliseconds() + 1000 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        var (result, refusal) = await messaging.SendAsync(new SendCommand(d.EnterpriseId, [new Recipient(d.Caller, null)], policy.Signature, policy.Category, text,
            at, ClientRef: "onhook:" + d.CallId[..Math.Min(d.CallId.Length, 57)], IdempotencyKey: "onhook:" + d.CallId, Origin: "onhook"));
        // The call's key was used by an earlier attempt whose note was lost (a crash, a lease run out): its message is stored.
        if (refusal is { Error: SendError.IdempotencyKeyReused }) return (SendStates.Sent, null, null);
        if (refusal is not null) return (SendStates.Failed, null, refusal.Rejected is [{ } first, ..] ? first.Reason : refusal.Detail[..Math.Min(refusal.Detail.Length, 200)]);
        if (result!.Messages is [{ } message, ..]) return (SendStates.Sent, message.Id, null);
        return (SendStates.Failed, null, result.Rejected is [{ } rejected, ..] ? rejected.Reason : "not_accepted");
    }
}
