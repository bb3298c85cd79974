using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public sealed record CreateTemplate(string? Name, string? Category, string? Text);
public sealed record TemplateView(long Id, string Name, string Category, string Text, string Status, string? Reason, DateTimeOffset CreatedAt);
public sealed record TemplateCreated(long Id, string Status);

/// <summary>R-S1-7: an enterprise's templates (<c>/templates</c>), reviewed once in the operator's queue.</summary>
public static class TemplateEndpoints
{
    public const string Kind = "template";
    public const int MaxTemplates = 1000;

    /// <summary>The names an OTP template's code placeholder may have (any case), and any name ending in "code".</summary>
    private static readonly string[] CodeNames = ["code", "otp", "验证码", "校验码", "动态码", "短信码"];

    public static IEndpointRouteBuilder MapTemplates(this IEndpointRouteBuilder app)
    {
        var enterprise = app.MapGroup("/api/v1/templates").RequireAuthorization("enterprise").WithTags("Enterprise");
        enterprise.MapPost("", CreateAsync).RequireAuthorization(Rights.SignaturesManage);
        enterprise.MapGet("", ListAsync).RequireAuthorization(Rights.MessagesRead);
        enterprise.MapGet("/{id:long}", GetAsync).RequireAuthorization(Rights.MessagesRead);
        enterprise.MapDelete("/{id:long}", RemoveAsync).RequireAuthorization(Rights.SignaturesManage);
        return app;
    }

    /// <summary>What is wrong with a template's text for its category, if anything.</summary>
    public static string? TextProblem(string? text, string category, Composer composer, SensitiveWords words)
    {
        if (string.IsNullOrWhiteSpace(text)) return "text is required";
        if (Input.HasHiddenCharacters(text, lineBreaks: true)) return "text may not contain control characters other than line breaks, nor bidirectional formatting characters";
        if (text.Length > composer.MaxLength(category)) return $"a {category} template is at most {composer.MaxLength(category)} characters";
        var (names, problem) = TemplatePattern.Placeholders(text);
        if (problem is not null) return problem;
        if (TemplatePattern.Pieces(text).Sum(p => p.Count(c => !char.IsWhiteSpace(c) && !char.IsPunctuation(c))) < 2)
            return "a template needs fixed text of its own besides its placeholders";
        if (category == Category.Otp && !names.Any(IsCodeName))
            return "an OTP template carries the code as a placeholder, e.g. ${code}";
        if (category == Category.Marketing && !Composer.EndsWithOptOut(text))
            return "a marketing template ends with the opt-out wording, e.g. 退订回T or Reply STOP to opt out";
        if (words.Matcher.Find(text) is { Action: WordAction.Refuse } hit) return $"the text contains the word “{hit.Word}”, which is not allowed";
        return null;
    }

    private static bool IsCodeName(string name) =>
        CodeNames.Any(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) || name.EndsWith("code", StringComparison.OrdinalIgnoreCase);

    private static async Task<IResult> CreateAsync(CreateTemplate body, ClaimsPrincipal user, Database database, Composer composer, SensitiveWords words, AuditLog audit,
        TimeProvider time, HttpContext http)
    {
        var name = body.Name?.Trim();
        if (Input.NameProblem(name, "name", 50) is { } nameProblem) return Problems.Validation(nameProblem);
        if (!Category.IsValid(body.Category)) return Problems.Validation("category is otp, notification or marketing");
        if (TextProblem(body.Text, body.Category!, composer, words) is { } problem) return Problems.Validation(problem);
        var enterpriseId = Caller.From(user).Enterprise;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await FlowControlEndpoints.LockEnterpriseAsync(c, tx, enterpriseId);
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM templates WHERE enterprise_id = @enterpriseId", new { enterpriseId }, tx) >= MaxTemplates)
            return Problems.Conflict("too-many-templates", $"an enterprise has at most {MaxTemplates} templates; remove unused ones");
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM templates WHERE enterprise_id = @enterpriseId AND name = @name", new { enterpriseId, name }, tx) > 0)
            return Problems.Conflict("template-exists", "this enterprise already has a template of that name");
        var id = await c.ExecuteScalarAsync<long>(
            "INSERT INTO templates (enterprise_id, name, category, text, status, created_at) VALUES (@enterpriseId, @name, @category, @text, @status, @now) RETURNING id",
            new { enterpriseId, name, category = body.Category, text = body.Text, status = ReviewStatus.Pending, now }, tx);
        await c.ExecuteAsync(
            "INSERT INTO reviews (kind, subject_id, enterprise_id, content, status, created_at) VALUES (@kind, @id, @enterpriseId, @content, @status, @now)",
            new { kind = Kind, id, enterpriseId, content = $"{name} ({body.Category}): {body.Text}", status = ReviewStatus.Pending, now }, tx);
        await tx.CommitAsync();
        await audit.RecordAsync(http, "template.created", $"template:{id}", detail: name, enterpriseId: enterpriseId);
        return Results.Created($"/api/v1/templates/{id}", new TemplateCreated(id, ReviewStatus.Pending));
    }

    private const string Columns = "id AS Id, enterprise_id AS EnterpriseId, name AS Name, category AS Category, text AS Text, status AS Status, reason AS Reason, created_at AS CreatedAt";

    private static TemplateView View(MessageTemplate t) =>
        new(t.Id, t.Name, t.Category, t.Text, t.Status, t.Reason, DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedAt));

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, Database database, string? status)
    {
        await using var c = await database.OpenAsync();
        var rows = await c.QueryAsync<MessageTemplate>(
            $"SELECT {Columns} FROM templates WHERE enterprise_id = @enterpriseId{(status is null ? "" : " AND status = @status")} ORDER BY id DESC",
            new { enterpriseId = Caller.From(user).Enterprise, status });
        return Results.Ok(new Page<TemplateView>(rows.Select(View).ToList(), null));
    }

    private static async Task<IResult> GetAsync(long id, ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        var t = await c.QuerySingleOrDefaultAsync<MessageTemplate>($"SELECT {Columns} FROM templates WHERE id = @id AND enterprise_id = @enterpriseId",
            new { id, enterpriseId = Caller.From(user).Enterprise });
        return t is null ? Problems.NotFound("template") : Results.Ok(View(t));
    }

    /// <summary>A removed template sends nothing more and leaves the review queue; messages already sent by it are not touched.</summary>
    private static async Task<IResult> RemoveAsync(long id, ClaimsPrincipal user, Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        var enterpriseId = Caller.From(user).Enterprise;
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var name = await c.QuerySingleOrDefaultAsync<string>("DELETE FROM templates WHERE id = @id AND enterprise_id = @enterpriseId RETURNING name", new { id, enterpriseId }, tx);
        if (name is null) return Problems.NotFound("template");
        await c.ExecuteAsync("DELETE FROM reviews WHERE kind = @kind AND subject_id = @id AND status = @pending", new { kind = Kind, id, pending = ReviewStatus.Pending }, tx);
        await revocations.CommitAsync(c, tx, RevocationKind.Templates, enterpriseId.ToString());
        await audit.RecordAsync(http, "template.removed", $"template:{id}", detail: name, enterpriseId: enterpriseId);
        return Results.NoContent();
    }
}
