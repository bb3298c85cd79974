using System.Data.Common;
using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Connectors;

namespace Xinge.Server.Features.Messaging;

/// <summary>A recipient as the request gave it; <paramref name="Line"/> is its line in an uploaded file, which its refusal names.</summary>
public sealed record Recipient(string Raw, IReadOnlyDictionary<string, string>? Params, int? Line = null);

/// <summary>The way a request came in: an idempotent repeat must come the same way, and a job's answer leaves out the per-message lists.</summary>
public enum SendKind
{
    Messages,
    Job,
    Smpp,
}

public sealed record SendCommand(
    long EnterpriseId, IReadOnlyList<Recipient> Recipients, string? Signature, string? Category, string? Text,
    DateTimeOffset? SendAt, string? ClientRef, string? IdempotencyKey, string? Origin = null, SendKind Kind = SendKind.Messages,
    DateTimeOffset? ValidUntil = null, long? TemplateId = null);

public sealed record AcceptedMessage(long Id, string To, int Segments, long Price);
public sealed record Rejection(int Line, string To, string Reason);

/// <summary>
/// What a request stored: its job, how many messages were accepted and rejected, and for requests of up to a thousand
/// numbers the messages and rejections themselves. <see cref="Replayed"/>: the answer kept for a repeated Idempotency-Key.
/// </summary>
public sealed record SendResult(long JobId, int Accepted, int RejectedCount, IReadOnlyList<AcceptedMessage> Messages, IReadOnlyList<Rejection> Rejected, bool Replayed = false);

/// <summary>Why a whole request is refused; the HTTP endpoints and the SMPP server each map it through one table.</summary>
public enum SendError
{
    Invalid,
    EnterpriseNotFound,
    EnterpriseNotVerified,
    EnterpriseSuspended,
    SignatureNotApproved,
    TextTooLong,
    NoValidRecipients,
    InsufficientBalance,
    IdempotencyKeyReused,
    TemplateNotApproved,
}

public sealed record SendRefusal(SendError Error, string Detail, IReadOnlyList<Rejection>? Rejected = null, long? Required = null);

/// <summary>
/// Compose and admit (ARCHITECTURE.md): checks the enterprise, its signature and every recipient, composes and
/// prices the SMS, and hands the accepted rows with their reservation to the store. Every way in (HTTP, SMPP,
/// the services) sends through here.
/// </summary>
public sealed class MessagingService(Database database, MessageStore store, StatusWriter writer, Composer composer, IdGenerator ids, MessagingOptions options, ConnectorRegistry connectors,
    IEnumerable<IAdmissionRule> admissionRules, IEnumerable<IHeldReview> heldReviews, ITemplateSource templates, TimeProvider time, ILogger<MessagingService> logger)
{
    private readonly IAdmissionRule[] rules = admissionRules.OrderBy(r => r.Order).ToArray();
    public const int MaxRecipientsPerJob = 200_000;
    private readonly ConcurrentDictionary<long, EnterpriseInfo> _verified = new();
    /// <summary>Bumped when an enterprise's terms change: a read that began before the change does not cache its old terms.</summary>
    private long _termsGeneration;

    /// <summary>The operator changed the enterprise's terms (suspended it, set its price): the next message reads them afresh.</summary>
    public void ForgetEnterprise(long id)
    {
        Interlocked.Increment(ref _termsGeneration);
        _verified.TryRemove(id, out _);
    }

    private sealed class EnterpriseInfo
    {
        public long Id { get; set; }
        public bool Verified { get; set; }
        public bool Suspended { get; set; }
        public int UnitPrice { get; set; }
        public string Extension { get; set; } = "";
        public bool ReviewExempt { get; set; }
    }

    public string SenderOf(string extension) => options.SenderPrefix + extension;

    private async Task<EnterpriseInfo?> EnterpriseAsync(long id)
    {
        if (_verified.TryGetValue(id, out var cached)) return cached;
        var generation = Interlocked.Read(ref _termsGeneration);
        await using var c = await database.OpenAsync();
        var e = await c.QuerySingleOrDefaultAsync<EnterpriseInfo>(
            "SELECT id AS Id, verified AS Verified, suspended AS Suspended, unit_price AS UnitPrice, extension AS Extension, review_exempt AS ReviewExempt FROM enterprises WHERE id = @id", new { id });
        // Only verified enterprises are cached: verification never goes back, and a fresh one is seen at once; a change
        // of terms is forgotten on every node (EnterpriseSuspension).
        if (e is { Verified: true } && Interlocked.Read(ref _termsGeneration) == generation) _verified[id] = e;
        return e;
    }

    private static readonly TimeSpan SendAtTolerance = TimeSpan.FromMinutes(5);

    // Requests with one Idempotency-Key go one after another on this node (a client's retry while the first still
    // runs): the second finds the first's answer instead of being counted, and refused, as a second message.
    private readonly SemaphoreSlim[] _keyTurns = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<(SendResult? Result, SendRefusal? Refusal)> SendAsync(SendCommand cmd)
    {
        if (cmd.IdempotencyKey is not { } key) return await SendOnceAsync(cmd);
        var turn = _keyTurns[(int)((uint)HashCode.Combine(cmd.EnterpriseId, key) % (uint)_keyTurns.Length)];
        await turn.WaitAsync();
        try
        {
            return await SendOnceAsync(cmd);
        }
        finally
        {
            turn.Release();
        }
    }

    private async Task<(SendResult? Result, SendRefusal? Refusal)> SendOnceAsync(SendCommand cmd)
    {
        if (cmd.TemplateId is not null && cmd.Text is not null) return Refuse(SendError.Invalid, "give text or templateId, not both");
        if (cmd.TemplateId is null && !Category.IsValid(cmd.Category)) return Refuse(SendError.Invalid, "category is otp, notification or marketing");
        if (cmd.Category is not null && !Category.IsValid(cmd.Category)) return Refuse(SendError.Invalid, "category is otp, notification or marketing");
        if (cmd.TemplateId is null && string.IsNullOrEmpty(cmd.Text)) return Refuse(SendError.Invalid, "text or templateId is required");
        if (cmd.Text is not null && Input.HasHiddenCharacters(cmd.Text, lineBreaks: true)) return Refuse(SendError.Invalid, "text may not contain control characters other than line breaks, nor bidirectional formatting characters");
        if (ParamsProblem(cmd.Recipients) is { } paramsProblem) return Refuse(SendError.Invalid, paramsProblem);
        if (string.IsNullOrWhiteSpace(cmd.Signature)) return Refuse(SendError.Invalid, "signature is required");
        if (cmd.Recipients.Count == 0) return Refuse(SendError.Invalid, "at least one recipient is required");
        if (cmd.Recipients.Count > MaxRecipientsPerJob) return Refuse(SendError.Invalid, $"at most {MaxRecipientsPerJob} recipients a job");
        if (cmd.ClientRef is { Length: > 64 }) return Refuse(SendError.Invalid, "clientRef is at most 64 characters");
        if (cmd.IdempotencyKey is { Length: > 100 }) return Refuse(SendError.Invalid, "Idempotency-Key is at most 100 characters");

        var enterprise = await EnterpriseAsync(cmd.EnterpriseId);
        if (enterprise is null) return Refuse(SendError.EnterpriseNotFound, "enterprise does not exist");
        if (!enterprise.Verified) return Refuse(SendError.EnterpriseNotVerified, "the enterprise must be verified by the operator before it may send");
        if (enterprise.Suspended) return Refuse(SendError.EnterpriseSuspended, "the operator has suspended this enterprise's sending");
        var signature = cmd.Signature.Trim();

        // R-S1-7: a template gives the text and the category; it must be approved, unless the operator trusts the enterprise.
        var body = cmd.Text!;
        var category = cmd.Category!;
        if (cmd.TemplateId is { } templateId)
        {
            var template = await templates.FindAsync(enterprise.Id, templateId, CancellationToken.None);
            if (template is null) return Refuse(SendError.TemplateNotApproved, "templateId is not a template of this enterprise");
            if (template.Status != "approved" && !(enterprise.ReviewExempt && template.Status == "pending"))
                return Refuse(SendError.TemplateNotApproved, $"the template is {template.Status}: only an approved template can be sent");
            if (cmd.Category is not null && cmd.Category != template.Category) return Refuse(SendError.Invalid, $"category is the template's: {template.Category}");
            body = template.Text;
            category = template.Category;
        }

        var fingerprint = cmd.IdempotencyKey is null ? null : Fingerprint(cmd);
        if (cmd.IdempotencyKey is { } key)
        {
            await using var c = await database.OpenAsync();
            var previous = await c.QuerySingleOrDefaultAsync<(string Response, string? Fingerprint)>(
                "SELECT response, fingerprint FROM idempotent_requests WHERE enterprise_id = @e AND key = @key", new { e = enterprise.Id, key });
            if (previous.Response is not null) return Replay(previous.Response, previous.Fingerprint, fingerprint!);
        }

        var now = time.GetUtcNow();
        var scheduled = cmd.SendAt is { } at && at > now;
        if (cmd.SendAt is { } s && s > now.AddDays(90)) return Refuse(SendError.Invalid, "sendAt is at most 90 days ahead");
        // A few minutes of clock difference are forgiven (sent at once); a time long past is a mistake, not "now".
        if (cmd.SendAt is { } past && past < now - SendAtTolerance) return Refuse(SendError.Invalid, "sendAt is in the past");
        // A validity of its own (SMPP validity_period) may shorten the platform's, never lengthen it.
        var starts = scheduled ? cmd.SendAt!.Value : now;
        if (cmd.ValidUntil is { } v && v <= starts) return Refuse(SendError.Invalid, "the validity period ends before the message could be sent");
        long? expiresAt = cmd.ValidUntil is { } until && until < starts.AddHours(options.ValidityHours) ? until.ToUnixTimeMilliseconds() : null;

        var placeholders = Composer.HasPlaceholders(body);
        ComposedText? shared = null;
        if (!placeholders)
        {
            var (measured, error) = composer.Measure(Composer.Compose(signature, body, category), category);
            if (error is not null) return Refuse(SendError.TextTooLong, error);
            shared = measured;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Parse in parallel: libphonenumber is the expensive part of a 200,000-number job.
        var e164 = new string?[cmd.Recipients.Count];
        if (cmd.Recipients.Count < 256)
        {
            for (var i = 0; i < e164.Length; i++) e164[i] = PhoneNumbers.ToE164(cmd.Recipients[i].Raw);
        }
        else
        {
            Parallel.For(0, cmd.Recipients.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                i => e164[i] = PhoneNumbers.ToE164(cmd.Recipients[i].Raw));
        }

        // Each recipient's own text is filled and measured before the rules: the rules (flow control counts) see only
        // recipients that will be sent if they let them.
        var seen = new HashSet<string>(cmd.Recipients.Count);
        var candidates = new List<Candidate>(cmd.Recipients.Count);
        var texts = shared is null ? new List<ComposedText>(cmd.Recipients.Count) : null;
        var rejected = new List<Rejection>();
        for (var i = 0; i < cmd.Recipients.Count; i++)
        {
            var number = e164[i];
            var line = cmd.Recipients[i].Line ?? i + 1;
            if (number is null) rejected.Add(new Rejection(line, cmd.Recipients[i].Raw ?? "", "invalid_number"));
            else if (!seen.Add(number)) rejected.Add(new Rejection(line, number, "duplicate"));
            else if (texts is null) candidates.Add(new Candidate(i + 1, number));
            else
            {
                var (filled, missing) = Composer.Fill(body, cmd.Recipients[i].Params);
                if (filled is null) { rejected.Add(new Rejection(line, number, $"missing_param:{missing}")); continue; }
                var (measured, _) = composer.Measure(Composer.Compose(signature, filled, category), category);
                if (measured is null) { rejected.Add(new Rejection(line, number, "text_too_long")); continue; }
                candidates.Add(new Candidate(i + 1, number));
                texts.Add(measured.Value);
            }
        }

        // The features' rules (signature, opt-out, …) on the whole batch at once.
        var admission = new AdmissionBatch(enterprise.Id, signature, category, candidates, body, cmd.Recipients, scheduled ? cmd.SendAt : null)
        {
            TemplateId = cmd.TemplateId,
            ReviewExempt = enterprise.ReviewExempt,
        };
        foreach (var rule in rules) await rule.CheckAsync(admission, CancellationToken.None);
        if (admission.Refusal is { } refusal) return (null, refusal);

        // A rule may let the request go only later (marketing outside its hours): then it waits as scheduled.
        var sendAt = scheduled ? cmd.SendAt!.Value.ToUnixTimeMilliseconds() : (long?)null;
        if (admission.NotBefore is { } notBefore && notBefore > (sendAt ?? now.ToUnixTimeMilliseconds())) sendAt = notBefore;

        var accepted = new List<NewMessage>(candidates.Count);
        for (var j = 0; j < candidates.Count; j++)
        {
            var (line, number) = candidates[j];
            var i = line - 1;
            if (admission.ReasonOf(j) is { } reason) { rejected.Add(new Rejection(cmd.Recipients[i].Line ?? line, number, reason)); continue; }
            var t = texts?[j] ?? shared!.Value;
            accepted.Add(new NewMessage(ids.Next(), number, t.Text, (int)t.Encoding, t.Segments, (long)t.Segments * enterprise.UnitPrice, connectors.Route(number)?.Name,
                cmd.Recipients[i].Line ?? line));
        }
        rejected.Sort((a, b) => a.Line.CompareTo(b.Line));
        if (accepted.Count == 0)
        {
            return (null, new SendRefusal(SendError.NoValidRecipients, "no recipient could be accepted; see rejected", rejected));
        }

        var jobId = ids.Next();
        SendResult ResultOf(List<NewMessage> messages, List<Rejection> rejections) =>
            new(jobId, messages.Count, rejections.Count, messages.Select(m => new AcceptedMessage(m.Id, m.Recipient, m.Segments, m.Price)).ToList(), rejections);
        string Answer(SendResult r) => JsonSerializer.Serialize(cmd.Kind == SendKind.Job ? r with { Messages = [], Rejected = [] } : r, JsonSerializerOptions.Web);
        static List<Rejection> RejectionsOf(StoreRequest r) => r.Rejections.Select(x => new Rejection(x.Line, x.Recipient, x.Reason)).ToList();
        // With a guard in the store's transaction (flow control on SQLite) the answer is made there, after its refusals.
        var result = admission.StoreCheck is null ? ResultOf(accepted, rejected) : null;
        var request = new StoreRequest
        {
            EnterpriseId = enterprise.Id,
            JobId = jobId,
            Category = category,
            Sender = SenderOf(enterprise.Extension),
            // Held for review: nothing goes until the operator approves (the review item is written with the messages).
            Status = admission.HoldReason is not null ? MessageStatus.Held : sendAt is not null ? MessageStatus.Scheduled : MessageStatus.Queued,
            SendAt = sendAt,
            ExpiresAt = expiresAt,
            ClientRef = cmd.ClientRef,
            Origin = cmd.Origin,
            Total = cmd.Recipients.Count,
            Messages = accepted,
            Rejections = rejected.Select(r => (r.Line, r.To, r.Reason)).ToList(),
            IdempotencyKey = cmd.IdempotencyKey,
            IdempotentResponse = cmd.IdempotencyKey is null || result is null ? null : Answer(result),
            GuardCheck = admission.StoreCheck,
            Respond = r => Answer(ResultOf(r.Messages, RejectionsOf(r))),
            Fingerprint = fingerprint,
            AlsoWrite = admission.HoldReason is { } hold
                ? heldReviews.Select(review => (Func<DbConnection, DbTransaction, CancellationToken, Task>)((c, tx, ct) =>
                    review.RecordAsync(c, tx, new HeldRequest(enterprise.Id, jobId, HeldText(body, accepted), hold, accepted.Count), ct))).ToList()
                : [],
        };
        var validated = clock.ElapsedMilliseconds;
        StoreOutcome outcome;
        try
        {
            outcome = await store.StoreAsync(request);
        }
        catch
        {
            await admission.NotStoredAsync();
            throw;
        }
        if (outcome != StoreOutcome.Stored) await admission.NotStoredAsync();
        if (accepted.Count >= 1000)
        {
            logger.LogInformation("Job {JobId}: {Accepted} accepted, {Rejected} rejected; checked in {CheckMs} ms, stored in {StoreMs} ms ({Outcome})",
                jobId, request.Messages.Count, request.Rejections.Count, validated, clock.ElapsedMilliseconds - validated, outcome);
        }
        result ??= ResultOf(request.Messages, RejectionsOf(request));
        return outcome switch
        {
            StoreOutcome.Stored => (result, null),
            StoreOutcome.NothingLeft => (null, new SendRefusal(SendError.NoValidRecipients, "no recipient could be accepted; see rejected", result.Rejected)),
            StoreOutcome.DuplicateRequest => Replay(request.IdempotentResponse!, request.PreviousFingerprint, fingerprint!),
            _ => (null, new SendRefusal(SendError.InsufficientBalance, $"the balance does not cover {request.TotalPrice} fen for {accepted.Count} messages",
                Required: request.TotalPrice)),
        };
    }

    /// <summary>The values recipients put in placeholders are text like the rest: names of at most 32 characters, values of at most 500, no control characters.</summary>
    private static string? ParamsProblem(IReadOnlyList<Recipient> recipients)
    {
        var checkedAlready = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var r in recipients)
        {
            if (r.Params is not { } values || !checkedAlready.Add(values)) continue;
            foreach (var (name, value) in values)
            {
                if (name.Length is 0 or > 32) return "params: a name is 1 to 32 characters";
                if (value is null) return $"params: {name} is text, not null";
                if (value.Length > 500) return $"params: {name} is at most 500 characters";
                if (Input.HasHiddenCharacters(value, lineBreaks: true)) return $"params: {name} may not contain control or bidirectional formatting characters";
            }
        }
        return null;
    }

    /// <summary>
    /// What the operator reviews for a held request: its text, or for one with per-recipient values the text as written
    /// and the first few as they go (each recipient's values were searched for words already).
    /// </summary>
    private static string HeldText(string body, List<NewMessage> accepted) =>
        !Composer.HasPlaceholders(body) ? accepted[0].Text
            : $"{body} — {string.Join(" | ", accepted.Take(3).Select(m => m.Text))}{(accepted.Count > 3 ? " | …" : "")}";

    /// <summary>
    /// The answer kept for an Idempotency-Key, when the request is the one the key was first used with; the same key
    /// with another request (other numbers, text, way in …) is refused rather than answered with the first one's answer.
    /// </summary>
    private static (SendResult?, SendRefusal?) Replay(string stored, string? storedFingerprint, string fingerprint)
    {
        if (storedFingerprint is not null && storedFingerprint != fingerprint)
            return Refuse(SendError.IdempotencyKeyReused, "this Idempotency-Key was used with another request; use a new key for a new request");
        return (JsonSerializer.Deserialize<SendResult>(stored, JsonSerializerOptions.Web)! with { Replayed = true }, null);
    }

    /// <summary>SHA-256 over everything that makes a request what it is.</summary>
    private static string Fingerprint(SendCommand cmd)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Add(string? value)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(value ?? "\u0000null"));
            hash.AppendData([0]);
        }
        Add(cmd.Kind.ToString());
        Add(cmd.Signature);
        Add(cmd.Category);
        Add(cmd.Text);
        Add(cmd.TemplateId?.ToString());
        Add(cmd.SendAt?.ToUnixTimeMilliseconds().ToString());
        Add(cmd.ClientRef);
        Add(cmd.ValidUntil?.ToUnixTimeMilliseconds().ToString());
        // Counts before lists, so no two different requests write the same sequence.
        Add(cmd.Recipients.Count.ToString());
        foreach (var r in cmd.Recipients)
        {
            Add(r.Raw);
            Add((r.Params?.Count ?? 0).ToString());
            foreach (var (k, v) in r.Params?.OrderBy(p => p.Key, StringComparer.Ordinal) ?? Enumerable.Empty<KeyValuePair<string, string>>())
            {
                Add(k);
                Add(v);
            }
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Withdraws a message not yet sent (queued or scheduled); it ends failed with reason <c>cancelled</c> and is refunded.</summary>
    public Task<bool> CancelAsync(long enterpriseId, long messageId)
    {
        var request = new CancelRequested(enterpriseId, messageId);
        writer.Post(request);
        return request.Result.Task;
    }

    private sealed class Stored
    {
        public string Status { get; set; } = "";
        public string Text { get; set; } = "";
        public string Category { get; set; } = "";
        public int Segments { get; set; }
        public long Price { get; set; }
        public string Recipient { get; set; } = "";
    }

    /// <summary>
    /// Replaces the text of a message not yet sent (SMPP replace_sm): the same 【signature】 must start the new text; it is
    /// composed, measured and priced afresh. False when the message has gone, or the text or balance does not allow it.
    /// </summary>
    public async Task<(bool Replaced, string? Error)> ReplaceAsync(long enterpriseId, long messageId, string signature, string body, DateTimeOffset? sendAt)
    {
        Stored? stored;
        await using (var c = await database.OpenAsync())
        {
            stored = await c.QuerySingleOrDefaultAsync<Stored>(
                "SELECT status AS Status, text AS Text, category AS Category, segments AS Segments, price AS Price, recipient AS Recipient FROM messages WHERE id = @messageId AND enterprise_id = @enterpriseId",
                new { enterpriseId, messageId });
        }
        if (stored is null) return (false, "unknown message");
        if (!stored.Text.StartsWith($"【{signature}】", StringComparison.Ordinal)) return (false, "the signature differs from the message's");
        var (measured, error) = composer.Measure(Composer.Compose(signature, body, stored.Category), stored.Category);
        if (measured is not { } m) return (false, error);
        // The new text passes the same rules as a new message would (words, and the rest): a replace is no way round them.
        var enterprise = await EnterpriseAsync(enterpriseId);
        var admission = new AdmissionBatch(enterpriseId, signature, stored.Category, [new Candidate(1, stored.Recipient)], body, null, sendAt)
        {
            ReviewExempt = enterprise?.ReviewExempt ?? false,
            Replacing = true,
        };
        foreach (var rule in rules) await rule.CheckAsync(admission, CancellationToken.None);
        if (admission.Refusal is { } refusal) return (false, refusal.Detail);
        if (admission.ReasonOf(0) is { } reason) return (false, reason);
        if (admission.HoldReason is { } hold) return (false, $"the new text needs review ({hold}); send it as a new message");
        if (admission.NotBefore is { } later && later > (sendAt ?? time.GetUtcNow()).ToUnixTimeMilliseconds()) sendAt = DateTimeOffset.FromUnixTimeMilliseconds(later);
        var unitPrice = stored.Segments == 0 ? 0 : stored.Price / stored.Segments;
        var request = new ReplaceRequested(enterpriseId, messageId, m.Text, (int)m.Encoding, m.Segments, m.Segments * unitPrice, sendAt?.ToUnixTimeMilliseconds());
        writer.Post(request);
        return (await request.Result.Task, null);
    }

    public sealed class MessageState
    {
        public long Id { get; set; }
        public string Status { get; set; } = "";
        public string? Error { get; set; }
        public long? DoneAt { get; set; }
        public int Encoding { get; set; }
    }

    public async Task<MessageState?> FindAsync(long enterpriseId, long messageId)
    {
        await using var c = await database.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<MessageState>(
            "SELECT id AS Id, status AS Status, error AS Error, done_at AS DoneAt, encoding AS Encoding FROM messages WHERE id = @messageId AND enterprise_id = @enterpriseId",
            new { enterpriseId, messageId });
    }

    private static (SendResult?, SendRefusal?) Refuse(SendError error, string detail) => (null, new SendRefusal(error, detail));
}
