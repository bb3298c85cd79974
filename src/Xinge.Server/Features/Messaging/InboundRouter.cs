using System.Data.Common;
using Dapper;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// MO routing: a reply to <c>106…</c> + an enterprise's extension reaches that enterprise's inbox and webhook. What a
/// reply means besides (an unsubscribe keyword, say) is for the features that observe it (<see cref="IMessagingObserver"/>).
/// </summary>
public sealed class InboundRouter(MessagingOptions options, ILogger<InboundRouter> logger)
{
    public async Task<(InboundMessage Message, object Payload)?> StoreAsync(DbConnection c, DbTransaction tx, MoReceived mo)
    {
        var recipient = mo.Recipient.TrimStart('+');
        if (!recipient.StartsWith(options.SenderPrefix, StringComparison.Ordinal))
        {
            logger.LogWarning("Reply to {Recipient} is not for a platform number; dropped", mo.Recipient);
            return null;
        }
        var rest = recipient[options.SenderPrefix.Length..];
        // The longest extension that starts the rest wins; what follows it is the enterprise's own sub-address.
        // Only the rest's own prefixes are looked up (the extension index), not every enterprise.
        var prefixes = Enumerable.Range(1, Math.Min(rest.Length, 16)).Select(n => rest[..n]).ToArray();
        var extensions = prefixes.Length == 0 ? []
            : await c.QueryAsync<(long Id, string Extension)>(
                "SELECT id, extension FROM enterprises WHERE extension " + Data.Database.InList(c, "prefixes"), new { prefixes }, tx);
        var match = extensions.OrderByDescending(e => e.Extension.Length).FirstOrDefault();
        if (match.Extension is null)
        {
            logger.LogWarning("Reply to {Recipient} matches no enterprise extension; dropped", mo.Recipient);
            return null;
        }
        var sender = PhoneNumbers.FromNetwork(mo.Sender);
        var id = await c.ExecuteScalarAsync<long>(
            "INSERT INTO inbound_messages (enterprise_id, sender, recipient, text, received_at) VALUES (@e, @s, @r, @t, @at) RETURNING id",
            new { e = match.Id, s = sender, r = recipient, t = mo.Text, at = mo.At }, tx);
        var message = new InboundMessage { Id = id, EnterpriseId = match.Id, Sender = sender, Recipient = recipient, Text = mo.Text, ReceivedAt = mo.At };
        return (message, new
        {
            type = "inbound",
            id = id.ToString(),
            from = sender,
            to = recipient,
            text = mo.Text,
            receivedAt = DateTimeOffset.FromUnixTimeMilliseconds(mo.At),
        });
    }
}
