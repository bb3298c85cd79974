namespace Xinge.Server.Features.Messaging;

public static class MessageStatus
{
    public const string Scheduled = "scheduled";
    public const string Held = "held";
    public const string Queued = "queued";
    public const string Submitted = "submitted";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Rejected = "rejected";

    public static readonly string[] All = [Scheduled, Held, Queued, Submitted, Delivered, Failed, Expired, Rejected];
    public static bool IsFinal(string s) => s is Delivered or Failed or Expired or Rejected;
}

public static class Category
{
    public const string Otp = "otp";
    public const string Notification = "notification";
    public const string Marketing = "marketing";

    /// <summary>Dispatch lanes: OTP before notifications before marketing (R-S1-11).</summary>
    public static int Priority(string category) => category switch { Otp => 0, Notification => 1, _ => 2 };
    public static bool IsValid(string? c) => c is Otp or Notification or Marketing;
}

public sealed class Message
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public long JobId { get; set; }
    /// <summary>Its job keeps counters on its row (<see cref="JobCounters"/>): the status writer counts this message there.</summary>
    public bool JobCounted { get; set; }
    /// <summary>The recipient, E.164.</summary>
    public string Recipient { get; set; } = "";
    /// <summary>The sender number: the platform's 106 number and the enterprise's extension.</summary>
    public string Sender { get; set; } = "";
    public string Text { get; set; } = "";
    public string Category { get; set; } = "";
    public int Priority { get; set; }
    public int Encoding { get; set; }
    public int Segments { get; set; }
    public long Price { get; set; }
    public string Status { get; set; } = "";
    public string? Error { get; set; }
    /// <summary>The connector (lane) it goes out through: chosen when it is stored, recorded again when it is submitted.</summary>
    public string? Connector { get; set; }
    public long? SendAt { get; set; }
    /// <summary>When it expires if still not delivered: the validity an ESME asked for (validity_period); null = the platform's.</summary>
    public long? ExpiresAt { get; set; }
    public long? LeaseUntil { get; set; }
    /// <summary>The node (Xinge:NodeId) whose dispatcher holds the lease; a restarted node takes its own claims back at once.</summary>
    public int? LeaseOwner { get; set; }
    public int Attempts { get; set; }
    public long CreatedAt { get; set; }
    public long? SubmittedAt { get; set; }
    public long? DoneAt { get; set; }
    public string? ClientRef { get; set; }
    /// <summary><c>smpp:&lt;system_id&gt;</c> when an ESME submitted it and asked for a receipt (registered_delivery).</summary>
    public string? Origin { get; set; }
}

/// <summary>One submit_sm of a message: the SMSC's message id for it and the state its receipt reported.</summary>
public sealed class MessagePart
{
    public string Connector { get; set; } = "";
    public string SmscId { get; set; } = "";
    public long MessageId { get; set; }
    public int Part { get; set; }
    public int Parts { get; set; }
    /// <summary><c>submitted</c> until the receipt's stat (DELIVRD, UNDELIV, …) arrives.</summary>
    public string State { get; set; } = "";
}

public sealed class Job
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string Category { get; set; } = "";
    public int Total { get; set; }
    public int Accepted { get; set; }
    public int Rejected { get; set; }
    public string? ClientRef { get; set; }
    public long? SendAt { get; set; }
    public long CreatedAt { get; set; }
    // Counters kept by the status writer in the same transaction as the messages, so a job's status is one row read.
    /// <summary>Messages that went from queued to submitted.</summary>
    public int Sent { get; set; }
    public int Delivered { get; set; }
    public int Failed { get; set; }
    public int Expired { get; set; }
    /// <summary>Of the failed and expired, those that ended before they were sent.</summary>
    public int EndedUnsent { get; set; }
    /// <summary><c>paused</c> or <c>cancelled</c> by the enterprise; null while it runs.</summary>
    public string? State { get; set; }
}

public sealed class JobRejection
{
    public long Id { get; set; }
    public long JobId { get; set; }
    public int Line { get; set; }
    public string Recipient { get; set; } = "";
    public string Reason { get; set; } = "";
}

public sealed class InboundMessage
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    /// <summary>The handset that replied, E.164.</summary>
    public string Sender { get; set; } = "";
    /// <summary>The number it replied to (the enterprise's 106 number).</summary>
    public string Recipient { get; set; } = "";
    public string Text { get; set; } = "";
    public long ReceivedAt { get; set; }
}

public sealed class Webhook
{
    public long EnterpriseId { get; set; }
    public string Url { get; set; } = "";
    public string Secret { get; set; } = "";
}

/// <summary>The webhook outbox: an event waiting to be POSTed, retried with back-off until it is taken.</summary>
public sealed class WebhookDelivery
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string Payload { get; set; } = "";
    public int Attempts { get; set; }
    public long NextAttemptAt { get; set; }
    public bool Done { get; set; }
    public string? LastError { get; set; }
}

public sealed class IdempotentRequest
{
    public long EnterpriseId { get; set; }
    public string Key { get; set; } = "";
    public string Response { get; set; } = "";
    /// <summary>SHA-256 of the request the key was first used with: the same key with another request is refused.</summary>
    public string? Fingerprint { get; set; }
    public long CreatedAt { get; set; }
}
