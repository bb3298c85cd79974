namespace Xinge.Simulator;

public sealed record HandsetMessage(string From, string Text, DateTimeOffset ReceivedAt);

/// <summary>An SMS the handset sent (MO).</summary>
public sealed record HandsetSent(string To, string Text, DateTimeOffset SentAt);

public enum DeliveryFailure
{
    None,
    Undeliverable,
}

/// <summary>A virtual mobile phone on the simulated network.</summary>
public sealed class Handset(string msisdn)
{
    internal readonly object Gate = new();
    internal readonly List<HandsetMessage> Inbox = [];
    internal readonly List<HandsetSent> Outbox = [];
    /// <summary>Submitted parts waiting for the handset to come back into coverage.</summary>
    internal readonly List<PendingPart> Pending = [];
    /// <summary>ESMEs that asked (set_dpf) to be told when this handset is reachable: (system_id, esme address).</summary>
    internal readonly HashSet<(string SystemId, string EsmeAddr)> AlertRequests = [];
    /// <summary>Concatenated messages being reassembled: (from, reference) → parts by sequence.</summary>
    internal readonly Dictionary<(string From, int Reference), string?[]> Reassembly = [];

    public string Msisdn { get; } = msisdn;
    public bool Reachable { get; internal set; } = true;
    public DeliveryFailure Failure { get; internal set; } = DeliveryFailure.None;

    public IReadOnlyList<HandsetMessage> Messages
    {
        get
        {
            lock (Gate) return Inbox.ToList();
        }
    }

    public IReadOnlyList<HandsetSent> Sent
    {
        get
        {
            lock (Gate) return Outbox.ToList();
        }
    }
}

internal sealed record PendingPart(string SystemId, string MessageId, string From, string Text, int Reference, int Total, int Sequence, DateTimeOffset SubmittedAt);
