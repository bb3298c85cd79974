using System.Diagnostics.Metrics;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// The engine's instruments (System.Diagnostics.Metrics, exported at <c>/metrics</c> in Prometheus text format):
/// what flows through it, and the batch sizes and commit times that set its pace.
/// </summary>
public static class EngineMetrics
{
    public static readonly Meter Meter = new("Xinge");

    public static readonly Counter<long> Accepted = Meter.CreateCounter<long>("messages_accepted", description: "Messages accepted and stored, by category");
    public static readonly Counter<long> Submitted = Meter.CreateCounter<long>("messages_submitted", description: "Messages whose every part the SMSC took");
    public static readonly Counter<long> Receipts = Meter.CreateCounter<long>("receipts", description: "Delivery receipts received, by stat");
    public static readonly Counter<long> Ended = Meter.CreateCounter<long>("messages_ended", description: "Messages that reached their end, by status");

    public static readonly Histogram<int> StoreBatch = Meter.CreateHistogram<int>("store_batch_messages", description: "Messages per group commit of the store");
    public static readonly Histogram<double> StoreCommit = Meter.CreateHistogram<double>("store_commit_seconds", "s", "Time to write and commit one store batch");
    public static readonly Histogram<int> StatusBatch = Meter.CreateHistogram<int>("status_batch_events", description: "Engine events per status-writer commit");
    public static readonly Histogram<double> StatusCommit = Meter.CreateHistogram<double>("status_commit_seconds", "s", "Time to write and commit one status batch");
    public static readonly Histogram<int> Claim = Meter.CreateHistogram<int>("claim_messages", description: "Messages per dispatcher claim");
    /// <summary>A receipt's stat as a label: the SMSC writes what it likes, and a label must not take every value it sends.</summary>
    public static string KnownStat(string stat) => stat is "DELIVRD" or "UNDELIV" or "EXPIRED" or "REJECTD" or "DELETED" or "ACCEPTD" or "UNKNOWN" or "ENROUTE" ? stat : "other";

    public static readonly Histogram<double> SmscRoundTrip = Meter.CreateHistogram<double>("smsc_round_trip_seconds", "s", "submit_sm to submit_sm_resp");
}
