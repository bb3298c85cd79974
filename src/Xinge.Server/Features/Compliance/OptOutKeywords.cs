using System.Data.Common;
using Dapper;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>
/// R-S1-10: a reply that is an unsubscribe keyword opts its sender out of the enterprise's marketing, in the same
/// transaction that stores the reply (Messaging's inbound seam, <see cref="IMessagingObserver"/>).
/// </summary>
public sealed class OptOutKeywords : IMessagingObserver
{
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase) { "T", "TD", "STOP", "退订", "UNSUBSCRIBE" };

    public static bool IsOptOut(string text) => Keywords.Contains(text.Trim());

    public async Task OnInboundAsync(DbConnection c, DbTransaction tx, InboundMessage mo)
    {
        if (!IsOptOut(mo.Text)) return;
        await c.ExecuteAsync("INSERT INTO opt_outs (enterprise_id, msisdn, at) VALUES (@EnterpriseId, @Sender, @ReceivedAt) ON CONFLICT DO NOTHING",
            new { mo.EnterpriseId, mo.Sender, mo.ReceivedAt }, tx);
    }

    public Task OnEndedAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Ended> ended) => Task.CompletedTask;

    public void AfterCommit()
    {
    }
}
