using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// Follows the operator's changes of an enterprise's terms on this node: the cached terms are forgotten, and the status
/// writer makes its waiting messages follow a suspension (<see cref="SuspensionChanged"/>). Every node does it when it
/// reads the change; each follows the enterprise's flag as it is, so doing it twice is harmless.
/// </summary>
public sealed class EnterpriseSuspension(Revocations revocations, MessagingService messaging, StatusWriter writer) : IHostedService
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
        writer.Post(new SuspensionChanged(enterpriseId));
    }
}
