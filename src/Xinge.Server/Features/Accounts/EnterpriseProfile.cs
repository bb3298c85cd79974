using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Accounts;

/// <summary>The scan of an enterprise's business licence (营业执照) that the operator checks before verifying it: one per enterprise, the latest.</summary>
public sealed class LicenceDocument
{
    public long EnterpriseId { get; set; }
    public string FileName { get; set; } = "";
    public string ContentType { get; set; } = "";
    public byte[] Content { get; set; } = [];
    public long UploadedAt { get; set; }
    public string UploadedBy { get; set; } = "";
}

public sealed record LicenceDocumentView(string FileName, string ContentType, long Size, DateTimeOffset UploadedAt, string UploadedBy);

/// <summary>An enterprise as it sees itself: its name and licence, whether the operator verified it, and the document it sent.</summary>
public sealed record EnterpriseProfileView(long Id, string Name, string LicenceNumber, bool Verified, bool Suspended, string Extension, int UnitPrice, LicenceDocumentView? LicenceDocument,
    string? VerificationNote = null);

public static class EnterpriseProfileEndpoints
{
    public const int MaxDocumentBytes = 5 * 1024 * 1024;

    public static IEndpointRouteBuilder MapEnterpriseProfile(this IEndpointRouteBuilder app)
    {
        var enterprise = app.MapGroup("/api/v1").RequireAuthorization("enterprise").WithTags("Enterprise");
        enterprise.MapGet("/enterprise", ProfileAsync).RequireAuthorization(Rights.MessagesRead);
        // A bearer call, never a browser's cookie: no antiforgery token to ask for.
        enterprise.MapPut("/enterprise/licence-document", UploadAsync).RequireAuthorization(Rights.ProfileManage).DisableAntiforgery()
            .WithMetadata(new RequestSizeLimitAttribute(MaxDocumentBytes + 64 * 1024))
            .Produces<LicenceDocumentView>().ProducesProblem(400).ProducesProblem(413).ProducesProblem(415);
        var admin = app.MapGroup("/api/v1/admin/enterprises").RequireAuthorization(Rights.EnterprisesRead).WithTags("Operator");
        admin.MapGet("/{id:long}/licence-document", DocumentAsync).Produces(200, contentType: "application/octet-stream").ProducesProblem(404);
        admin.MapGet("/{id:long}/licence-document/info", async (long id, Database database) =>
            await InfoAsync(database, id) is { } info ? Results.Ok(info) : Problems.NotFound("licence document")).Produces<LicenceDocumentView>().ProducesProblem(404);
        return app;
    }

    private static async Task<Ok<EnterpriseProfileView>> ProfileAsync(ClaimsPrincipal user, Database database)
    {
        var id = Caller.From(user).Enterprise;
        await using var c = await database.OpenAsync();
        var e = await c.QuerySingleAsync<Enterprise>(
            "SELECT id AS Id, name AS Name, licence_number AS LicenceNumber, verified AS Verified, suspended AS Suspended, extension AS Extension, unit_price AS UnitPrice, " +
            "verification_note AS VerificationNote " +
            "FROM enterprises WHERE id = @id", new { id });
        return TypedResults.Ok(new EnterpriseProfileView(e.Id, e.Name, e.LicenceNumber, e.Verified, e.Suspended, e.Extension, e.UnitPrice, await InfoAsync(database, id),
            e.VerificationNote));
    }

    private static async Task<LicenceDocumentView?> InfoAsync(Database database, long enterpriseId)
    {
        await using var c = await database.OpenAsync();
        var d = await c.QuerySingleOrDefaultAsync<(string FileName, string ContentType, long Size, long UploadedAt, string UploadedBy)?>(
            "SELECT file_name, content_type, LENGTH(content), uploaded_at, uploaded_by FROM licence_documents WHERE enterprise_id = @enterpriseId", new { enterpriseId });
        return d is { } v ? new LicenceDocumentView(v.FileName, v.ContentType, v.Size, DateTimeOffset.FromUnixTimeMilliseconds(v.UploadedAt), v.UploadedBy) : null;
    }

    /// <summary>
    /// A PDF, JPEG or PNG of at most 5 MB, known by its first bytes (what the browser claims is not trusted). It replaces
    /// the previous one; the operator verifies the enterprise against it.
    /// </summary>
    private static async Task<IResult> UploadAsync(ClaimsPrincipal user, Database database, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var (file, problem) = await Upload.FileAsync(http, "the document");
        if (file is null) return problem!;
        if (file.Length > MaxDocumentBytes) return Problems.Of(413, "too-large", "Request too large", "the document is at most 5 MB");
        var content = new byte[file.Length];
        await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(content, http.RequestAborted);
        if (KindOf(content) is not { } kind) return Problems.Validation("the document is a PDF, JPEG or PNG file");
        var name = Path.GetFileName(file.FileName ?? "");
        if (name.Length is 0 or > 100 || Input.HasHiddenCharacters(name)) name = "licence" + kind.Extension;
        var caller = Caller.From(user);
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync();
        await c.ExecuteAsync(
            "INSERT INTO licence_documents (enterprise_id, file_name, content_type, content, uploaded_at, uploaded_by) VALUES (@e, @name, @type, @content, @at, @by) " +
            "ON CONFLICT (enterprise_id) DO UPDATE SET file_name = excluded.file_name, content_type = excluded.content_type, content = excluded.content, " +
            "uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by",
            new { e = caller.Enterprise, name, type = kind.ContentType, content, at, by = caller.Name });
        await audit.RecordAsync(http, "enterprise.licence_uploaded", $"enterprise:{caller.Enterprise}", detail: $"{name}, {content.Length} bytes");
        return Results.Ok(new LicenceDocumentView(name, kind.ContentType, content.Length, DateTimeOffset.FromUnixTimeMilliseconds(at), caller.Name));
    }

    /// <summary>The document, as a download (never shown inline: it is a file someone else sent).</summary>
    private static async Task<IResult> DocumentAsync(long id, Database database, HttpContext http)
    {
        await using var c = await database.OpenAsync();
        var d = await c.QuerySingleOrDefaultAsync<LicenceDocument>(
            "SELECT file_name AS FileName, content_type AS ContentType, content AS Content FROM licence_documents WHERE enterprise_id = @id", new { id });
        if (d is null) return Problems.NotFound("licence document");
        http.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.File(d.Content, d.ContentType, d.FileName);
    }

    private sealed record DocumentKind(string ContentType, string Extension);

    private static DocumentKind? KindOf(ReadOnlySpan<byte> b) =>
        b.StartsWith("%PDF-"u8) ? new("application/pdf", ".pdf")
        : b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? new("image/jpeg", ".jpg")
        : b.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? new("image/png", ".png")
        : null;
}
