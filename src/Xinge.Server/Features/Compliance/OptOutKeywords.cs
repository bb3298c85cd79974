using System.Data.Common;
using System.Globalization;
using System.Text;
using Dapper;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>
/// R-S1-10: a reply that is an unsubscribe keyword opts its sender out of the enterprise's marketing; a subscribe
/// keyword takes them back. Both in the transaction that stores the reply (Messaging's inbound seam,
/// <see cref="IMessagingObserver"/>). Keywords match whatever the handset's keyboard did to them: full-width or
/// half-width, any case, with spaces or punctuation around ("Ｔ", "td", "退订。", "【STOP】").
/// </summary>
public sealed class OptOutKeywords : IMessagingObserver
{
    private static readonly HashSet<string> Unsubscribe = ["T", "TD", "R", "STOP", "退订", "UNSUBSCRIBE"];
    private static readonly HashSet<string> Subscribe = ["START", "订阅"];

    public static bool IsOptOut(string text) => Unsubscribe.Contains(Normalize(text));

    public static bool IsOptIn(string text) => Subscribe.Contains(Normalize(text));

    /// <summary>Width folded (NFKC), upper case, without the spaces, punctuation and symbols around the word.</summary>
    public static string Normalize(string text)
    {
        if (text.Length > 64) return "";
        string folded;
        try
        {
            folded = text.Normalize(NormalizationForm.FormKC).ToUpperInvariant();
        }
        catch (ArgumentException)
        {
            // Not valid UTF-16 (a lone surrogate from a handset): no keyword.
            return "";
        }
        var start = 0;
        var end = folded.Length;
        while (start < end && Ignorable(folded[start])) start++;
        while (end > start && Ignorable(folded[end - 1])) end--;
        return folded[start..end];
    }

    private static bool Ignorable(char c) => char.IsWhiteSpace(c) || char.IsPunctuation(c) || char.IsSymbol(c) || char.IsControl(c)
        || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format;

    public async Task OnInboundAsync(DbConnection c, DbTransaction tx, InboundMessage mo)
    {
        if (IsOptOut(mo.Text))
        {
            await c.ExecuteAsync("INSERT INTO opt_outs (enterprise_id, msisdn, at) VALUES (@EnterpriseId, @Sender, @ReceivedAt) ON CONFLICT DO NOTHING",
                new { mo.EnterpriseId, mo.Sender, mo.ReceivedAt }, tx);
        }
        else if (IsOptIn(mo.Text))
        {
            await c.ExecuteAsync("DELETE FROM opt_outs WHERE enterprise_id = @EnterpriseId AND msisdn = @Sender", new { mo.EnterpriseId, mo.Sender }, tx);
        }
    }

    public Task OnEndedAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Ended> ended) => Task.CompletedTask;

    public void AfterCommit()
    {
    }
}
