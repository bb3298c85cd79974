using Dapper;
using System.Collections.Concurrent;
using Xinge.Server.Data;
using Xinge.Server.Features.Connectors;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// Claims queued messages in batches with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so nodes share the queue
/// and a dead node's claims expire), OTP first, and submits their parts through the connector for each number.
/// The results go to the <see cref="StatusWriter"/>.
/// </summary>
public sealed class Dispatcher(Database database, ConnectorRegistry connectors, StatusWriter writer, WakeSignalFor<Dispatcher> signal,
    MessagingOptions options, IdGenerator ids, TimeProvider time, ILogger<Dispatcher> logger) : BackgroundService
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private readonly ConcurrentDictionary<long, byte> _inFlight = new();
    private long _nextPromotion;

    /// <param name="Retried">It was deferred before: some of its parts may already be with the SMSC.</param>
    private sealed record Claimed(long Id, string Recipient, string Sender, string Text, int Encoding, int Attempts, bool Retried);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await ReleaseOwnClaimsAsync(stoppingToken);
        // A message holds its slot until its submit result is committed, so at most this many messages can have been
        // taken by the SMSC without the fact being on disk: the bound on what a crash may send twice.
        var limit = Math.Max(200, connectors.Connectors.Sum(c => c.Window) * 2);
        var room = new SemaphoreSlim(limit, limit);
        void Free()
        {
            room.Release();
            if (room.CurrentCount >= limit / 2) signal.Set();
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PromoteScheduledAsync(stoppingToken);
                var free = room.CurrentCount;
                var claimed = free >= Math.Min(200, limit / 4) ? await ClaimAsync(Math.Min(free, 2000), stoppingToken) : [];
                foreach (var m in claimed)
                {
                    if (!_inFlight.TryAdd(m.Id, 0)) continue;
                    await room.WaitAsync(stoppingToken);
                    var id = m.Id;
                    _ = SendAsync(m, () =>
                    {
                        _inFlight.TryRemove(id, out var _);
                        Free();
                    }, stoppingToken);
                }
                if (claimed.Count == 0 || room.CurrentCount < Math.Min(200, limit / 4)) await signal.WaitAsync(TimeSpan.FromMilliseconds(250), stoppingToken);
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

    private async Task<List<Claimed>> ClaimAsync(int n, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var lease = now + (long)Lease.TotalMilliseconds;
        var pick = "SELECT id FROM messages WHERE status = 'queued' AND (lease_until IS NULL OR lease_until < @now) ORDER BY priority, id LIMIT @n"
            + (database.IsPostgres ? " FOR UPDATE SKIP LOCKED" : "");
        using var turn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        using var claim = new Prepared(c, tx,
            $"UPDATE messages SET lease_until = @lease, lease_owner = @node WHERE id IN ({pick}) RETURNING id, recipient, sender, text, encoding, attempts, error", "lease", "node", "now", "n");
        var list = new List<Claimed>();
        using (var r = claim.Reader(lease, ids.Node, now, n))
        {
            while (r.Read()) list.Add(new Claimed(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), r.GetInt32(5), !r.IsDBNull(6)));
        }
        await tx.CommitAsync(ct);
        if (list.Count > 0) EngineMetrics.Claim.Record(list.Count);
        // RETURNING gives no order; keep the lanes' order for submission.
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    private TimeSpan Backoff(int attempts) => TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, Math.Min(attempts, 9))));

    private async Task SendAsync(Claimed m, Action committed, CancellationToken ct)
    {
        var connector = connectors.Route(m.Recipient);
        if (connector is null)
        {
            Defer(m, "no_route", committed);
            return;
        }
        try
        {
            var encoding = (SmsEncoding)m.Encoding;
            var parts = SmsText.Encode(m.Text, encoding, (byte)(m.Id ^ (m.Id >> 8)));
            // A retried message may have parts the SMSC already took: only the others go again.
            var accepted = parts.Count > 1 && m.Retried ? await AcceptedPartsAsync(m.Id, connector.Name, ct) : [];
            var submits = new Task<string>[parts.Count];
            for (var i = 0; i < parts.Count; i++)
            {
                if (accepted.TryGetValue(i + 1, out var known))
                {
                    submits[i] = Task.FromResult(known);
                    continue;
                }
                var part = parts[i];
                var pdu = new SubmitSm
                {
                    SourceAddrTon = 0,
                    SourceAddrNpi = 1,
                    SourceAddr = m.Sender,
                    DestAddrTon = 1,
                    DestAddrNpi = 1,
                    DestinationAddr = PhoneNumbers.ToSmpp(m.Recipient),
                    EsmClass = part.HasUdh ? EsmClass.UdhIndicator : (byte)0,
                    DataCoding = (byte)encoding,
                    RegisteredDelivery = 1,
                    ShortMessage = part.ShortMessage,
                };
                submits[i] = connector.SubmitAsync(pdu, ct);
            }
            try
            {
                await Task.WhenAll(submits);
            }
            catch (Exception)
            {
                // Looked at part by part below.
            }
            if (submits.All(t => t.IsCompletedSuccessfully))
            {
                var ids = submits.Select(t => connector.NormalizeSubmitId(t.Result)).ToList();
                writer.Post(new PartsSubmitted(m.Id, connector.Name, ids, time.GetUtcNow().ToUnixTimeMilliseconds()) { Committed = committed });
                return;
            }
            var taken = Enumerable.Range(0, parts.Count).Where(i => submits[i].IsCompletedSuccessfully && !accepted.ContainsKey(i + 1))
                .Select(i => (Part: i + 1, SmscId: connector.NormalizeSubmitId(submits[i].Result))).ToList();
            if (taken.Count > 0) writer.Post(new PartsAccepted(m.Id, connector.Name, taken, parts.Count));
            var errors = submits.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).ToList();
            throw errors.OfType<SubmitFailedException>().OrderBy(e => e.Temporary).ThenBy(e => e.RetryAfter is null).FirstOrDefault()
                ?? errors.FirstOrDefault(e => e is OperationCanceledException) ?? errors[0];
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

    private void Defer(Claimed m, string reason, Action committed)
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
