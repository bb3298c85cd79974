using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>
/// A template's text as fixed pieces between its <c>${name}</c> placeholders: "验证码${code}，5分钟内有效" is
/// ["验证码", "，5分钟内有效"]. A text matches when it is the pieces in order with at least one character for each
/// placeholder between them. Taking each middle piece at its first place is enough: an earlier place leaves more room
/// for the rest, so if any reading matches, that one does.
/// </summary>
public static class TemplatePattern
{
    public const int MaxNameLength = 32;

    /// <summary>The placeholders' names in order, or a problem with how they are written.</summary>
    public static (List<string> Names, string? Problem) Placeholders(string text)
    {
        var names = new List<string>();
        var i = 0;
        while ((i = text.IndexOf("${", i, StringComparison.Ordinal)) >= 0)
        {
            var end = text.IndexOf('}', i + 2);
            if (end < 0) return (names, "a placeholder is written ${name}: one has no closing }");
            var name = text[(i + 2)..end];
            if (name.Length is 0 or > MaxNameLength || !name.All(c => char.IsLetterOrDigit(c) || c == '_'))
                return (names, $"a placeholder's name is 1 to {MaxNameLength} letters, digits or _: ${{{Clip(name)}}} is not");
            names.Add(name);
            i = end + 1;
        }
        return (names, null);
    }

    private static string Clip(string s) => s.Length > 20 ? s[..20] + "…" : s;

    /// <summary>The fixed pieces: one more than the placeholders, after placeholders side by side are taken as one.</summary>
    public static string[] Pieces(string text)
    {
        var pieces = new List<string>();
        var current = new System.Text.StringBuilder();
        var afterPlaceholder = false;
        var i = 0;
        while (i < text.Length)
        {
            var start = text.IndexOf("${", i, StringComparison.Ordinal);
            var end = start < 0 ? -1 : text.IndexOf('}', start + 2);
            if (start < 0 || end < 0)
            {
                current.Append(text, i, text.Length - i);
                break;
            }
            current.Append(text, i, start - i);
            if (!afterPlaceholder || current.Length > 0)
            {
                pieces.Add(current.ToString());
                current.Clear();
            }
            afterPlaceholder = true;
            i = end + 1;
        }
        pieces.Add(current.ToString());
        return pieces.ToArray();
    }

    public static bool Matches(string[] pieces, string text)
    {
        if (pieces.Length == 1) return text == pieces[0];
        var first = pieces[0];
        var last = pieces[^1];
        if (text.Length < first.Length + last.Length + pieces.Length - 1) return false;
        if (!text.StartsWith(first, StringComparison.Ordinal) || !text.EndsWith(last, StringComparison.Ordinal)) return false;
        var at = first.Length;
        var end = text.Length - last.Length;
        for (var k = 1; k < pieces.Length - 1; k++)
        {
            var piece = pieces[k];
            // At least one character for the placeholder before it, and room for one after it.
            var from = at + 1;
            var room = end - 1 - from;
            if (room < piece.Length) return false;
            var found = text.AsSpan(from, room).IndexOf(piece, StringComparison.Ordinal);
            if (found < 0) return false;
            at = from + found + piece.Length;
        }
        return end - at >= 1;
    }
}

/// <summary>
/// The enterprises' approved templates as this node holds them, read on first use and again on every node within a
/// second of a decision or a removal (a revocation of kind <c>templates</c>). Admission asks it without a database
/// round trip: a templated request by id, and free text matched against the templates of its category.
/// </summary>
public sealed class TemplateBook : ITemplateSource, IHostedService
{
    private sealed record Approved(long Id, string Category, string Text, string[] Pieces);

    private readonly Database database;
    private readonly Revocations revocations;
    private readonly EnterpriseCache<Approved[]> _approved;

    public TemplateBook(Database database, Revocations revocations)
    {
        (this.database, this.revocations) = (database, revocations);
        _approved = new EnterpriseCache<Approved[]>(LoadAsync);
    }

    public Task StartAsync(CancellationToken ct)
    {
        revocations.TemplatesChanged += _approved.Forget;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.TemplatesChanged -= _approved.Forget;
        return Task.CompletedTask;
    }

    private ValueTask<Approved[]> ApprovedAsync(long enterpriseId, CancellationToken ct) => _approved.GetAsync(enterpriseId, ct);

    private async Task<Approved[]> LoadAsync(long enterpriseId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(long Id, string Category, string Text)>(
            "SELECT id, category, text FROM templates WHERE enterprise_id = @enterpriseId AND status = @approved ORDER BY id",
            new { enterpriseId, approved = ReviewStatus.Approved });
        return rows.Select(r => new Approved(r.Id, r.Category, r.Text, TemplatePattern.Pieces(r.Text))).ToArray();
    }

    public async ValueTask<TemplateInfo?> FindAsync(long enterpriseId, long templateId, CancellationToken ct)
    {
        foreach (var t in await ApprovedAsync(enterpriseId, ct))
        {
            if (t.Id == templateId) return new TemplateInfo(t.Id, t.Category, t.Text, ReviewStatus.Approved);
        }
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<TemplateInfo>(
            "SELECT id AS Id, category AS Category, text AS Text, status AS Status FROM templates WHERE id = @templateId AND enterprise_id = @enterpriseId",
            new { templateId, enterpriseId });
    }

    /// <summary>The approved template of <paramref name="category"/> that <paramref name="body"/> (placeholders and all, as the enterprise wrote it) matches, if any.</summary>
    public async ValueTask<long?> MatchAsync(long enterpriseId, string category, string body, CancellationToken ct)
    {
        foreach (var t in await ApprovedAsync(enterpriseId, ct))
        {
            if (t.Category == category && TemplatePattern.Matches(t.Pieces, body)) return t.Id;
        }
        return null;
    }
}

/// <summary>
/// R-S1-7: content is reviewed once. A request by an approved template, or whose text matches one, goes; so does any
/// content of an enterprise the operator trusts (review-exempt). Other content waits, held, in the review queue.
/// Words, opt-out, the blacklist and the limits still apply to all of it (their own rules).
/// </summary>
public sealed class ContentReviewRule(TemplateBook templates) : IAdmissionRule
{
    public const string Reason = "content_review";

    public int Order => 25;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (batch.TemplateId is not null || batch.Candidates.Count == 0) return;
        batch.MatchedTemplateId = await templates.MatchAsync(batch.EnterpriseId, batch.Category, batch.Body, ct);
        if (batch.MatchedTemplateId is not null || batch.ReviewExempt) return;
        batch.HoldAll(Reason);
    }
}
