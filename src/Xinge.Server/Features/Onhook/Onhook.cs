namespace Xinge.Server.Features.Onhook;

/// <summary>An enterprise hotline (<c>hotlines</c>): calls to it end in the enterprise's on-hook SMS. Its number is E.164, unique on the platform.</summary>
public sealed class Hotline
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string Number { get; set; } = "";
    public long CreatedAt { get; set; }
}

/// <summary>The on-hook service of an enterprise (<c>onhook_services</c>): open or closed by the operator, and the zone its days and windows are counted in.</summary>
public sealed class OnhookService
{
    public long EnterpriseId { get; set; }
    public bool Open { get; set; }
    public string TimeZone { get; set; } = "";
    public long ChangedAt { get; set; }
}

/// <summary>
/// A policy (<c>onhook_policies</c>, R-S2-2, R-S2-3): what a caller of one hotline gets for each outcome, when, and
/// how often. Of a hotline's enabled policies with content for the call's outcome the first by priority (then by id)
/// decides; it never falls through to the next.
/// </summary>
public sealed class OnhookPolicy
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public long HotlineId { get; set; }
    public string Name { get; set; } = "";
    public string Signature { get; set; } = "";
    public string Category { get; set; } = "";
    /// <summary>0: at once; else this many minutes after the call ended.</summary>
    public int DelayMinutes { get; set; }
    public string? ContentAnswered { get; set; }
    public string? ContentBusy { get; set; }
    public string? ContentNoAnswer { get; set; }
    public bool NoRepeat { get; set; }
    /// <summary>With <see cref="NoRepeat"/>: a caller gets at most one SMS in this many days; null: one ever.</summary>
    public int? PeriodDays { get; set; }
    /// <summary>Minutes of the day (the service's zone) between which a call may end to get its SMS; null: any time.</summary>
    public int? WindowFrom { get; set; }
    public int? WindowTo { get; set; }
    public int? DailyLimit { get; set; }
    public int Priority { get; set; }
    public bool Enabled { get; set; }
    public long CreatedAt { get; set; }
    public long UpdatedAt { get; set; }
}

/// <summary>What became of a call to a hotline (<c>onhook_decisions</c>), one row a call, and of its SMS.</summary>
public sealed class OnhookDecision
{
    public string CallId { get; set; } = "";
    public long EnterpriseId { get; set; }
    public long HotlineId { get; set; }
    public long? PolicyId { get; set; }
    public string Caller { get; set; } = "";
    /// <summary>answered, busy or no_answer: the switch's outcome as the policies know it.</summary>
    public string Outcome { get; set; } = "";
    public long EndedAt { get; set; }
    /// <summary>The call's end date in the service's zone, as yyyymmdd.</summary>
    public int Day { get; set; }
    public string Decision { get; set; } = "";
    /// <summary>For a decision to send: when (UTC milliseconds), and what became of it: pending, sent (with the message) or failed (with why).</summary>
    public long? SendAt { get; set; }
    public string? SendState { get; set; }
    public long? MessageId { get; set; }
    public string? Error { get; set; }
    public long? LeaseUntil { get; set; }
}

/// <summary>How many SMS a policy sent on a day (<c>onhook_daily</c>): the daily peak's counter.</summary>
public sealed class OnhookDaily
{
    public long PolicyId { get; set; }
    public int Day { get; set; }
    public int Sent { get; set; }
}

/// <summary>When a policy last sent to a caller (<c>onhook_callers</c>): the no-repeat rule's memory.</summary>
public sealed class OnhookCaller
{
    public long PolicyId { get; set; }
    public string Caller { get; set; } = "";
    public long LastSentAt { get; set; }
}

public static class Decisions
{
    public const string Sent = "sent", Repeat = "suppressed_repeat", Window = "suppressed_window", Peak = "suppressed_peak",
        OptedOut = "suppressed_opt_out", NoPolicy = "no_policy", Closed = "service_closed";
}

public static class SendStates
{
    public const string Pending = "pending", Sent = "sent", Failed = "failed";
}
