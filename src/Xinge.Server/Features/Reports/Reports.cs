namespace Xinge.Server.Features.Reports;

/// <summary>
/// Settled messages counted per hour (UTC), enterprise, connector, category and outcome (R-S5-2). Written in the
/// transaction that ends the messages, so the figures are exact; read by the reports instead of the messages.
/// </summary>
public sealed class ReportHour
{
    /// <summary>The hour's start, Unix milliseconds UTC.</summary>
    public long Hour { get; set; }
    public long EnterpriseId { get; set; }
    public string Connector { get; set; } = "";
    /// <summary>The recipient's network (R-S1-15), as the routing data knew it when the message ended.</summary>
    public string Carrier { get; set; } = "";
    public string Category { get; set; } = "";
    /// <summary><c>delivered</c> or <c>failed</c>.</summary>
    public string Outcome { get; set; } = "";
    /// <summary>Why it failed (the message's error, else its final status); empty when delivered.</summary>
    public string Reason { get; set; } = "";
    public long Messages { get; set; }
    public long Segments { get; set; }
    /// <summary>What was charged, fen: the price of the delivered messages (billing is on success).</summary>
    public long Revenue { get; set; }
}

public static class ReportOutcome
{
    public const string Delivered = "delivered";
    public const string Failed = "failed";
}
