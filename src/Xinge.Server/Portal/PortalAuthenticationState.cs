using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Portal;

/// <summary>
/// An open page checks its session every few seconds: once it ended (signed out elsewhere, password changed, user
/// disabled), the page shows the sign-in again. Calls to the API fail at once in any case.
/// </summary>
public sealed class PortalAuthenticationState(ILoggerFactory loggers, TokenService tokens) : RevalidatingServerAuthenticationStateProvider(loggers)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(5);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState state, CancellationToken ct) =>
        Task.FromResult(state.User.FindFirstValue(PortalSetup.TokenClaim) is { } token && tokens.Validate(token) is not null);
}
