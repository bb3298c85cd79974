using System.Data.Common;
using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Billing;
using Xinge.Smpp;

namespace Xinge.Server.Features.Messaging;

public abstract record EngineEvent
{
    /// <summary>Runs once the event's effect is committed (the dispatcher frees its in-flight slot then).</summary>
    public Action? Committed { get; init; }
}
/// <summary>Every part of a message was taken by the SMSC (submit_sm_resp OK); the ids are in part order.</summary>
public sealed record PartsSubmitted(long MessageId, string Connector, IReadOnlyList<string> SmscIds, long At) : EngineEvent;
/// <summary>Some parts of a message were taken by the SMSC, others not (yet): the taken ones are kept, so a retry sends only the rest.</summary>
public sealed record PartsAccepted(long MessageId, string Connector, IReadOnlyList<(int Part, string SmscId)> Parts, int Total) : EngineEvent;
/// <summary>A temporary failure (throttled, no bind, time-out): try again at <see cref="RetryAt"/>.</summary>
public sealed record SubmitDeferred(long MessageId, long RetryAt, string Reason, bool CountsAsAttempt = true) : EngineEvent;
/// <summary>A permanent refusal by the SMSC or the router: the message fails and is refunded.</summary>
public sealed record SubmitRefused(long MessageId, string Reason) : EngineEvent;
public sealed record ReceiptReceived(string Connector, string SmscId, string Stat, string Error, long At) : EngineEvent;
/// <summary>An enterprise withdraws a message that has not gone out yet; <see cref="Result"/> says whether it was withdrawn.</summary>
public sealed record CancelRequested(long EnterpriseId, long MessageId) : EngineEvent
{
    public TaskCompletionSource<bool> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>An enterprise replaces the text (and maybe the time) of a message not yet sent; the reservation follows the new price.</summary>
public sealed record ReplaceRequested(long EnterpriseId, long MessageId, string Text, int Encoding, int Segments, long Price, long? SendAt) : EngineEvent
{
    public TaskCompletionSource<bool> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public enum JobAction
{
    Pause,
    Resume,
    Cancel,
}

/// <summary>
/// An enterprise pauses, resumes or cancels a job. Done here, in the writer's transaction, so a change of a job never
/// races another change of it or the ending of its messages.
/// </summary>
public sealed record JobChangeRequested(long EnterpriseId, long JobId, JobAction Action) : EngineEvent
{
    public TaskCompletionSource<JobChange> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The operator decided a held job: approved, its held messages go (queued, or scheduled for their time); rejected,
/// they end failed with the reason (<c>content_rejected:…</c>), refunded. <see cref="Result"/>: how many it changed.
/// </summary>
/// <remarks>
/// <see cref="Claim"/> is the reviewing feature's own write (its review item from pending to decided), done first in the
/// same transaction: a review decided twice, or by two operators at once, changes the messages once. <see cref="Result"/>
/// is -1 when the claim failed (decided already).
/// </remarks>
public sealed record HeldDecided(long EnterpriseId, long JobId, bool Approved, string? Reason, Func<DbConnection, DbTransaction, Task<bool>> Claim) : EngineEvent
{
    public TaskCompletionSource<int> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The operator suspended an enterprise or lifted its suspension: its waiting messages follow (held, or released).</summary>
public sealed record SuspensionChanged(long EnterpriseId) : EngineEvent;

public sealed record MoReceived(string Connector, string Sender, string Recipient, string Text, long At) : EngineEvent;

/// <summary>
/// The second writer of the engine: submit results, receipts and replies are collected and written in batches,
/// and every message that reaches its end is settled in the same transaction (charge on DELIVRD, refund otherwise)
/// with its webhook event in the outbox. A message ends once: the status change is the key of the settlement.
/// </summary>
/// <summary>
/// Another feature's part in the engine's transactions (the SMPP server's outbox): called inside the transaction
/// that ends messages or stores replies, and once more after it commits.
/// </summary>
public interface IMessagingObserver
{
    Task OnEndedAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Ended> ended);
    Task OnInboundAsync(DbConnection c, DbTransaction tx, InboundMessage mo);
    void AfterCommit();
}

public sealed class StatusWriter(Database database, BillingService billing, WakeSignalFor<Dispatcher> dispatch, TimeProvider time, MessagingOptions options, InboundRouter inbound,
    WakeSignalFor<WebhookWorker> webhooks, IEnumerable<IMessagingObserver> observers, ILogger<StatusWriter> logger) : BackgroundService
{
    private const int MaxBatch = 5000;
    /// <summary>A receipt may arrive before its submit_sm_resp is recorded; it waits this long for its message.</summary>
    private static readonly TimeSpan OrphanPatience = TimeSpan.FromMinutes(10);
    private readonly Channel<EngineEvent> _events = Channel.CreateUnbounded<EngineEvent>(new() { SingleReader = true });
    /// <summary>A receipt whose part is not known yet, looked for again at <c>NextTry</c>: 0.2 s, 0.4 s, … up to 30 s apart.</summary>
    private readonly record struct Orphan(ReceiptReceived Receipt, long FirstSeen, long NextTry, int Tries);

    private List<Orphan> _orphans = [];
    // A failed batch is written again one event at a time (_retry first), so an event that fails alone is found. One
    // that fails alone three times while others commit is parked and tried again every minute: it cannot stop the
    // engine, and nothing is ever dropped (its acknowledgement or slot waits with it). When the database is down,
    // nothing commits, so nothing is parked.
    private readonly Queue<EngineEvent> _retry = new();
    private readonly Dictionary<EngineEvent, (int Failures, long CommitsSeen)> _failing = new(ReferenceEqualityComparer.Instance);
    private readonly List<(EngineEvent Event, long RetryAt)> _parked = [];
    private long _commits;

    /// <summary>A request waiting for its answer gets the error rather than waiting a minute for its next try.</summary>
    private static bool Answer(EngineEvent e, Exception error) => e switch
    {
        CancelRequested c => c.Result.TrySetException(error),
        ReplaceRequested r => r.Result.TrySetException(error),
        JobChangeRequested j => j.Result.TrySetException(error),
        HeldDecided h => h.Result.TrySetException(error),
        _ => false,
    };
    private long _nextSweep;
    private bool _committed;

    public void Post(EngineEvent e) => _events.Writer.TryWrite(e);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<EngineEvent>(MaxBatch);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var nextOrphan = _orphans.Count > 0 ? _orphans.Min(o => o.NextTry) - time.GetUtcNow().ToUnixTimeMilliseconds() : 1000;
                wait.CancelAfter(TimeSpan.FromMilliseconds(Math.Clamp(nextOrphan, 10, 1000)));
                try
                {
                    if (_retry.Count == 0) await _events.Reader.WaitToReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
                batch.Clear();
                var tick = Environment.TickCount64;
                for (var i = _parked.Count - 1; i >= 0; i--)
                {
                    if (_parked[i].RetryAt > tick) continue;
                    _retry.Enqueue(_parked[i].Event);
                    _parked.RemoveAt(i);
                }
                if (_retry.TryDequeue(out var again)) batch.Add(again);
                else
                {
                    while (batch.Count < MaxBatch && _events.Reader.TryRead(out var e)) batch.Add(e);
                }
                _committed = false;
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                await WriteAsync(batch, stoppingToken);
                _commits++;
                if (batch.Count == 1) _failing.Remove(batch[0]);
                if (batch.Count > 0)
                {
                    EngineMetrics.StatusBatch.Observe(batch.Count);
                    EngineMetrics.StatusCommit.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (_committed)
            {
                // After the commit (a callback or observer failed): the batch is on disk and must not be written again.
                logger.LogError(e, "After writing {Count} engine events", batch.Count);
            }
            catch (Exception e)
            {
                // Nothing in the batch was committed: it is written again, one event at a time.
                if (batch.Count > 1)
                {
                    logger.LogError(e, "Writing {Count} engine events failed; writing them one by one", batch.Count);
                    foreach (var ev in batch) _retry.Enqueue(ev);
                    await Task.Delay(100, stoppingToken);
                    continue;
                }
                if (batch.Count == 0)
                {
                    logger.LogError(e, "The status writer's sweep failed; retrying");
                    await Task.Delay(1000, stoppingToken);
                    continue;
                }
                var one = batch[0];
                var (failures, seen) = _failing.GetValueOrDefault(one);
                // Others committed since this one last failed: the fault is this event's, not the database's.
                var alone = failures > 0 && _commits > seen;
                _failing[one] = (alone || failures == 0 ? failures + 1 : failures, _commits);
                if (_failing[one].Failures >= 3)
                {
                    logger.LogError(e, "A {Event} failed three times while others were written; it is set aside and tried again every minute", one.GetType().Name);
                    _failing.Remove(one);
                    if (!Answer(one, e)) _parked.Add((one, Environment.TickCount64 + 60_000));
                    continue;
                }
                logger.LogError(e, "Writing a {Event} failed; retrying", one.GetType().Name);
                _retry.Enqueue(one);
                await Task.Delay(Math.Min(1000, 100 * (failures + 1)), stoppingToken);
            }
        }
    }

    private async Task WriteAsync(List<EngineEvent> batch, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var sweep = now >= _nextSweep;
        // A waiting receipt can only find its part once parts are recorded: it is looked for again with every batch
        // that records some, and otherwise on its back-off.
        var partsArrive = batch.Any(e => e is PartsSubmitted or PartsAccepted);
        var due = _orphans.Where(o => partsArrive || o.NextTry <= now).ToList();
        if (batch.Count == 0 && due.Count == 0 && !sweep) return;
        using var turn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var ops = IStatusOps.For(database, c, tx);
        var ends = new List<EndRequest>();

        // 1. Submit results first, so receipts in the same batch find their parts.
        Batches.Execute(c, tx, "INSERT INTO message_parts (connector, smsc_id, message_id, part, parts, state) VALUES ($1, $2, $3, $4, $5, 'submitted') " + IStatusOps.PartConflict,
            batch.OfType<PartsAccepted>().SelectMany(a => a.Parts.Select(p => (a, p))).ToList(), x => [x.a.Connector, x.p.SmscId, x.a.MessageId, x.p.Part, x.a.Total]);
        var sent = await ops.MarkSubmitted(batch.OfType<PartsSubmitted>().ToList());
        var deferred = batch.OfType<SubmitDeferred>().ToList();
        await ops.Defer(deferred);
        await FollowJobStateAsync(c, tx, deferred, ends, now);
        foreach (var f in batch.OfType<SubmitRefused>()) ends.Add(new EndRequest(f.MessageId, MessageStatus.Queued, MessageStatus.Failed, f.Reason, now));
        var cancels = batch.OfType<CancelRequested>().ToList();
        foreach (var cancel in cancels)
        {
            // Only what no dispatcher holds: a claimed message may be on its way to the SMSC already.
            var status = await c.QuerySingleOrDefaultAsync<string>(
                $"SELECT status FROM messages WHERE id = @MessageId AND enterprise_id = @EnterpriseId AND {JobControl.Unheld} AND {JobControl.NoPartSent}" +
                (database.IsPostgres ? " FOR UPDATE" : ""),
                new { cancel.MessageId, cancel.EnterpriseId, now }, tx);
            if (status is MessageStatus.Queued or MessageStatus.Scheduled or MessageStatus.Held)
                ends.Add(new EndRequest(cancel.MessageId, status, MessageStatus.Failed, "cancelled", now));
        }
        var jobChanges = new List<(JobChangeRequested Request, JobChange Change)>();
        foreach (var change in batch.OfType<JobChangeRequested>()) jobChanges.Add((change, await ChangeJobAsync(c, tx, change, ends, now)));
        var released = 0;
        foreach (var suspension in batch.OfType<SuspensionChanged>().DistinctBy(x => x.EnterpriseId))
            released += await FollowSuspensionAsync(c, tx, suspension.EnterpriseId, now);
        var heldDecisions = new List<(HeldDecided Decision, int Changed)>();
        foreach (var decision in batch.OfType<HeldDecided>()) heldDecisions.Add((decision, await DecideHeldAsync(c, tx, decision, ends, now)));

        // 2. Receipts: mark the part, then end the message when its last part has reported.
        var firstSeen = new Dictionary<ReceiptReceived, long>(ReferenceEqualityComparer.Instance);
        var tries = new Dictionary<ReceiptReceived, int>(ReferenceEqualityComparer.Instance);
        foreach (var r in batch.OfType<ReceiptReceived>()) firstSeen[r] = now;
        foreach (var o in due)
        {
            firstSeen[o.Receipt] = o.FirstSeen;
            tries[o.Receipt] = o.Tries;
        }
        var receipts = firstSeen.Keys.ToList();
        var matched = await ops.MarkParts(receipts);
        var matchedSet = new HashSet<ReceiptReceived>(matched.Select(m => m.Receipt), ReferenceEqualityComparer.Instance);
        var unmatched = receipts.Where(r => !matchedSet.Contains(r)).ToList();
        var known = await ops.Known(unmatched);
        // A receipt for a known part was a repeat (ignored: exactly once); one for an unknown part may have come
        // before its submit_sm_resp was recorded, and waits a while for it.
        var orphans = unmatched.Where(r => !known.Contains((r.Connector, r.SmscId)) && now - firstSeen[r] < OrphanPatience.TotalMilliseconds)
            .Select(r =>
            {
                var n = tries.GetValueOrDefault(r);
                return new Orphan(r, firstSeen[r], now + Math.Min(30_000, 200L << Math.Min(n, 8)), n + 1);
            }).ToList();
        var tallies = await ops.Tally(matched.Where(m => m.Parts > 1).Select(m => m.MessageId).ToHashSet());
        foreach (var m in matched)
        {
            string? failure = m.Receipt.Stat == DeliveryReceipt.Delivered ? null : m.Receipt.Stat;
            if (m.Parts > 1)
            {
                var (pending, firstFailure) = tallies[m.MessageId];
                failure = firstFailure;
                // A failed part ends the message at once; otherwise it waits for every part.
                if (failure is null && pending > 0) continue;
            }
            var (status, error) = Outcome(failure);
            ends.Add(new EndRequest(m.MessageId, MessageStatus.Submitted, status, error, m.Receipt.At));
        }

        // 3. Expiry: what neither went out nor came back within the validity period ends, refunded.
        if (sweep)
        {
            var limit = now - options.ValidityHours * 3_600_000L;
            var stale = (await c.QueryAsync<(long Id, string Status)>(
                "SELECT id, status FROM messages WHERE (status = 'submitted' AND submitted_at < @limit) " +
                "OR (status = 'queued' AND COALESCE(send_at, created_at) < @limit AND (lease_until IS NULL OR lease_until < @now)) LIMIT 2000",
                new { limit, now }, tx)).ToList();
            // Messages whose sender asked for a shorter validity (an ESME's validity_period).
            stale.AddRange(await c.QueryAsync<(long Id, string Status)>(
                "SELECT id, status FROM messages WHERE expires_at IS NOT NULL AND expires_at < @now " +
                "AND (status = 'submitted' OR (status IN ('queued', 'scheduled') AND (lease_until IS NULL OR lease_until < @now))) LIMIT 2000",
                new { now }, tx));
            // Held for a review that did not come within the validity: the message is stale, and its money goes back.
            stale.AddRange(await c.QueryAsync<(long Id, string Status)>(
                "SELECT id, status FROM messages WHERE status = 'held' AND created_at < @limit LIMIT 2000", new { limit }, tx));
            stale = stale.DistinctBy(s => s.Id).ToList();
            foreach (var (id, status) in stale) ends.Add(new EndRequest(id, status, MessageStatus.Expired, "validity_period_elapsed", now));
        }
        var ended = await ops.End(ends);
        Batches.Execute(c, tx, IStatusOps.CloseParts, ended, e => [e.MessageId]);
        await CountAsync(c, tx, sent, ended, ct);
        foreach (var o in observers) await o.OnEndedAsync(c, tx, ended);

        // 4. Replies.
        var events = new List<(long EnterpriseId, object Payload)>();
        foreach (var mo in batch.OfType<MoReceived>())
        {
            if (await inbound.StoreAsync(c, tx, mo) is not { } stored) continue;
            events.Add((stored.Message.EnterpriseId, stored.Payload));
            foreach (var o in observers) await o.OnInboundAsync(c, tx, stored.Message);
        }

        // 5. Settle what ended (Billing), and tell each enterprise.
        var settlements = new Dictionary<long, Settlement>();
        foreach (var e in ended)
        {
            var s = settlements.GetValueOrDefault(e.EnterpriseId, new Settlement(e.EnterpriseId, 0, 0, 0, 0));
            settlements[e.EnterpriseId] = e.Status == MessageStatus.Delivered
                ? s with { Charge = s.Charge + e.Price, Charged = s.Charged + 1 }
                : s with { Refund = s.Refund + e.Price, Refunded = s.Refunded + 1 };
            events.Add((e.EnterpriseId, new
            {
                type = "message.status",
                messageId = e.MessageId.ToString(),
                jobId = e.JobId.ToString(),
                to = e.Recipient,
                status = e.Status,
                error = e.Error,
                price = e.Status == MessageStatus.Delivered ? e.Price : 0,
                clientRef = e.ClientRef,
                at = DateTimeOffset.FromUnixTimeMilliseconds(e.At),
            }));
        }
        // Every enterprise row this transaction moves money on is locked here, in id order, before any is changed: the
        // store locks them in id order too, so the two never wait on each other in a circle.
        var replaces = batch.OfType<ReplaceRequested>().ToList();
        await billing.LockAsync(c, tx, settlements.Keys.Concat(replaces.Select(r => r.EnterpriseId)), ct);
        var replaced = new List<(ReplaceRequested Request, bool Done)>();
        foreach (var r in replaces) replaced.Add((r, await ReplaceAsync(c, tx, r, now, database.IsPostgres)));
        await billing.SettleAsync(c, tx, settlements.Values.ToList(), now, ct);

        // 6. Webhook outbox, for enterprises that set a webhook.
        var queued = 0;
        if (events.Count > 0)
        {
            var subscribers = (await c.QueryAsync<long>("SELECT enterprise_id FROM webhooks", transaction: tx)).ToHashSet();
            queued = Batches.Execute(c, tx, "INSERT INTO webhook_deliveries (enterprise_id, payload, attempts, next_attempt_at, done) VALUES ($1, $2, 0, $3, $4)",
                events.Where(e => subscribers.Contains(e.EnterpriseId)).ToList(),
                e => [e.EnterpriseId, JsonSerializer.Serialize(e.Payload, JsonSerializerOptions.Web), now, false]);
        }
        await tx.CommitAsync(ct);
        _committed = true;
        var submittedCount = sent.Values.Sum();
        if (submittedCount > 0) EngineMetrics.Submitted.Inc(submittedCount);
        foreach (var r in batch.OfType<ReceiptReceived>()) EngineMetrics.Receipts.WithLabels(EngineMetrics.KnownStat(r.Stat)).Inc();
        foreach (var e in ended) EngineMetrics.Ended.WithLabels(e.Status).Inc();
        // A receipt still waiting for its part is acknowledged to the SMSC only once it is settled or given up.
        var waiting = new HashSet<ReceiptReceived>(orphans.Select(o => o.Receipt), ReferenceEqualityComparer.Instance);
        foreach (var o in due)
        {
            if (!waiting.Contains(o.Receipt)) o.Receipt.Committed?.Invoke();
        }
        _orphans = _orphans.Where(o => !partsArrive && o.NextTry > now).Concat(orphans).ToList();
        if (sweep) _nextSweep = now + 30_000;
        foreach (var e in batch)
        {
            if (e is ReceiptReceived r && waiting.Contains(r)) continue;
            e.Committed?.Invoke();
        }
        var endedIds = ended.Select(e => e.MessageId).ToHashSet();
        foreach (var cancel in cancels) cancel.Result.TrySetResult(endedIds.Contains(cancel.MessageId));
        foreach (var (request, change) in jobChanges) request.Result.TrySetResult(change);
        foreach (var (decision, changed) in heldDecisions) decision.Result.TrySetResult(changed);
        if (heldDecisions.Any(h => h.Decision.Approved && h.Changed > 0) || released > 0) dispatch.Set();
        if (jobChanges.Any(j => j.Request.Action == JobAction.Resume && j.Change == JobChange.Done)) dispatch.Set();
        foreach (var (request, done) in replaced) request.Result.TrySetResult(done);
        foreach (var o in observers) o.AfterCommit();
        if (queued > 0) webhooks.Set();
    }

    private sealed class JobRow
    {
        public string? State { get; set; }
        public int Accepted { get; set; }
        public int Ended { get; set; }
    }

    /// <summary>
    /// While its enterprise is suspended a waiting message is held (lease owner <see cref="JobControl.SuspendedOwner"/>);
    /// when the suspension is lifted, it is released. What a lane already took goes on. Done here, in the writer's
    /// transaction, so it never races a job's pause, resume or cancel. Answers how many were released.
    /// </summary>
    private static async Task<int> FollowSuspensionAsync(DbConnection c, DbTransaction tx, long enterpriseId, long now)
    {
        var args = new { enterpriseId, now, JobControl.Never, JobControl.SuspendedOwner, yes = true };
        await c.ExecuteAsync(
            "UPDATE messages SET lease_until = @Never, lease_owner = @SuspendedOwner WHERE enterprise_id = @enterpriseId AND status IN ('queued', 'scheduled') " +
            "AND (lease_owner IS NULL OR lease_until < @now) AND EXISTS (SELECT 1 FROM enterprises WHERE id = @enterpriseId AND suspended = @yes)", args, tx);
        return await c.ExecuteAsync(
            "UPDATE messages SET lease_until = NULL, lease_owner = NULL WHERE enterprise_id = @enterpriseId AND lease_owner = @SuspendedOwner " +
            "AND NOT EXISTS (SELECT 1 FROM enterprises WHERE id = @enterpriseId AND suspended = @yes)", args, tx);
    }

    /// <summary>
    /// Carries out the operator's decision on a held job. Approved, its messages go as the job and the enterprise are
    /// now: a cancelled job ends them cancelled, a paused one parks them, a suspended enterprise holds them.
    /// </summary>
    private async Task<int> DecideHeldAsync(DbConnection c, DbTransaction tx, HeldDecided decision, List<EndRequest> ends, long now)
    {
        if (!await decision.Claim(c, tx)) return -1;
        var held = (await c.QueryAsync<long>("SELECT id FROM messages WHERE job_id = @JobId AND enterprise_id = @EnterpriseId AND status = 'held'" +
            (database.IsPostgres ? " FOR UPDATE" : ""), new { decision.JobId, decision.EnterpriseId }, tx)).ToList();
        if (held.Count == 0) return 0;
        if (!decision.Approved)
        {
            foreach (var id in held) ends.Add(new EndRequest(id, MessageStatus.Held, MessageStatus.Failed, decision.Reason ?? "content_rejected", now));
            return held.Count;
        }
        var state = await c.QuerySingleOrDefaultAsync<string?>("SELECT state FROM jobs WHERE id = @JobId", new { decision.JobId }, tx);
        if (state == JobControl.Cancelled)
        {
            foreach (var id in held) ends.Add(new EndRequest(id, MessageStatus.Held, MessageStatus.Failed, "cancelled", now));
            return held.Count;
        }
        var suspended = await c.ExecuteScalarAsync<bool>("SELECT suspended FROM enterprises WHERE id = @EnterpriseId", new { decision.EnterpriseId }, tx);
        (long? until, int? owner) = state == JobControl.Paused ? (JobControl.Never, JobControl.ParkedOwner)
            : suspended ? (JobControl.Never, JobControl.SuspendedOwner) : ((long?)null, (int?)null);
        return await c.ExecuteAsync(
            "UPDATE messages SET status = CASE WHEN send_at IS NOT NULL AND send_at > @now THEN 'scheduled' ELSE 'queued' END, lease_until = @until, lease_owner = @owner " +
            "WHERE job_id = @JobId AND enterprise_id = @EnterpriseId AND status = 'held'", new { decision.JobId, decision.EnterpriseId, now, until, owner }, tx);
    }

    private async Task<JobChange> ChangeJobAsync(DbConnection c, DbTransaction tx, JobChangeRequested change, List<EndRequest> ends, long now)
    {
        var job = await c.QuerySingleOrDefaultAsync<JobRow>(
            $"SELECT state AS State, accepted AS Accepted, {JobCounters.EndedAll} AS Ended FROM jobs WHERE id = @JobId AND enterprise_id = @EnterpriseId" +
            (database.IsPostgres ? " FOR UPDATE" : ""), new { change.JobId, change.EnterpriseId }, tx);
        if (job is null) return JobChange.NotFound;
        var args = new { change.JobId, now, JobControl.Never, JobControl.ParkedOwner };
        switch (change.Action)
        {
            case JobAction.Pause:
                if (job.State == JobControl.Paused) return JobChange.Done;
                if (job.State == JobControl.Cancelled || job.Ended >= job.Accepted) return JobChange.Conflict;
                await c.ExecuteAsync(
                    $"UPDATE messages SET lease_until = @Never, lease_owner = @ParkedOwner WHERE job_id = @JobId AND status IN ('queued', 'scheduled') AND {JobControl.Unheld}",
                    args, tx);
                await c.ExecuteAsync("UPDATE jobs SET state = 'paused' WHERE id = @JobId", args, tx);
                return JobChange.Done;
            case JobAction.Resume:
                if (job.State == JobControl.Cancelled) return JobChange.Conflict;
                if (job.State is null) return JobChange.Done;
                // Resumed while the operator has suspended the enterprise: its messages wait for the suspension to end instead.
                var suspended = await c.ExecuteScalarAsync<bool>("SELECT suspended FROM enterprises WHERE id = @EnterpriseId", new { change.EnterpriseId }, tx);
                await c.ExecuteAsync(suspended
                    ? "UPDATE messages SET lease_owner = @SuspendedOwner WHERE job_id = @JobId AND lease_owner = @ParkedOwner"
                    : "UPDATE messages SET lease_until = NULL, lease_owner = NULL WHERE job_id = @JobId AND lease_owner = @ParkedOwner",
                    new { change.JobId, JobControl.ParkedOwner, JobControl.SuspendedOwner }, tx);
                await c.ExecuteAsync("UPDATE jobs SET state = NULL WHERE id = @JobId", args, tx);
                return JobChange.Done;
            default:
                if (job.State == JobControl.Cancelled) return JobChange.Done;
                await c.ExecuteAsync("UPDATE jobs SET state = 'cancelled' WHERE id = @JobId", args, tx);
                // FOR UPDATE on PostgreSQL: a lane claiming now skips these rows (SKIP LOCKED), so none is both cancelled and sent.
                var unsent = await c.QueryAsync<(long Id, string Status)>(
                    $"SELECT id, status FROM messages WHERE job_id = @JobId AND status IN ('queued', 'scheduled', 'held') AND {JobControl.Unheld} AND {JobControl.NoPartSent}" +
                    (database.IsPostgres ? " FOR UPDATE" : ""), args, tx);
                foreach (var (id, status) in unsent) ends.Add(new EndRequest(id, status, MessageStatus.Failed, "cancelled", now));
                return JobChange.Done;
        }
    }

    /// <summary>
    /// A message that was on its way when its job was paused or cancelled, and came back deferred (throttled, timed out):
    /// it is parked with its paused job, or ends cancelled with its cancelled one (unless part of it is at the SMSC).
    /// </summary>
    private async Task FollowJobStateAsync(DbConnection c, DbTransaction tx, List<SubmitDeferred> deferred, List<EndRequest> ends, long now)
    {
        if (deferred.Count == 0) return;
        var ids = deferred.Select(d => d.MessageId).Distinct().ToArray();
        var stopped = (await c.QueryAsync<(long Id, string State, long Parts)>(
            "SELECT m.id, j.state, (SELECT COUNT(*) FROM message_parts p WHERE p.message_id = m.id) FROM messages m JOIN jobs j ON j.id = m.job_id " +
            $"WHERE m.id {Database.InList(c, "ids")} AND m.status = 'queued' AND j.state IS NOT NULL", new { ids }, tx)).ToList();
        var parked = stopped.Where(m => m.State == JobControl.Paused).Select(m => m.Id).ToArray();
        if (parked.Length > 0)
        {
            await c.ExecuteAsync($"UPDATE messages SET lease_until = @Never, lease_owner = @ParkedOwner WHERE id {Database.InList(c, "ids")}",
                new { ids = parked, JobControl.Never, JobControl.ParkedOwner }, tx);
        }
        foreach (var m in stopped.Where(m => m.State == JobControl.Cancelled && m.Parts == 0))
            ends.Add(new EndRequest(m.Id, MessageStatus.Queued, MessageStatus.Failed, "cancelled", now));
        // Its enterprise suspended meanwhile: held until the operator lifts the suspension.
        await c.ExecuteAsync(
            $"UPDATE messages SET lease_until = @Never, lease_owner = @SuspendedOwner WHERE id {Database.InList(c, "ids")} AND status = 'queued' AND (lease_owner IS NULL OR lease_owner <> @ParkedOwner) " +
            "AND enterprise_id IN (SELECT id FROM enterprises WHERE suspended = @yes)", new { ids, JobControl.Never, JobControl.SuspendedOwner, JobControl.ParkedOwner, yes = true }, tx);
    }

    private sealed class Replaceable
    {
        public string Status { get; set; } = "";
        public long Price { get; set; }
    }

    /// <summary>Replaces a queued or scheduled message no dispatcher holds, moving the reservation by the price difference.</summary>
    private async Task<bool> ReplaceAsync(DbConnection c, DbTransaction tx, ReplaceRequested r, long now, bool postgres)
    {
        // FOR UPDATE on PostgreSQL: a dispatcher claiming it now skips the row (SKIP LOCKED); SQLite's writer lock does the same.
        var current = await c.QuerySingleOrDefaultAsync<Replaceable>(
            $"SELECT status AS Status, price AS Price FROM messages WHERE id = @MessageId AND enterprise_id = @EnterpriseId AND {JobControl.Unheld}" +
            (postgres ? " FOR UPDATE" : ""),
            new { r.MessageId, r.EnterpriseId, now }, tx);
        if (current is null || current.Status is not (MessageStatus.Queued or MessageStatus.Scheduled)) return false;
        // Parts of it already with the SMSC (a partial submit) cannot be replaced.
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM message_parts WHERE message_id = @MessageId", new { r.MessageId }, tx) > 0) return false;
        if (!await billing.AdjustAsync(c, tx, r.EnterpriseId, r.Price - current.Price, "replace:" + r.MessageId, now)) return false;
        var status = r.SendAt is { } at ? (at > now ? MessageStatus.Scheduled : MessageStatus.Queued) : current.Status;
        await c.ExecuteAsync(
            "UPDATE messages SET text = @Text, encoding = @Encoding, segments = @Segments, price = @Price, status = @status, send_at = COALESCE(@SendAt, send_at) WHERE id = @MessageId",
            new { r.Text, r.Encoding, r.Segments, r.Price, status, r.SendAt, r.MessageId }, tx);
        return true;
    }

    private record struct JobCounts(int Sent, int Delivered, int Failed, int Expired, int Unsent);

    /// <summary>Keeps each large job's counters in step with its messages, in the same transaction: one statement per batch on PostgreSQL (<see cref="JobCounters"/>).</summary>
    private async Task CountAsync(DbConnection c, DbTransaction tx, Dictionary<long, int> sent, List<Ended> ended, CancellationToken ct)
    {
        var jobs = new Dictionary<long, JobCounts>();
        foreach (var (job, n) in sent) jobs[job] = new JobCounts(n, 0, 0, 0, 0);
        foreach (var e in ended)
        {
            if (!e.JobCounted) continue;
            var j = jobs.GetValueOrDefault(e.JobId);
            jobs[e.JobId] = j with
            {
                Delivered = j.Delivered + (e.Status == MessageStatus.Delivered ? 1 : 0),
                Failed = j.Failed + (e.Status == MessageStatus.Failed ? 1 : 0),
                Expired = j.Expired + (e.Status == MessageStatus.Expired ? 1 : 0),
                Unsent = j.Unsent + (e.From != MessageStatus.Submitted ? 1 : 0),
            };
        }
        if (jobs.Count == 0) return;
        // In id order, so two nodes counting the same jobs cannot deadlock.
        var rows = jobs.OrderBy(j => j.Key).ToList();
        if (c is Npgsql.NpgsqlConnection pg)
        {
            await using var cmd = new Npgsql.NpgsqlCommand(
                "UPDATE jobs j SET sent = j.sent + t.s, delivered = j.delivered + t.d, failed = j.failed + t.f, expired = j.expired + t.x, ended_unsent = j.ended_unsent + t.u " +
                "FROM unnest(@id, @s, @d, @f, @x, @u) AS t(id, s, d, f, x, u) WHERE j.id = t.id", pg, (Npgsql.NpgsqlTransaction)tx);
            cmd.Parameters.AddWithValue("id", rows.Select(r => r.Key).ToArray());
            cmd.Parameters.AddWithValue("s", rows.Select(r => r.Value.Sent).ToArray());
            cmd.Parameters.AddWithValue("d", rows.Select(r => r.Value.Delivered).ToArray());
            cmd.Parameters.AddWithValue("f", rows.Select(r => r.Value.Failed).ToArray());
            cmd.Parameters.AddWithValue("x", rows.Select(r => r.Value.Expired).ToArray());
            cmd.Parameters.AddWithValue("u", rows.Select(r => r.Value.Unsent).ToArray());
            await cmd.ExecuteNonQueryAsync(ct);
            return;
        }
        using var update = Prepared.For(c, tx,
            "UPDATE jobs SET sent = sent + @s, delivered = delivered + @d, failed = failed + @f, expired = expired + @x, ended_unsent = ended_unsent + @u WHERE id = @id",
            "s", "d", "f", "x", "u", "id");
        foreach (var (job, n) in rows) update.Execute(n.Sent, n.Delivered, n.Failed, n.Expired, n.Unsent, job);
    }

    /// <summary>The message status and reason for a receipt's stat (null = delivered).</summary>
    public static (string Status, string? Error) Outcome(string? stat) => stat switch
    {
        null => (MessageStatus.Delivered, null),
        "EXPIRED" => (MessageStatus.Expired, "expired_at_smsc"),
        "UNDELIV" => (MessageStatus.Failed, "undeliverable"),
        "REJECTD" => (MessageStatus.Failed, "rejected_by_operator"),
        "DELETED" => (MessageStatus.Failed, "deleted_by_operator"),
        _ => (MessageStatus.Failed, "unknown"),
    };
}
