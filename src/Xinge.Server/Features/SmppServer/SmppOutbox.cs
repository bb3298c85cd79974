using System.Data.Common;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;
using Xinge.Smpp;

namespace Xinge.Server.Features.SmppServer;

/// <summary>
/// What the SMPP server owes an enterprise's ESMEs: delivery receipts for their submits and replies (MO), kept until a
/// receiver or transceiver of the enterprise is bound to take them (CONTRACT.md §3).
/// </summary>
public sealed class SmppOutboxItem
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    /// <summary>The account that should get it; null for any of the enterprise's accounts (replies).</summary>
    public string? SystemId { get; set; }
    /// <summary><c>receipt</c> or <c>mo</c>.</summary>
    public string Kind { get; set; } = "";
    public string SourceAddr { get; set; } = "";
    public string DestAddr { get; set; } = "";
    public string Text { get; set; } = "";
    /// <summary>For a receipt: the message id the ESME got in submit_sm_resp, and the SMPP message_state.</summary>
    public string? ReceiptedId { get; set; }
    public int MessageState { get; set; }
    public long CreatedAt { get; set; }
}

/// <summary>
/// Fills the SMPP outbox in the engine's own transactions: a receipt for every message an ESME submitted with
/// registered_delivery once it ends, and every reply to an enterprise that has SMPP accounts.
/// </summary>
public sealed class SmppOutbox(WakeSignalFor<SmppOutbox> signal) : IMessagingObserver
{
    public const string Receipt = "receipt";
    public const string Mo = "mo";
    private const string Insert =
        "INSERT INTO smpp_outbox (enterprise_id, system_id, kind, source_addr, dest_addr, text, receipted_id, message_state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    private int _added;

    public static (string Stat, MessageState State, string Err) StatOf(string status, string? error) => (status, error) switch
    {
        (MessageStatus.Delivered, _) => (DeliveryReceipt.Delivered, MessageState.Delivered, "000"),
        (MessageStatus.Expired, _) => (DeliveryReceipt.Expired, MessageState.Expired, "000"),
        (MessageStatus.Failed, "undeliverable") => (DeliveryReceipt.Undeliverable, MessageState.Undeliverable, "001"),
        (MessageStatus.Failed, "unknown") => (DeliveryReceipt.Unknown, MessageState.Unknown, "001"),
        _ => (DeliveryReceipt.Rejected, MessageState.Rejected, "002"),
    };

    public Task OnEndedAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Ended> ended)
    {
        var rows = ended.Where(e => e.Origin?.StartsWith("smpp:", StringComparison.Ordinal) == true).ToList();
        _added += Batches.Execute(c, tx, Insert, rows, e =>
        {
            var (stat, state, err) = StatOf(e.Status, e.Error);
            var text = new DeliveryReceipt(e.MessageId.ToString(), stat, err,
                DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt).UtcDateTime, DateTimeOffset.FromUnixTimeMilliseconds(e.At).UtcDateTime).Format();
            return [e.EnterpriseId, e.Origin!["smpp:".Length..], Receipt, Messaging.PhoneNumbers.ToSmpp(e.Recipient), e.Sender, text, e.MessageId.ToString(), (int)state, e.At];
        });
        return Task.CompletedTask;
    }

    public async Task OnInboundAsync(DbConnection c, DbTransaction tx, InboundMessage mo)
    {
        var accounts = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM smpp_accounts WHERE enterprise_id = @e", new { e = mo.EnterpriseId }, tx);
        if (accounts == 0) return;
        _added += Batches.Execute(c, tx, Insert, [mo], m =>
            [m.EnterpriseId, null, Mo, Messaging.PhoneNumbers.ToSmpp(m.Sender), m.Recipient, m.Text, null, 0, m.ReceivedAt]);
    }

    public void AfterCommit()
    {
        if (_added > 0) signal.Set();
        _added = 0;
    }
}
