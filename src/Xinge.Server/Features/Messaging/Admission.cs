using System.Data.Common;

namespace Xinge.Server.Features.Messaging;

/// <summary>One message on its way in, as the admission rules see it: its line in the request and its number (E.164).</summary>
public readonly record struct Candidate(int Line, string Recipient);

/// <summary>
/// What the admission rules are asked about: the candidates of one request, all of one enterprise, signature and
/// category. A rule refuses a candidate with a reason (CONTRACT.md's reasons: <c>opted_out</c>, <c>blacklisted</c>,
/// <c>rate_limited:…</c>, <c>content_rejected:…</c>) or the whole request; the first refusal stands.
/// </summary>
public sealed class AdmissionBatch(long enterpriseId, string signature, string category, IReadOnlyList<Candidate> candidates, string body = "",
    IReadOnlyList<Recipient>? recipients = null, DateTimeOffset? sendsAt = null)
{
    /// <summary>The template the request names (approved, or pending for a review-exempt enterprise); its body is the template's text.</summary>
    public long? TemplateId { get; init; }

    /// <summary>The approved template the body was found to match (free text, SMPP), when one was: limits per template count it there.</summary>
    public long? MatchedTemplateId { get; set; }

    /// <summary>What a rule leaves to be decided in the store's transaction (<see cref="IStoreGuard"/>), for the accepted messages in order.</summary>
    public object? StoreCheck { get; set; }

    private List<Func<Task>>? _notStored;

    /// <summary>What a rule wrote for the request (counts) that must be taken back if it is not stored after all.</summary>
    public void OnNotStored(Func<Task> undo) => (_notStored ??= []).Add(undo);

    public async Task NotStoredAsync()
    {
        foreach (var undo in _notStored ?? []) await undo();
    }

    /// <summary>The operator trusts the enterprise: its content skips manual review (words, opt-out, blacklist and limits still apply).</summary>
    public bool ReviewExempt { get; init; }

    /// <summary>A new text for a message already admitted (replace_sm): its content is checked, but it is not another message to count.</summary>
    public bool Replacing { get; init; }

    /// <summary>When the request would go: its sendAt, or now (null).</summary>
    public DateTimeOffset? SendsAt { get; } = sendsAt;

    private readonly string?[] _reasons = new string?[candidates.Count];

    public long EnterpriseId { get; } = enterpriseId;
    public string Signature { get; } = signature;
    public string Category { get; } = category;
    public IReadOnlyList<Candidate> Candidates { get; } = candidates;
    /// <summary>The text as the enterprise wrote it, without signature or suffix; with <c>${name}</c> placeholders when it is a template.</summary>
    public string Body { get; } = body;

    /// <summary>The values the candidate at <paramref name="index"/> puts in the body's placeholders, if any.</summary>
    public IReadOnlyDictionary<string, string>? ParamsOf(int index) => recipients?[Candidates[index].Line - 1].Params;

    /// <summary>Set when a rule refuses the whole request (an unapproved signature).</summary>
    public SendRefusal? Refusal { get; private set; }

    public void Refuse(int index, string reason) => _reasons[index] ??= reason;

    public void RefuseAll(SendError error, string detail) => Refusal ??= new SendRefusal(error, detail);

    /// <summary>Set when a rule holds the request for an operator's review: its messages are stored <c>held</c>, and go when approved.</summary>
    public string? HoldReason { get; private set; }

    public void HoldAll(string reason) => HoldReason ??= reason;

    /// <summary>Set when a rule lets the request go only from then (Unix ms): its messages wait, scheduled, until that time.</summary>
    public long? NotBefore { get; private set; }

    public void Defer(long until) => NotBefore = Math.Max(NotBefore ?? 0, until);

    /// <summary>Why the candidate at <paramref name="index"/> was refused; null when every rule let it pass.</summary>
    public string? ReasonOf(int index) => _reasons[index];
}

/// <summary>
/// The admission seam (ARCHITECTURE.md): a rule of the feature that owns it, asked about a whole batch of candidates
/// after compose and before store, reading what it needs for the batch at once. Rules run in <see cref="Order"/>.
/// </summary>
public interface IAdmissionRule
{
    int Order { get; }
    ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct);
}

/// <summary>An enterprise's message template as the engine uses it: its category, its text with <c>${name}</c> placeholders, and its review status.</summary>
public sealed record TemplateInfo(long Id, string Category, string Text, string Status);

/// <summary>The templates seam: the feature that keeps and reviews templates finds one of an enterprise's by id.</summary>
public interface ITemplateSource
{
    ValueTask<TemplateInfo?> FindAsync(long enterpriseId, long templateId, CancellationToken ct);
}

/// <summary>A request held for review (<see cref="AdmissionBatch.HoldAll"/>), as the review queue sees it.</summary>
public sealed record HeldRequest(long EnterpriseId, long JobId, string Text, string Reason, int Messages);

/// <summary>
/// The review seam: the feature that reviews held requests records one, in the transaction that stores its messages,
/// so a held message is never without its review item; its decision comes back through <see cref="HeldMessages"/>.
/// </summary>
public interface IHeldReview
{
    Task RecordAsync(DbConnection c, DbTransaction tx, HeldRequest held, CancellationToken ct);
}

/// <summary>The operator's decision on a held request, carried out by the engine's status writer.</summary>
public sealed class HeldMessages(StatusWriter writer)
{
    /// <summary>How many messages the decision changed; -1 when <paramref name="claim"/> found the review decided already.</summary>
    public Task<int> DecideAsync(long enterpriseId, long jobId, bool approved, string? reason, Func<DbConnection, DbTransaction, Task<bool>> claim)
    {
        var decision = new HeldDecided(enterpriseId, jobId, approved, reason, claim);
        writer.Post(decision);
        return decision.Result.Task;
    }
}
