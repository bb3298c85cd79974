using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>A word the operator does not let through (R-S1-7): refused, naming it, or held for review.</summary>
public sealed class SensitiveWord
{
    public long Id { get; set; }
    /// <summary>As it is matched: compatibility-folded (<see cref="SensitiveWordMatcher.Fold"/>).</summary>
    public string Word { get; set; } = "";
    public string Action { get; set; } = WordAction.Refuse;
    public long AddedAt { get; set; }
    public string AddedBy { get; set; } = "";
}

/// <summary>
/// The sensitive-word list as every node holds it, compiled for matching: read at start, and again on every node
/// within a second of a change (a revocation of kind <c>words</c>). Admission reads no table for it.
/// </summary>
public sealed class SensitiveWords(Database database, Revocations revocations, ILogger<SensitiveWords> logger) : IHostedService
{
    private volatile SensitiveWordMatcher _matcher = SensitiveWordMatcher.Empty;
    private Action? _changed;

    public SensitiveWordMatcher Matcher => _matcher;

    public async Task StartAsync(CancellationToken ct)
    {
        _changed = new ListReloader(LoadAsync, logger, "sensitive words").Changed;
        revocations.WordsChanged += _changed;
        await LoadAsync(ct);
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.WordsChanged -= _changed;
        return Task.CompletedTask;
    }

    public async Task LoadAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Word, string Action)>("SELECT word, action FROM sensitive_words");
        _matcher = new SensitiveWordMatcher(rows);
    }
}

/// <summary>
/// R-S1-7: no message with a word the operator refuses, and none with a word to hold until the operator has seen it.
/// The text the enterprise wrote is searched once for the whole batch, and each recipient's template values with it;
/// a refusal names the word (<c>content_rejected:WORD</c>); a word to hold holds the whole request for review.
/// </summary>
public sealed class SensitiveWordRule(SensitiveWords words) : IAdmissionRule
{
    public int Order => 20;

    public ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        var matcher = words.Matcher;
        if (matcher.Count == 0) return ValueTask.CompletedTask;
        if (matcher.Find(batch.Body) is { } inBody)
        {
            if (inBody.Action == WordAction.Hold)
            {
                batch.HoldAll("content_held:" + inBody.Word);
            }
            else
            {
                for (var i = 0; i < batch.Candidates.Count; i++) batch.Refuse(i, "content_rejected:" + inBody.Word);
                return ValueTask.CompletedTask;
            }
        }
        for (var i = 0; i < batch.Candidates.Count; i++)
        {
            if (batch.ParamsOf(i) is not { Count: > 0 } values) continue;
            foreach (var value in values.Values)
            {
                if (matcher.Find(value) is not { } hit) continue;
                if (hit.Action == WordAction.Hold)
                {
                    batch.HoldAll("content_held:" + hit.Word);
                    continue;
                }
                batch.Refuse(i, "content_rejected:" + hit.Word);
                break;
            }
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>A held request becomes an item of the operator's review queue, written with its messages.</summary>
public sealed class HeldReviewRecorder(TimeProvider time) : IHeldReview
{
    public Task RecordAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, HeldRequest held, CancellationToken ct) =>
        c.ExecuteAsync(
            "INSERT INTO reviews (kind, subject_id, enterprise_id, content, status, created_at) VALUES (@kind, @JobId, @EnterpriseId, @content, @status, @at)",
            new
            {
                kind = ComplianceEndpoints.HeldKind,
                held.JobId,
                held.EnterpriseId,
                content = $"{held.Text} ({held.Reason}; {held.Messages})",
                status = ReviewStatus.Pending,
                at = time.GetUtcNow().ToUnixTimeMilliseconds(),
            }, tx);
}
