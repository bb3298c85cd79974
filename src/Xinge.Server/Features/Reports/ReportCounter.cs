using System.Data.Common;
using Dapper;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Reports;

/// <summary>
/// Counts each message once, when it ends, in the same transaction (Messaging's observer seam): one upsert per hour
/// and kind of outcome in a batch, never one per message.
/// </summary>
public sealed class ReportCounter(Routing.NumberCarriers carriers) : IMessagingObserver
{
    public const long HourMs = 3_600_000;

    public async Task OnEndedAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Ended> ended)
    {
        if (ended.Count == 0) return;
        var rows = ended.GroupBy(e => (
                Hour: e.At - e.At % HourMs, e.EnterpriseId, e.Connector, Carrier: carriers.CarrierOf(e.Recipient), e.Category,
                Outcome: e.Status == MessageStatus.Delivered ? ReportOutcome.Delivered : ReportOutcome.Failed,
                Reason: e.Status == MessageStatus.Delivered ? "" : e.Error ?? e.Status))
            .Select(g => new
            {
                hour = g.Key.Hour,
                enterprise = g.Key.EnterpriseId,
                connector = g.Key.Connector,
                carrier = g.Key.Carrier,
                category = g.Key.Category,
                outcome = g.Key.Outcome,
                reason = g.Key.Reason,
                messages = (long)g.Count(),
                segments = g.Sum(e => (long)e.Segments),
                revenue = g.Key.Outcome == ReportOutcome.Delivered ? g.Sum(e => e.Price) : 0,
            })
            // In the key's order, so that two nodes' status writers that touch the same rows lock them in the same order
            // (PostgreSQL would otherwise answer one of them with a deadlock).
            .OrderBy(r => r.hour).ThenBy(r => r.enterprise).ThenBy(r => r.connector, StringComparer.Ordinal).ThenBy(r => r.carrier, StringComparer.Ordinal).ThenBy(r => r.category, StringComparer.Ordinal)
            .ThenBy(r => r.outcome, StringComparer.Ordinal).ThenBy(r => r.reason, StringComparer.Ordinal);
        await c.ExecuteAsync(
            "INSERT INTO report_hours (hour, enterprise_id, connector, carrier, category, outcome, reason, messages, segments, revenue) " +
            "VALUES (@hour, @enterprise, @connector, @carrier, @category, @outcome, @reason, @messages, @segments, @revenue) " +
            "ON CONFLICT (hour, enterprise_id, connector, carrier, category, outcome, reason) DO UPDATE SET messages = report_hours.messages + excluded.messages, " +
            "segments = report_hours.segments + excluded.segments, revenue = report_hours.revenue + excluded.revenue", rows, tx);
    }

    public Task OnInboundAsync(DbConnection c, DbTransaction tx, InboundMessage mo) => Task.CompletedTask;

    public void AfterCommit()
    {
    }
}
