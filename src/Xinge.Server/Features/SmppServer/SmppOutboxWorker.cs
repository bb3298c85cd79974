using System.Text;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Server.Features.SmppServer;

/// <summary>
/// Hands the SMPP outbox to the enterprises' bound receivers as deliver_sm: receipts (esm_class 0x04, the customary
/// text plus receipted_message_id and message_state) and replies. A row leaves the outbox only when the ESME
/// acknowledged it; what no receiver takes is kept for <c>Xinge:Smpp:OutboxRetentionHours</c> (72 by default).
/// </summary>
public sealed class SmppOutboxWorker(SmppServerHost host, Database database, WakeSignalFor<SmppOutbox> signal, IConfiguration config,
    TimeProvider time, ILogger<SmppOutboxWorker> logger) : BackgroundService
{
    private long _nextPurge;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        host.ReceiverBound += signal.Set;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var delivered = await DeliverAsync(stoppingToken);
                await PurgeAsync(stoppingToken);
                if (delivered == 0) await signal.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "SMPP outbox delivery failed; retrying");
                await Task.Delay(1000, stoppingToken);
            }
        }
    }

    private async Task<int> DeliverAsync(CancellationToken ct)
    {
        var receivers = host.Receivers;
        if (receivers.Count == 0) return 0;
        var sent = 0;
        foreach (var group in receivers.GroupBy(r => r.EnterpriseId))
        {
            var sessions = group.Select(g => g.Session).ToList();
            var systemIds = sessions.Select(s => s.SystemId).Distinct().ToList();
            List<SmppOutboxItem> rows;
            await using (var c = await database.OpenAsync(ct))
            {
                rows = (await c.QueryAsync<SmppOutboxItem>(
                    "SELECT id AS Id, system_id AS SystemId, kind AS Kind, source_addr AS SourceAddr, dest_addr AS DestAddr, text AS Text, " +
                    "receipted_id AS ReceiptedId, message_state AS MessageState FROM smpp_outbox " +
                    $"WHERE enterprise_id = @e AND (system_id IS NULL OR system_id {Database.InList(c, "systemIds")}) ORDER BY id LIMIT 500",
                    new { e = group.Key, systemIds = systemIds.ToArray() })).ToList();
            }
            if (rows.Count == 0) continue;
            var next = 0;
            var acked = await Task.WhenAll(rows.Select(async row =>
            {
                var candidates = row.SystemId is null ? sessions : sessions.Where(s => s.SystemId == row.SystemId).ToList();
                if (candidates.Count == 0) return 0L;
                var session = candidates[Interlocked.Increment(ref next) % candidates.Count];
                try
                {
                    foreach (var pdu in ToPdus(row))
                    {
                        var response = await session.SendRequestAsync(pdu, ct);
                        if (response.Status != CommandStatus.EsmeRok)
                        {
                            // The ESME refused it: offering it again every second would block what comes after it.
                            logger.LogWarning("ESME {SystemId} refused a {Kind} with {Status}; dropped", session.SystemId, row.Kind, response.Status);
                            return row.Id;
                        }
                    }
                    return row.Id;
                }
                catch (Exception e) when (e is IOException or TimeoutException or SmppFormatException)
                {
                    return 0L;
                }
            }));
            var done = acked.Where(id => id != 0).ToList();
            if (done.Count == 0) continue;
            using var turn = await database.WriteTurnAsync(ct);
            await using var w = await database.OpenAsync(ct);
            await using var tx = await w.BeginTransactionAsync(ct);
            Batches.Execute(w, tx, "DELETE FROM smpp_outbox WHERE id = $1", done, id => [id]);
            await tx.CommitAsync(ct);
            sent += done.Count;
        }
        return sent;
    }

    private static IEnumerable<DeliverSm> ToPdus(SmppOutboxItem row)
    {
        if (row.Kind == SmppOutbox.Receipt)
        {
            var receipt = new DeliverSm
            {
                SourceAddrTon = 1,
                SourceAddrNpi = 1,
                SourceAddr = row.SourceAddr,
                DestAddrTon = 0,
                DestAddrNpi = 1,
                DestinationAddr = row.DestAddr,
                EsmClass = EsmClass.DeliveryReceipt,
                ShortMessage = Encoding.ASCII.GetBytes(row.Text),
            };
            receipt.SetTlv(TlvTag.ReceiptedMessageId, Encoding.ASCII.GetBytes(row.ReceiptedId + "\0"));
            receipt.SetTlv(TlvTag.MessageState, [(byte)row.MessageState]);
            yield return receipt;
            yield break;
        }
        var encoding = SmsText.ChooseEncoding(row.Text);
        foreach (var part in SmsText.Encode(row.Text, encoding, (byte)row.Id))
        {
            yield return new DeliverSm
            {
                SourceAddrTon = 1,
                SourceAddrNpi = 1,
                SourceAddr = row.SourceAddr,
                DestAddrTon = 0,
                DestAddrNpi = 1,
                DestinationAddr = row.DestAddr,
                EsmClass = part.HasUdh ? EsmClass.UdhIndicator : (byte)0,
                DataCoding = (byte)encoding,
                ShortMessage = part.ShortMessage,
            };
        }
    }

    private async Task PurgeAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now < _nextPurge) return;
        _nextPurge = now + 60_000;
        var limit = now - config.GetValue("Xinge:Smpp:OutboxRetentionHours", 72) * 3_600_000L;
        await using var c = await database.OpenAsync(ct);
        var purged = await c.ExecuteAsync("DELETE FROM smpp_outbox WHERE created_at < @limit", new { limit });
        if (purged > 0) logger.LogWarning("Dropped {Count} SMPP receipts and replies no receiver took within the retention period", purged);
    }
}
