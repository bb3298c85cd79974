using System.Buffers.Binary;
using System.Text;
using Dapper;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Messaging;

/// <summary>What an enterprise asks of its messages: a filter, the page it wants (a cursor), newest first.</summary>
public sealed record MessageFilter(string? Status, string? To, string? ClientRef, long? JobId, DateTimeOffset? Since, DateTimeOffset? Until, long? Before, int Limit);

/// <summary>The opaque cursor of a list: the id the next page starts below.</summary>
public static class Cursor
{
    public static string Of(long id)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, id);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static bool TryRead(string? cursor, out long? id)
    {
        id = null;
        if (string.IsNullOrEmpty(cursor)) return true;
        if (cursor.Length != 11) return false;
        try
        {
            var bytes = Convert.FromBase64String(cursor.Replace('-', '+').Replace('_', '/') + "=");
            id = BinaryPrimitives.ReadInt64BigEndian(bytes);
            return id > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>
/// The enterprise's reads of its messages and jobs. Lists page by id (ids grow with time, so a time range is an id
/// range), and a job's counts come from its counters (<see cref="JobCounters"/>): a large job's are never counted from its rows.
/// </summary>
public sealed class MessageQueries(Database database, TimeProvider time)
{
    public static string? Iso(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz") : null;

    private const string MessageColumns =
        "id AS Id, job_id AS JobId, recipient AS Recipient, sender AS Sender, category AS Category, status AS Status, error AS Error, " +
        "segments AS Segments, price AS Price, created_at AS CreatedAt, send_at AS SendAt, submitted_at AS SubmittedAt, done_at AS DoneAt, client_ref AS ClientRef";

    private static MessageView View(Message m) => new(m.Id.ToString(), m.JobId.ToString(), m.Recipient, m.Sender, m.Category, m.Status, m.Error, m.Segments,
        m.Price, m.Status == MessageStatus.Delivered ? m.Price : 0, Iso(m.CreatedAt), Iso(m.SendAt), Iso(m.SubmittedAt), Iso(m.DoneAt), m.ClientRef);

    public async Task<MessageView?> MessageAsync(long enterpriseId, long id)
    {
        await using var c = await database.OpenAsync();
        var m = await c.QuerySingleOrDefaultAsync<Message>($"SELECT {MessageColumns} FROM messages WHERE id = @id AND enterprise_id = @enterpriseId", new { id, enterpriseId });
        return m is null ? null : View(m);
    }

    public async Task<Page<MessageView>> MessagesAsync(long enterpriseId, MessageFilter f)
    {
        var sql = new StringBuilder($"SELECT {MessageColumns} FROM messages WHERE enterprise_id = @enterpriseId");
        if (f.Before is not null) sql.Append(" AND id < @Before");
        if (f.Since is { } since) sql.Append(" AND id >= @sinceId");
        if (f.Until is { } until) sql.Append(" AND id < @untilId");
        if (f.Status is not null) sql.Append(" AND status = @Status");
        if (f.To is not null) sql.Append(" AND recipient = @To");
        if (f.ClientRef is not null) sql.Append(" AND client_ref = @ClientRef");
        if (f.JobId is not null) sql.Append(" AND job_id = @JobId");
        sql.Append(" ORDER BY id DESC LIMIT @take");
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<Message>(sql.ToString(), new
        {
            enterpriseId,
            f.Before,
            f.Status,
            f.To,
            f.ClientRef,
            f.JobId,
            take = f.Limit + 1,
            sinceId = f.Since is { } s ? IdGenerator.FirstIdAt(s) : 0,
            untilId = f.Until is { } u ? IdGenerator.FirstIdAt(u.AddMilliseconds(1)) : 0,
        })).ToList();
        var more = rows.Count > f.Limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<MessageView>(rows.Select(View).ToList(), more ? Cursor.Of(rows[^1].Id) : null);
    }

    private static readonly string JobColumns =
        "id AS Id, category AS Category, total AS Total, accepted AS Accepted, rejected AS Rejected, client_ref AS ClientRef, send_at AS SendAt, " +
        $"created_at AS CreatedAt, {JobCounters.Sent} AS Sent, {JobCounters.Delivered} AS Delivered, {JobCounters.Failed} AS Failed, " +
        $"{JobCounters.Expired} AS Expired, {JobCounters.EndedUnsent} AS EndedUnsent, state AS State";

    /// <summary>A job's status: cancelled and paused as the enterprise left it, else from its counters.</summary>
    public static string StatusOf(Job job, long now)
    {
        if (job.State == JobControl.Cancelled) return "cancelled";
        if (job.Delivered + job.Failed + job.Expired >= job.Accepted) return "completed";
        if (job.State == JobControl.Paused) return "paused";
        return job.SendAt is { } at && at > now && job.Sent == 0 ? "scheduled" : "processing";
    }

    private JobView View(Job job)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var ended = job.Delivered + job.Failed + job.Expired;
        var waiting = job.Accepted - job.Sent - job.EndedUnsent;
        var scheduled = job.SendAt is { } at && at > now;
        var counts = new Dictionary<string, long>
        {
            [MessageStatus.Scheduled] = scheduled ? waiting : 0,
            [MessageStatus.Held] = 0,
            [MessageStatus.Queued] = scheduled ? 0 : waiting,
            [MessageStatus.Submitted] = job.Sent - (ended - job.EndedUnsent),
            [MessageStatus.Delivered] = job.Delivered,
            [MessageStatus.Failed] = job.Failed,
            [MessageStatus.Expired] = job.Expired,
            [MessageStatus.Rejected] = job.Rejected,
        };
        return new JobView(job.Id.ToString(), StatusOf(job, now), job.Category, job.Total, job.Accepted, job.Rejected, counts, job.ClientRef, Iso(job.SendAt), Iso(job.CreatedAt));
    }

    public async Task<JobView?> JobAsync(long enterpriseId, long id)
    {
        await using var c = await database.OpenAsync();
        var job = await c.QuerySingleOrDefaultAsync<Job>($"SELECT {JobColumns} FROM jobs WHERE id = @id AND enterprise_id = @enterpriseId", new { id, enterpriseId });
        return job is null ? null : View(job);
    }

    public async Task<Page<JobView>> JobsAsync(long enterpriseId, long? before, int limit)
    {
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<Job>(
            $"SELECT {JobColumns} FROM jobs WHERE enterprise_id = @enterpriseId" + (before is null ? "" : " AND id < @before") + " ORDER BY id DESC LIMIT @take",
            new { enterpriseId, before, take = limit + 1 })).ToList();
        var more = rows.Count > limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<JobView>(rows.Select(View).ToList(), more ? Cursor.Of(rows[^1].Id) : null);
    }

    /// <summary>Every rejected row of a job, in line order; null when the job is not this enterprise's.</summary>
    public async Task<IReadOnlyList<JobRejectionView>?> RejectionsAsync(long enterpriseId, long jobId)
    {
        await using var c = await database.OpenAsync();
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE id = @jobId AND enterprise_id = @enterpriseId", new { jobId, enterpriseId }) == 0) return null;
        var rows = await c.QueryAsync<JobRejection>(
            "SELECT line AS Line, recipient AS Recipient, reason AS Reason FROM job_rejections WHERE job_id = @jobId ORDER BY line", new { jobId });
        return rows.Select(r => new JobRejectionView(r.Line, r.Recipient, r.Reason)).ToList();
    }

    /// <summary>A job's failed, expired and rejected messages by reason, most first; null when it is not this enterprise's job.</summary>
    public async Task<IReadOnlyList<JobFailureView>?> FailuresAsync(long enterpriseId, long jobId)
    {
        await using var c = await database.OpenAsync();
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE id = @jobId AND enterprise_id = @enterpriseId", new { jobId, enterpriseId }) == 0) return null;
        var rows = await c.QueryAsync<(string? Error, string Status, long Messages)>(
            "SELECT error, status, COUNT(*) FROM messages WHERE job_id = @jobId AND status IN ('failed', 'expired', 'rejected') GROUP BY error, status", new { jobId });
        return rows.GroupBy(r => r.Error ?? r.Status).Select(g => new JobFailureView(g.Key, g.Sum(r => r.Messages))).OrderByDescending(f => f.Messages).ToList();
    }

    /// <summary>Replies oldest first after <paramref name="after"/>, or with <paramref name="newest"/> newest first below it (0: from the newest).</summary>
    public async Task<IReadOnlyList<InboundView>> InboundAsync(long enterpriseId, long after, int limit, bool newest = false)
    {
        await using var c = await database.OpenAsync();
        var rows = await c.QueryAsync<InboundMessage>(
            "SELECT id AS Id, sender AS Sender, recipient AS Recipient, text AS Text, received_at AS ReceivedAt FROM inbound_messages WHERE enterprise_id = @enterpriseId AND " +
            (newest ? "(@after = 0 OR id < @after) ORDER BY id DESC" : "id > @after ORDER BY id") + " LIMIT @limit", new { enterpriseId, after, limit });
        return rows.Select(r => new InboundView(r.Id.ToString(), r.Sender, r.Recipient, r.Text, Iso(r.ReceivedAt))).ToList();
    }
}
