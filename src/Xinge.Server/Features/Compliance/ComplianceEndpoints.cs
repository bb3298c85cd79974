using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public sealed record CreateSignature(string? Text);
public sealed record RejectReview(string? Reason);
public sealed record SignatureView(long Id, string Text, string Status, string? Reason);
public sealed record SignatureCreated(long Id, string Status);
public sealed record ReviewView(long Id, string Kind, long SubjectId, long EnterpriseId, string Content, string Status, string? Reason, DateTimeOffset CreatedAt);
public sealed record ReviewDecision(long Id, string Status);

public static class ComplianceEndpoints
{
    public const string SignatureKind = "signature";
    /// <summary>A request held for review (a word to hold in its text): its messages wait, status <c>held</c>.</summary>
    public const string HeldKind = "held";

    /// <summary>Compliance's admission rules (ARCHITECTURE.md, the seams): Messaging asks them about every batch.</summary>
    public static IServiceCollection AddCompliance(this IServiceCollection services)
    {
        services.AddSingleton<IAdmissionRule, ApprovedSignatureRule>();
        services.AddSingleton<PlatformBlacklist>();
        services.AddHostedService(sp => sp.GetRequiredService<PlatformBlacklist>());
        services.AddSingleton<IAdmissionRule, BlacklistRule>();
        services.AddSingleton<SensitiveWords>();
        services.AddHostedService(sp => sp.GetRequiredService<SensitiveWords>());
        services.AddSingleton<IAdmissionRule, SensitiveWordRule>();
        services.AddSingleton<IHeldReview, HeldReviewRecorder>();
        services.AddSingleton<TemplateBook>();
        services.AddSingleton<ITemplateSource>(sp => sp.GetRequiredService<TemplateBook>());
        services.AddHostedService(sp => sp.GetRequiredService<TemplateBook>());
        services.AddSingleton<IAdmissionRule, ContentReviewRule>();
        services.AddSingleton<IAdmissionRule, MarketingHoursRule>();
        services.AddSingleton<OptOutList>();
        services.AddSingleton<SignatureBook>();
        services.AddSingleton<IAdmissionRule, OptOutRule>();
        services.AddSingleton<IMessagingObserver, OptOutKeywords>();
        services.AddFlowControl();
        return services;
    }

    public static IEndpointRouteBuilder MapCompliance(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        var enterprise = api.MapGroup("").RequireAuthorization("enterprise").WithTags("Enterprise");
        enterprise.MapPost("/signatures", CreateSignatureAsync).RequireAuthorization(Rights.SignaturesManage);
        enterprise.MapGet("/signatures", async (ClaimsPrincipal user, XingeDb db) =>
        {
            var id = Caller.From(user).Enterprise;
            var list = await db.Signatures.Where(s => s.EnterpriseId == id).OrderBy(s => s.Id).ToListAsync();
            return TypedResults.Ok(list.Select(s => new SignatureView(s.Id, s.Text, s.Status, s.Reason)).ToList());
        }).RequireAuthorization(Rights.MessagesRead);

        app.MapBlacklist();
        app.MapOptOuts();
        app.MapSensitiveWords();
        app.MapTemplates();
        app.MapFlowControl();
        var admin = api.MapGroup("/admin/reviews").RequireAuthorization(Rights.ReviewsDecide).WithTags("Operator");
        admin.MapGet("", async (XingeDb db, string? status, int? limit) =>
        {
            var wanted = status ?? ReviewStatus.Pending;
            var list = await db.Reviews.Where(r => r.Status == wanted).OrderBy(r => r.Id).Take(Math.Clamp(limit ?? 1000, 1, 1000)).ToListAsync();
            return TypedResults.Ok(list.Select(r => new ReviewView(r.Id, r.Kind, r.SubjectId, r.EnterpriseId, r.Content, r.Status, r.Reason,
                DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt))).ToList());
        });
        admin.MapPost("/{id:long}/approve", (long id, XingeDb db, HeldMessages held, Revocations revocations, TimeProvider time, AuditLog audit, HttpContext http) =>
            DecideAsync(id, ReviewStatus.Approved, null, db, held, revocations, time, audit, http));
        admin.MapPost("/{id:long}/reject", (long id, RejectReview? body, XingeDb db, HeldMessages held, Revocations revocations, TimeProvider time, AuditLog audit, HttpContext http) =>
            string.IsNullOrWhiteSpace(body?.Reason) || body.Reason.Length > 500 || Input.HasHiddenCharacters(body.Reason, lineBreaks: true)
                ? Task.FromResult<Results<Ok<ReviewDecision>, ProblemHttpResult>>(Problems.Validation("reason is required: at most 500 characters, no control characters"))
                : DecideAsync(id, ReviewStatus.Rejected, body.Reason.Trim(), db, held, revocations, time, audit, http));
        return app;
    }

    /// <summary>
    /// R-S1-2: a signature belongs to one enterprise; the 【】 are added by the platform. Its length is the operator's
    /// setting (<c>Xinge:Compliance:SignatureLength:Min</c> and <c>:Max</c>), 2 to 8 characters as the operators ask by default.
    /// </summary>
    public static string? ValidateSignatureText(string? text, int min = 2, int max = 8)
    {
        if (string.IsNullOrWhiteSpace(text)) return "text is required";
        var t = text.Trim();
        var length = new System.Globalization.StringInfo(t).LengthInTextElements;
        if (length < min || length > max) return $"a signature is {min} to {max} characters";
        if (t.IndexOfAny(['【', '】', '[', ']', '\r', '\n']) >= 0) return "a signature may not contain brackets or line breaks; 【】 are added by the platform";
        if (Input.HasHiddenCharacters(t)) return "a signature may not contain control or bidirectional formatting characters";
        return null;
    }

    private static async Task<Results<Created<SignatureCreated>, ProblemHttpResult>> CreateSignatureAsync(CreateSignature body, ClaimsPrincipal user, XingeDb db, TimeProvider time,
        IConfiguration config)
    {
        if (ValidateSignatureText(body.Text, config.GetValue("Xinge:Compliance:SignatureLength:Min", 2), config.GetValue("Xinge:Compliance:SignatureLength:Max", 8)) is { } error)
            return Problems.Validation(error);
        var enterpriseId = Caller.From(user).Enterprise;
        var text = body.Text!.Trim();
        if (await db.Signatures.AnyAsync(s => s.EnterpriseId == enterpriseId && s.Text == text))
            return Problems.Conflict("signature-exists", "this enterprise already has that signature");
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var tx = await db.Database.BeginTransactionAsync();
        var signature = new Signature { EnterpriseId = enterpriseId, Text = text, Status = ReviewStatus.Pending, CreatedAt = now };
        db.Signatures.Add(signature);
        await db.SaveChangesAsync();
        db.Reviews.Add(new Review { Kind = SignatureKind, SubjectId = signature.Id, EnterpriseId = enterpriseId, Content = text, CreatedAt = now });
        await db.SaveChangesAsync();
        await tx.CommitAsync();
        return TypedResults.Created($"/api/v1/signatures/{signature.Id}", new SignatureCreated(signature.Id, signature.Status));
    }

    private static async Task<Results<Ok<ReviewDecision>, ProblemHttpResult>> DecideAsync(long id, string decision, string? reason, XingeDb db, HeldMessages held,
        Revocations revocations, TimeProvider time, AuditLog audit, HttpContext http)
    {
        var review = await db.Reviews.FindAsync(id);
        if (review is null) return Problems.NotFound("review");
        if (review.Status != ReviewStatus.Pending) return Problems.Conflict("already-decided", $"this review was already {review.Status}");
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (review.Kind == HeldKind)
        {
            // The review and its messages are decided in one transaction, the engine's: one decision, whoever clicks.
            var released = await held.DecideAsync(review.EnterpriseId, review.SubjectId, decision == ReviewStatus.Approved, reason is null ? null : "content_rejected:" + reason,
                async (c, tx) => await Dapper.SqlMapper.ExecuteAsync(c,
                    "UPDATE reviews SET status = @decision, reason = @reason, decided_at = @now WHERE id = @id AND status = @pending",
                    new { decision, reason, now, id, pending = ReviewStatus.Pending }, tx) == 1);
            if (released < 0) return Problems.Conflict("already-decided", "this review was decided meanwhile");
            await audit.RecordAsync(http, "review." + decision, $"{review.Kind}:{review.SubjectId}", detail: reason, enterpriseId: review.EnterpriseId);
            return TypedResults.Ok(new ReviewDecision(id, decision));
        }
        await using var tx = await db.Database.BeginTransactionAsync();
        var changed = await db.Reviews.Where(r => r.Id == id && r.Status == ReviewStatus.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, decision).SetProperty(r => r.Reason, reason).SetProperty(r => r.DecidedAt, now));
        if (changed == 0) return Problems.Conflict("already-decided", "this review was decided meanwhile");
        if (review.Kind == SignatureKind)
        {
            await db.Signatures.Where(s => s.Id == review.SubjectId)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, decision).SetProperty(x => x.Reason, reason));
        }
        Revocation? templatesChanged = null;
        if (review.Kind == TemplateEndpoints.Kind)
        {
            await db.Templates.Where(t => t.Id == review.SubjectId)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, decision).SetProperty(x => x.Reason, reason));
            templatesChanged = await Revocations.WriteAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(), RevocationKind.Templates, review.EnterpriseId.ToString(), now);
        }
        await tx.CommitAsync();
        if (templatesChanged is not null) revocations.Apply(templatesChanged);
        await audit.RecordAsync(http, "review." + decision, $"{review.Kind}:{review.SubjectId}", detail: reason, enterpriseId: review.EnterpriseId);
        return TypedResults.Ok(new ReviewDecision(id, decision));
    }
}
