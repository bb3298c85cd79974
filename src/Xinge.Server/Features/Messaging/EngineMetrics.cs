using Prometheus;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// The engine's instruments, exported at <c>/metrics</c> in Prometheus text format (prometheus-net): what flows through
/// it, the lanes, and the batch sizes and commit times that set its pace.
/// </summary>
public static class EngineMetrics
{
    private static readonly double[] BatchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 20_000, 50_000];
    private static readonly double[] SecondBuckets = Histogram.ExponentialBuckets(0.0001, 2, 16);

    public static readonly Counter Accepted = Metrics.CreateCounter("xinge_messages_accepted_total", "Messages accepted and stored", "category");
    public static readonly Counter Submitted = Metrics.CreateCounter("xinge_messages_submitted_total", "Messages whose every part the SMSC took");
    public static readonly Counter Receipts = Metrics.CreateCounter("xinge_receipts_total", "Delivery receipts received, by stat", "stat");
    public static readonly Counter Ended = Metrics.CreateCounter("xinge_messages_ended_total", "Messages that reached their end, by status", "status");

    public static readonly Histogram StoreBatch = Metrics.CreateHistogram("xinge_store_batch_messages", "Messages per group commit of the store", new HistogramConfiguration { Buckets = BatchBuckets });
    public static readonly Histogram StoreCommit = Metrics.CreateHistogram("xinge_store_commit_seconds", "Time to write and commit one store batch", new HistogramConfiguration { Buckets = SecondBuckets });
    public static readonly Histogram StatusBatch = Metrics.CreateHistogram("xinge_status_batch_events", "Engine events per status-writer commit", new HistogramConfiguration { Buckets = BatchBuckets });
    public static readonly Histogram StatusCommit = Metrics.CreateHistogram("xinge_status_commit_seconds", "Time to write and commit one status batch", new HistogramConfiguration { Buckets = SecondBuckets });
    public static readonly Histogram Claim = Metrics.CreateHistogram("xinge_claim_messages", "Messages per lane claim", new HistogramConfiguration { Buckets = BatchBuckets });
    public static readonly Histogram SmscRoundTrip = Metrics.CreateHistogram("xinge_smsc_round_trip_seconds", "submit_sm to submit_sm_resp", new HistogramConfiguration { Buckets = SecondBuckets });

    private static readonly Gauge Queued = Metrics.CreateGauge("xinge_lane_queued", "Messages waiting in each lane", "connector", "lane");
    private static readonly Gauge InFlight = Metrics.CreateGauge("xinge_lane_in_flight", "Messages a lane has claimed and not yet settled", "connector");

    /// <summary>The lanes' state as the dispatcher sees it, read at each scrape (and only then).</summary>
    public static Func<CancellationToken, Task<IEnumerable<(string Connector, string Lane, long Queued)>>> LaneQueued { get; set; } = _ => Task.FromResult(Enumerable.Empty<(string, string, long)>());
    public static Func<IEnumerable<(string Connector, int InFlight)>> LaneInFlight { get; set; } = () => [];

    static EngineMetrics()
    {
        Metrics.DefaultRegistry.AddBeforeCollectCallback(async ct =>
        {
            var queued = await LaneQueued(ct);
            // A lane that emptied is in no row of the count: every known lane starts from zero.
            foreach (var labels in Queued.GetAllLabelValues()) Queued.WithLabels(labels).Set(0);
            foreach (var l in queued) Queued.WithLabels(l.Connector, l.Lane).Set(l.Queued);
            foreach (var l in LaneInFlight()) InFlight.WithLabels(l.Connector).Set(l.InFlight);
        });
    }

    /// <summary>A receipt's stat as a label: the SMSC writes what it likes, and a label must not take every value it sends.</summary>
    public static string KnownStat(string stat) => stat is "DELIVRD" or "UNDELIV" or "EXPIRED" or "REJECTD" or "DELETED" or "ACCEPTD" or "UNKNOWN" or "ENROUTE" ? stat : "other";
}
