namespace Xinge.Server.Features.Messaging;

/// <summary>
/// A job's counts: a large job (a bulk send) keeps counters on its row, moved by the status writer with each batch,
/// so reading them never counts its rows. A small one (a <c>POST /messages</c> of at most 1000, an SMPP submit) is
/// counted from its messages when it is read: one job row update for every message sent and ended cost more than
/// counting at most 1000 rows by their job's index on the rare read.
/// </summary>
public static class JobCounters
{
    /// <summary>Jobs with more accepted messages than this keep counters on their row.</summary>
    public const int KeptAbove = 1000;

    /// <summary>Whether a job of this many accepted messages keeps counters; each message records it (job_counted).</summary>
    public static bool Keeps(int accepted) => accepted > KeptAbove;

    private static readonly string Kept = $"jobs.accepted > {KeptAbove}";

    private const string Ended = "'delivered', 'failed', 'expired'";

    /// <param name="kept">The job row's own counter (an expression over <c>jobs</c>).</param>
    private static string Counted(string kept, string fromMessages) =>
        $"CASE WHEN {Kept} THEN {kept} ELSE (SELECT {fromMessages} FROM messages m WHERE m.job_id = jobs.id) END";

    /// <summary>The counters of a row of <c>jobs</c> (named so in the query), kept or counted.</summary>
    public static readonly string Sent = Counted("jobs.sent", "COUNT(m.submitted_at)");
    public static readonly string Delivered = Counted("jobs.delivered", "COUNT(CASE WHEN m.status = 'delivered' THEN 1 END)");
    public static readonly string Failed = Counted("jobs.failed", "COUNT(CASE WHEN m.status = 'failed' THEN 1 END)");
    public static readonly string Expired = Counted("jobs.expired", "COUNT(CASE WHEN m.status = 'expired' THEN 1 END)");
    public static readonly string EndedUnsent = Counted("jobs.ended_unsent", $"COUNT(CASE WHEN m.status IN ({Ended}) AND m.submitted_at IS NULL THEN 1 END)");
    public static readonly string EndedAll = Counted("jobs.delivered + jobs.failed + jobs.expired", $"COUNT(CASE WHEN m.status IN ({Ended}) THEN 1 END)");
}
