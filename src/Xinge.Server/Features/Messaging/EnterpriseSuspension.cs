using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// Follows the operator's changes of an enterprise's terms on this node: the cached terms are forgotten, and while the
/// enterprise is suspended its waiting messages are held (lease owner <see cref="JobControl.SuspendedOwner"/>), so
/// nothing more of it goes out; what a lane already took is on its way and goes on. When the suspension ends they go.
/// Every node does it when it reads the change; each follows the enterprise's flag as it is, so doing it twice is harmless.
/// </summary>
public sealed class EnterpriseSuspension(Revocations revocations, MessagingService messaging, Database database, TimeProvider time, WakeSignalFor<Dispatcher> dispatch,
    ILogger<EnterpriseSuspension> logger) : IHostedService
{
    public Task StartAsync(CancellationToken ct)
    {
        revocations.EnterpriseChanged += Changed;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.EnterpriseChanged -= Changed;
        return Task.CompletedTask;
    }

    private void Changed(long enterpriseId)
    {
        messaging.ForgetEnterprise(enterpriseId);
        _ = FollowAsync(enterpriseId);
    }

    public async Task FollowAsync(long enterpriseId)
    {
        try
        {
            using var turn = await database.WriteTurnAsync();
            await using var c = await database.OpenAsync();
            var args = new { enterpriseId, now = time.GetUtcNow().ToUnixTimeMilliseconds(), JobControl.Never, JobControl.SuspendedOwner, yes = true };
            await c.ExecuteAsync(
                "UPDATE messages SET lease_until = @Never, lease_owner = @SuspendedOwner WHERE enterprise_id = @enterpriseId AND status IN ('queued', 'scheduled') " +
                "AND (lease_owner IS NULL OR lease_until < @now) AND EXISTS (SELECT 1 FROM enterprises WHERE id = @enterpriseId AND suspended = @yes)", args);
            var released = await c.ExecuteAsync(
                "UPDATE messages SET lease_until = NULL, lease_owner = NULL WHERE enterprise_id = @enterpriseId AND lease_owner = @SuspendedOwner " +
                "AND NOT EXISTS (SELECT 1 FROM enterprises WHERE id = @enterpriseId AND suspended = @yes)", args);
            if (released > 0) dispatch.Set();
        }
        catch (Exception e)
        {
            logger.LogError(e, "Holding or releasing the messages of enterprise {Enterprise} failed; the next change of its terms tries again", enterpriseId);
        }
    }
}
