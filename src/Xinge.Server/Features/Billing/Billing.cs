namespace Xinge.Server.Features.Billing;

public static class LedgerKind
{
    public const string Credit = "credit";
    public const string Reserve = "reserve";
    public const string Charge = "charge";
    public const string Refund = "refund";
}

/// <summary>
/// One movement of money. Reservations, charges and refunds are written per batch with the count of messages
/// they cover; the ledger reconciles: credits = balance + reserved + charges.
/// </summary>
public sealed class LedgerEntry
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string Kind { get; set; } = "";
    public long Amount { get; set; }
    public int Messages { get; set; }
    public string? Reference { get; set; }
    public long At { get; set; }
}
