using System.Text.Json;

namespace Xinge.Server.Features.Messaging;

// The shapes of the enterprise messaging API (CONTRACT.md): what OpenAPI documents and clients read.

public sealed record SendMessagesRequest(JsonElement? To, string? Signature, string? Category, string? Text,
    DateTimeOffset? SendAt, string? ClientRef, JsonElement? TemplateId, Dictionary<string, string>? Params);

public sealed record JobRecipient(string? To, Dictionary<string, string>? Params);

/// <summary>A job: <c>params</c> are every recipient's, and a recipient's own <c>params</c> add to them or replace them.</summary>
public sealed record CreateJobRequest(List<JobRecipient>? Recipients, string? Signature, string? Category, string? Text,
    DateTimeOffset? SendAt, string? ClientRef, JsonElement? TemplateId, Dictionary<string, string>? Params);

public sealed record WebhookRequest(string? Url, string? Secret);

public sealed record SentMessage(string Id, string To, int Segments, long Price);

public sealed record RejectedRecipient(string To, string Reason);

/// <summary>202 to POST /messages.</summary>
public sealed record SendMessagesResponse(string JobId, IReadOnlyList<SentMessage> Messages, IReadOnlyList<RejectedRecipient> Rejected);

/// <summary>202 to POST /jobs.</summary>
public sealed record JobAccepted(string JobId, int Accepted, int Rejected);

public sealed record MessageView(string Id, string JobId, string To, string From, string Category, string Status, string? Error, int Segments,
    long Price, long Charged, string? CreatedAt, string? SendAt, string? SubmittedAt, string? DoneAt, string? ClientRef);

public sealed record JobView(string Id, string Status, string Category, int Total, int Accepted, int Rejected, IReadOnlyDictionary<string, long> Counts,
    string? ClientRef, string? SendAt, string? CreatedAt);

public sealed record JobRejectionView(int Line, string To, string Reason);

/// <summary>Why a job's messages failed: each reason with how many.</summary>
public sealed record JobFailureView(string Reason, long Messages);

public sealed record JobStateView(string Id, string Status);

public sealed record CancelledMessage(string Id, string Status, string Error);

public sealed record InboundView(string Id, string From, string To, string Text, string? ReceivedAt);

public sealed record WebhookView(string Url);

/// <summary>What the enterprise's endpoint answered a test event: its HTTP status, or why nothing came back.</summary>
public sealed record WebhookTestResult(bool Ok, int? Status, string? Error);

/// <summary>A page of a list, newest first; <c>next</c> is the cursor of the following page, null on the last.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);
