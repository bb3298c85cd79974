using Dapper;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Messaging;

public enum JobChange
{
    Done,
    NotFound,
    /// <summary>The job cannot go that way now (a cancelled job does not resume, a finished one does not pause).</summary>
    Conflict,
}

/// <summary>
/// An enterprise pauses, resumes or cancels a job. A paused job's waiting messages are parked under a lease no dispatcher
/// holds (owner <see cref="ParkedOwner"/>), so no lane claims them and they stay <c>queued</c>; what is already on its way
/// to the SMSC goes on. Cancelling ends every message not yet sent as failed (<c>cancelled</c>), refunded, in the status
/// writer's transaction.
/// </summary>
public sealed class JobControl(Database database, StatusWriter writer, WakeSignalFor<Dispatcher> dispatch, TimeProvider time)
{
    public const string Paused = "paused";
    public const string Cancelled = "cancelled";
    /// <summary>lease_owner of a parked message (node ids are 0–63).</summary>
    public const int ParkedOwner = -1;
    /// <summary>lease_until of a parked message: never, until resumed.</summary>
    public const long Never = 253_402_300_799_999;
    /// <summary>A waiting message no dispatcher holds: never claimed, deferred, or parked by a pause.</summary>
    public const string Unheld = "(lease_owner IS NULL OR lease_owner = -1 OR lease_until < @now)";

    private sealed class JobState
    {
        public string? State { get; set; }
        public int Accepted { get; set; }
        public int Ended { get; set; }
    }

    private static async Task<JobState?> StateAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, long enterpriseId, long jobId) =>
        await c.QuerySingleOrDefaultAsync<JobState>(
            "SELECT state AS State, accepted AS Accepted, delivered + failed + expired AS Ended FROM jobs WHERE id = @jobId AND enterprise_id = @enterpriseId",
            new { jobId, enterpriseId }, tx);

    public async Task<JobChange> PauseAsync(long enterpriseId, long jobId)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        using var turn = await database.WriteTurnAsync();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var job = await StateAsync(c, tx, enterpriseId, jobId);
        if (job is null) return JobChange.NotFound;
        if (job.State == Paused) return JobChange.Done;
        if (job.State == Cancelled || job.Ended >= job.Accepted) return JobChange.Conflict;
        await c.ExecuteAsync("UPDATE jobs SET state = @Paused WHERE id = @jobId", new { Paused, jobId }, tx);
        await c.ExecuteAsync(
            $"UPDATE messages SET lease_until = @Never, lease_owner = @ParkedOwner WHERE job_id = @jobId AND status IN ('queued', 'scheduled') AND {Unheld}",
            new { Never, ParkedOwner, jobId, now }, tx);
        await tx.CommitAsync();
        return JobChange.Done;
    }

    public async Task<JobChange> ResumeAsync(long enterpriseId, long jobId)
    {
        using (var turn = await database.WriteTurnAsync())
        await using (var c = await database.OpenAsync())
        await using (var tx = await c.BeginTransactionAsync())
        {
            var job = await StateAsync(c, tx, enterpriseId, jobId);
            if (job is null) return JobChange.NotFound;
            if (job.State == Cancelled) return JobChange.Conflict;
            if (job.State is null) return JobChange.Done;
            await c.ExecuteAsync("UPDATE jobs SET state = NULL WHERE id = @jobId", new { jobId }, tx);
            await c.ExecuteAsync("UPDATE messages SET lease_until = NULL, lease_owner = NULL WHERE job_id = @jobId AND lease_owner = @ParkedOwner",
                new { jobId, ParkedOwner }, tx);
            await tx.CommitAsync();
        }
        dispatch.Set();
        return JobChange.Done;
    }

    public async Task<JobChange> CancelAsync(long enterpriseId, long jobId)
    {
        var request = new JobCancelRequested(enterpriseId, jobId);
        writer.Post(request);
        return await request.Result.Task;
    }
}
