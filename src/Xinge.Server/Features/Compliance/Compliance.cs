namespace Xinge.Server.Features.Compliance;

public static class ReviewStatus
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Rejected = "rejected";
}

/// <summary>R-S1-2: the 【signature】 every SMS starts with; the operator approves it before use.</summary>
public sealed class Signature
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string Text { get; set; } = "";
    public string Status { get; set; } = ReviewStatus.Pending;
    public string? Reason { get; set; }
    public long CreatedAt { get; set; }
}

/// <summary>
/// R-S1-7: an enterprise's message template with <c>${name}</c> placeholders, reviewed once by the operator. A message
/// sent by it (<c>templateId</c>), or whose text matches it, needs no review of its own.
/// </summary>
public sealed class MessageTemplate
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string Name { get; set; } = "";
    public string Category { get; set; } = "";
    public string Text { get; set; } = "";
    public string Status { get; set; } = ReviewStatus.Pending;
    public string? Reason { get; set; }
    public long CreatedAt { get; set; }
}

/// <summary>An item in the operator's review queue: a signature, a template or a held request.</summary>
public sealed class Review
{
    public long Id { get; set; }
    public string Kind { get; set; } = "";
    public long SubjectId { get; set; }
    public long EnterpriseId { get; set; }
    public string Content { get; set; } = "";
    public string Status { get; set; } = ReviewStatus.Pending;
    public string? Reason { get; set; }
    public long CreatedAt { get; set; }
    public long? DecidedAt { get; set; }
}

/// <summary>R-S1-10: a number that unsubscribed from one enterprise's marketing.</summary>
public sealed class OptOut
{
    public long EnterpriseId { get; set; }
    public string Msisdn { get; set; } = "";
    public long At { get; set; }
}
