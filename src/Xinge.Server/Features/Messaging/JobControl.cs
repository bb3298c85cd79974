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
/// writer's transaction, as are pausing and resuming, so no two changes of a job race.
/// </summary>
public sealed class JobControl(StatusWriter writer)
{
    public const string Paused = "paused";
    public const string Cancelled = "cancelled";
    /// <summary>lease_owner of a parked message (node ids are 0–63).</summary>
    public const int ParkedOwner = -1;
    /// <summary>lease_owner of a message held while the operator has suspended its enterprise's sending.</summary>
    public const int SuspendedOwner = -2;
    /// <summary>lease_until of a parked message: never, until resumed.</summary>
    public const long Never = 253_402_300_799_999;
    /// <summary>A waiting message no dispatcher holds: never claimed, deferred, parked by a pause or held by a suspension.</summary>
    public const string Unheld = "(lease_owner IS NULL OR lease_owner < 0 OR lease_until < @now)";

    /// <summary>A waiting message none of whose parts the SMSC has taken (a partly sent message is not withdrawn).</summary>
    public const string NoPartSent = "NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = messages.id)";

    public Task<JobChange> PauseAsync(long enterpriseId, long jobId) => ChangeAsync(new JobChangeRequested(enterpriseId, jobId, JobAction.Pause));

    public Task<JobChange> ResumeAsync(long enterpriseId, long jobId) => ChangeAsync(new JobChangeRequested(enterpriseId, jobId, JobAction.Resume));

    public Task<JobChange> CancelAsync(long enterpriseId, long jobId) => ChangeAsync(new JobChangeRequested(enterpriseId, jobId, JobAction.Cancel));

    private Task<JobChange> ChangeAsync(JobChangeRequested request)
    {
        writer.Post(request);
        return request.Result.Task;
    }
}
