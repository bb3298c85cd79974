using Dapper;
using System.Collections.Concurrent;
using Xinge.Server.Data;
using Xinge.Server.Features.Connectors;
using Xinge.Text;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// The lanes (ARCHITECTURE.md): every connector has its own queue, in priority order (OTP, notification, marketing),
/// and its own in-flight budget, so a slow or throttled connector never holds another's capacity and an OTP never
/// waits behind a bulk job for longer than its lane's budget takes to send. A message's lane is chosen when it is
/// stored; each lane claims its messages in batches with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so nodes share
/// a lane and a dead node's claims expire) and submits their parts. The results go to the <see cref="StatusWriter"/>.
/// </summary>
public sealed class Dispatcher(Database database, ConnectorRegistry connectors, StatusWriter writer, WakeSignalFor<Dispatcher> signal, LaneInbox inbox,
    MessagingOptions options, IdGenerator ids, TimeProvider time, ILogger<Dispatcher> logger) : BackgroundService
{
    /// <summary>How long a claim (or a handed message's lease) keeps other nodes off a message.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private readonly Dictionary<string, Lane> _lanes = [];
    private long _nextPromotion;
    private long _nextReroute;
    // Read by the metrics' callbacks on another thread: replaced whole, never changed in place.
    private volatile Lane[] _laneSnapshot = [];

    /// <summary>Messages the connector's lane has claimed and not yet settled.</summary>
    public int InFlightOf(string connector) => _laneSnapshot.FirstOrDefault(l => l.Connector.Name == connector)?.InFlight ?? 0;

    private static readonly string[] LaneNames = [Category.Otp, Category.Notification, Category.Marketing];

    /// <summary>The lanes in /metrics: messages waiting per connector and category, and messages in flight per connector.</summary>
    private void Measure()
    {
        EngineMetrics.LaneQueued = QueuedAsync;
        EngineMetrics.LaneInFlight = () => _laneSnapshot.Select(l => (l.Connector.Name, l.InFlight));
    }

    /// <summary>Messages waiting per connector and category, counted when /metrics is scraped.</summary>
    private async Task<IEnumerable<(string Connector, string Lane, long Queued)>> QueuedAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Connector, int Priority, long Count)>(
            "SELECT COALESCE(connector, ''), priority, COUNT(*) FROM messages WHERE status = 'queued' GROUP BY connector, priority");
        return rows.Select(d => (d.Connector, d.Priority is >= 0 and < 3 ? LaneNames[d.Priority] : "other", d.Count)).ToList();
    }

    /// <summary>
    /// How many messages a lane keeps in flight. A message holds its slot until its submit result is committed, so this
    /// also bounds what a crash may send twice. A connector limited to a rate gets about a quarter second of sending,
    /// so an OTP queued behind a full budget still goes within that.
    /// </summary>
    public static int Budget(SmppConnector c) => c.Options.MaxTps > 0 ? Math.Clamp(c.Options.MaxTps / 4, 10, Math.Max(10, c.Window * 2)) : Math.Max(100, c.Window * 2);

    /// <summary>At most this many messages wait handed in one lane's memory.</summary>
    public const int MaxHandOff = 20_000;

    /// <summary>
    /// How many stored messages a lane takes in memory (<see cref="LaneInbox"/>) rather than claiming them back from the
    /// table: what it can send in a minute, well inside the lease they were stored under (a connector limited to a rate),
    /// or <see cref="MaxHandOff"/>. A 20,000-message job then goes to its lane whole, with no claim statement at all.
    /// What a lane could not send in time is not lost: its lease lapses and the table gives it to a lane again.
    /// </summary>
    public static int HandOff(SmppConnector c, int budget) => c.Options.MaxTps > 0 ? Math.Clamp(c.Options.MaxTps * 60, budget, MaxHandOff) : MaxHandOff;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await ReleaseOwnClaimsAsync(stoppingToken);
        Measure();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await PromoteScheduledAsync(stoppingToken);
                    await FollowConnectorsAsync(stoppingToken);
                    foreach (var lane in _lanes.Values)
                    {
                        lane.ClaimWanted = true;
                        lane.Wake.Set();
                    }
                    await signal.WaitAsync(TimeSpan.FromMilliseconds(250), stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    logger.LogError(e, "Dispatch failed; retrying");
                    await Task.Delay(1000, stoppingToken);
                }
            }
        }
        finally
        {
            foreach (var lane in _lanes.Values) lane.Stop.Cancel();
        }
    }

    /// <summary>
    /// A lane per connector this node has. A connector that went away takes its lane with it; its waiting messages are
    /// routed again, as are messages stored while no connector served their number.
    /// </summary>
    private async Task FollowConnectorsAsync(CancellationToken ct)
    {
        var current = connectors.Connectors;
        var changed = false;
        foreach (var c in current)
        {
            if (_lanes.TryGetValue(c.Name, out var existing) && ReferenceEquals(existing.Connector, c)) continue;
            existing?.Stop.Cancel();
            var lane = new Lane(c, Budget(c));
            _lanes[c.Name] = lane;
            lane.Task = Task.Run(() => RunLaneAsync(lane, ct), ct);
            changed = true;
        }
        foreach (var gone in _lanes.Keys.Where(name => current.All(c => c.Name != name)).ToList())
        {
            _lanes[gone].Stop.Cancel();
            _lanes.Remove(gone);
            inbox.Remove(gone);
            using var turn = await database.WriteTurnAsync(ct);
            await using var c = await database.OpenAsync(ct);
            var moved = await c.ExecuteAsync("UPDATE messages SET connector = NULL WHERE status = 'queued' AND connector = @gone", new { gone });
            if (moved > 0) logger.LogInformation("Connector {Connector} is gone: {Count} waiting messages are routed again", gone, moved);
            changed = true;
        }
        if (changed) _laneSnapshot = _lanes.Values.ToArray();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (changed || now >= _nextReroute)
        {
            _nextReroute = now + 30_000;
            await RerouteAsync(ct);
        }
    }

    /// <summary>Waiting messages without a lane get the connector their number routes to now (those with none stay, and expire).</summary>
    private async Task RerouteAsync(CancellationToken ct)
    {
        if (connectors.Connectors.Count == 0) return;
        while (!ct.IsCancellationRequested)
        {
            List<(long Id, string Recipient)> waiting;
            await using (var c = await database.OpenAsync(ct))
            {
                waiting = (await c.QueryAsync<(long, string)>(
                    "SELECT id, recipient FROM messages WHERE status = 'queued' AND connector IS NULL LIMIT 5000")).ToList();
            }
            var routed = waiting.Select(m => (m.Id, Connector: connectors.Route(m.Recipient)?.Name)).Where(m => m.Connector is not null).ToList();
            if (routed.Count == 0) return;
            using (var turn = await database.WriteTurnAsync(ct))
            await using (var c = await database.OpenAsync(ct))
            await using (var tx = await c.BeginTransactionAsync(ct))
            {
                Batches.Execute(c, tx, "UPDATE messages SET connector = $1 WHERE id = $2 AND connector IS NULL", routed, m => [m.Connector, m.Id]);
                await tx.CommitAsync(ct);
            }
            logger.LogInformation("Routed {Count} waiting messages to their connectors", routed.Count);
            if (waiting.Count < 5000) return;
        }
    }

    private sealed class Lane(SmppConnector connector, int budget)
    {
        public SmppConnector Connector { get; } = connector;
        public int Budget { get; } = budget;
        public SemaphoreSlim Room { get; } = new(budget, budget);
        public WakeSignal Wake { get; } = new();
        public CancellationTokenSource Stop { get; } = new();
        public ConcurrentDictionary<long, byte> Claimed { get; } = new();
        /// <summary>The table may hold messages for this lane that were not handed to it: new ones, retries due, a dead node's.</summary>
        public volatile bool ClaimWanted = true;
        public Task? Task { get; set; }
        public int InFlight => Budget - Room.CurrentCount;
    }

    private async Task RunLaneAsync(Lane lane, CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, lane.Stop.Token);
        var ct = linked.Token;
        var name = lane.Connector.Name;
        Action wake = lane.Wake.Set;
        // Claim once a quarter of the budget is free: batches stay large, and an OTP waits at most for that quarter.
        var claimAt = Math.Max(1, lane.Budget / 4);
        void Free()
        {
            lane.Room.Release();
            if (lane.Room.CurrentCount >= claimAt || inbox.Waiting(name) > 0) lane.Wake.Set();
        }
        // Called holding a place in the lane's room.
        void Send(LaneMessage m)
        {
            if (!lane.Claimed.TryAdd(m.Id, 0))
            {
                lane.Room.Release();
                return;
            }
            var id = m.Id;
            _ = SendAsync(lane.Connector, m, () =>
            {
                lane.Claimed.TryRemove(id, out var _);
                Free();
            }, ct);
        }
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    // An unbound connector's lane waits: its messages stay queued for it rather than fail.
                    var bound = lane.Connector.IsBound;
                    if (bound) inbox.Open(name, HandOff(lane.Connector, lane.Budget), lane.Budget, wake);
                    else inbox.Close(name);
                    var sent = 0;
                    // Handed messages first: they were handed only while the lane's queue in the table was empty, so
                    // nothing there is older than they are.
                    while (bound && lane.Room.CurrentCount > 0 && inbox.TryTake(name, out var handed))
                    {
                        await lane.Room.WaitAsync(ct);
                        Send(handed);
                        sent++;
                    }
                    var free = lane.Room.CurrentCount;
                    if (bound && lane.ClaimWanted && free >= claimAt)
                    {
                        lane.ClaimWanted = false;
                        var want = Math.Min(free, 2000);
                        var claimed = await ClaimAsync(name, want, ct);
                        // A full batch: more may be waiting, and new messages wait behind them in the table.
                        lane.ClaimWanted = claimed.Count == want;
                        inbox.Claimed(name, tableEmpty: claimed.Count < want);
                        foreach (var m in claimed)
                        {
                            await lane.Room.WaitAsync(ct);
                            Send(m);
                            sent++;
                        }
                    }
                    if (sent == 0 || lane.Room.CurrentCount == 0) await lane.Wake.WaitAsync(TimeSpan.FromMilliseconds(250), ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    logger.LogError(e, "Lane {Connector} failed; retrying", name);
                    await Task.Delay(1000, ct).ContinueWith(_ => { }, CancellationToken.None);
                }
            }
        }
        finally
        {
            inbox.Close(name);
        }
    }

    /// <summary>
    /// Claims this node held before it stopped (crash or restart) are taken back at once instead of waiting for the
    /// lease to expire: every node has its own Xinge:NodeId, so these cannot be another live node's.
    /// </summary>
    private async Task ReleaseOwnClaimsAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var released = await c.ExecuteAsync("UPDATE messages SET lease_until = NULL, lease_owner = NULL WHERE status = 'queued' AND lease_owner = @node", new { node = ids.Node });
        if (released > 0) logger.LogInformation("Took back {Count} messages this node had claimed before it restarted", released);
    }

    private async Task PromoteScheduledAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now < _nextPromotion) return;
        _nextPromotion = now + 1000;
        using var turn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync("UPDATE messages SET status = 'queued' WHERE status = 'scheduled' AND send_at <= @now", new { now });
    }

    private async Task<List<LaneMessage>> ClaimAsync(string connector, int n, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var lease = now + (long)Lease.TotalMilliseconds;
        var pick = "SELECT id FROM messages WHERE status = 'queued' AND connector = @connector AND (lease_until IS NULL OR lease_until < @now) ORDER BY priority, id LIMIT @n"
            + (database.IsPostgres ? " FOR UPDATE SKIP LOCKED" : "");
        using var turn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        using var claim = Prepared.For(c, tx,
            $"UPDATE messages SET lease_until = @lease, lease_owner = @node WHERE id IN ({pick}) RETURNING id, priority, recipient, sender, text, encoding, attempts, error, expires_at",
            "lease", "node", "connector", "now", "n");
        var list = new List<LaneMessage>();
        using (var r = claim.Reader(lease, ids.Node, connector, now, n))
        {
            while (r.Read())
            {
                list.Add(new LaneMessage(r.GetInt64(0), r.GetInt32(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt32(5), r.GetInt32(6), !r.IsDBNull(7),
                    r.IsDBNull(8) ? null : r.GetInt64(8)));
            }
        }
        await tx.CommitAsync(ct);
        if (list.Count > 0) EngineMetrics.Claim.Observe(list.Count);
        // RETURNING gives no order: the lane's order (OTP first, then oldest) is restored for submission.
        list.Sort((a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : a.Id.CompareTo(b.Id));
        return list;
    }

    private TimeSpan Backoff(int attempts) => TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, Math.Min(attempts, 9))));

    private async Task SendAsync(SmppConnector connector, LaneMessage m, Action committed, CancellationToken ct)
    {
        try
        {
            // A retried message may have parts the SMSC already took: only the others go again.
            var accepted = m.Retried ? await AcceptedPartsAsync(m.Id, connector.Name, ct) : [];
            var outcome = await connector.SendAsync(new OutboundSms(m.Id, m.Recipient, m.Sender, m.Text, (SmsEncoding)m.Encoding, m.ExpiresAt), accepted, ct);
            if (outcome.Error is null)
            {
                writer.Post(new PartsSubmitted(m.Id, connector.Name, outcome.SmscIds.Select(id => id!).ToList(), time.GetUtcNow().ToUnixTimeMilliseconds()) { Committed = committed });
                return;
            }
            var taken = outcome.SmscIds.Select((id, i) => (Part: i + 1, SmscId: id)).Where(p => p.SmscId is not null && !accepted.ContainsKey(p.Part))
                .Select(p => (p.Part, p.SmscId!)).ToList();
            if (taken.Count > 0) writer.Post(new PartsAccepted(m.Id, connector.Name, taken, outcome.SmscIds.Count));
            throw outcome.Error;
        }
        catch (SubmitFailedException e) when (e.RetryAfter is { } after)
        {
            writer.Post(new SubmitDeferred(m.Id, (time.GetUtcNow() + after).ToUnixTimeMilliseconds(), e.Reason, CountsAsAttempt: false) { Committed = committed });
        }
        catch (SubmitFailedException e) when (e.Temporary)
        {
            Defer(m, e.Reason, committed);
        }
        catch (SubmitFailedException e)
        {
            writer.Post(new SubmitRefused(m.Id, e.Reason) { Committed = committed });
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the claim is taken back when this node starts again.
            committed();
        }
        catch (Exception e)
        {
            logger.LogError(e, "Submitting message {MessageId} failed", m.Id);
            Defer(m, "internal_error", committed);
        }
    }

    private async Task<Dictionary<int, string>> AcceptedPartsAsync(long messageId, string connector, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var parts = await c.QueryAsync<(long Part, string SmscId)>(
            "SELECT CAST(part AS BIGINT), smsc_id FROM message_parts WHERE message_id = @messageId AND connector = @connector", new { messageId, connector });
        return parts.ToDictionary(p => (int)p.Part, p => p.SmscId);
    }

    private void Defer(LaneMessage m, string reason, Action committed)
    {
        if (m.Attempts + 1 >= options.MaxSubmitAttempts)
        {
            writer.Post(new SubmitRefused(m.Id, reason) { Committed = committed });
            return;
        }
        var retry = time.GetUtcNow() + Backoff(m.Attempts);
        writer.Post(new SubmitDeferred(m.Id, retry.ToUnixTimeMilliseconds(), reason) { Committed = committed });
    }
}
