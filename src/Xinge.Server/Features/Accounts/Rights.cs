using System.Collections.Concurrent;
using Dapper;
using Microsoft.AspNetCore.Authorization;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Accounts;

/// <summary>What a right is about: the platform's business (operator staff), an enterprise's own, or a subscriber's own.</summary>
public static class Scope
{
    public const string Platform = "platform";
    public const string Enterprise = "enterprise";
    public const string Subscriber = "subscriber";
}

public sealed record RightInfo(string Name, string Scope, string Description);

/// <summary>
/// Who may do what (R-S5-1): every endpoint asks for a right, never for a role; which rights a role has is the
/// operator's to decide (<c>PUT /admin/roles/{role}</c>), within the right's scope, so a platform right is never an
/// enterprise's and an enterprise right never reaches past the caller's own enterprise.
/// </summary>
public static class Rights
{
    public const string EnterprisesRead = "enterprises.read";
    public const string EnterprisesManage = "enterprises.manage";
    public const string BillingRead = "billing.read";
    public const string BillingCredit = "billing.credit";
    public const string UsersManage = "users.manage";
    public const string KeysManage = "keys.manage";
    public const string SmppManage = "smpp.manage";
    public const string ReviewsDecide = "reviews.decide";
    public const string AuditRead = "audit.read";
    public const string ConnectorsManage = "connectors.manage";
    public const string RolesManage = "roles.manage";
    public const string SimulatorUse = "simulator.use";
    public const string MetricsRead = "metrics.read";
    public const string ReportsRead = "reports.read";
    public const string BlacklistManage = "blacklist.manage";
    public const string WordsManage = "words.manage";
    public const string MessagesSend = "messages.send";
    public const string MessagesRead = "messages.read";
    public const string SignaturesManage = "signatures.manage";
    public const string KeysOwn = "keys.own";
    public const string WebhookManage = "webhook.manage";
    public const string BalanceRead = "balance.read";
    public const string UsersOwn = "users.own";
    public const string ProfileManage = "profile.manage";
    public const string OnhookManage = "onhook.manage";

    public static readonly RightInfo[] All =
    [
        new(EnterprisesRead, Scope.Platform, "see enterprises"),
        new(EnterprisesManage, Scope.Platform, "create and verify enterprises"),
        new(BillingRead, Scope.Platform, "see any enterprise's ledger"),
        new(BillingCredit, Scope.Platform, "credit an enterprise's balance"),
        new(UsersManage, Scope.Platform, "create, disable and reset the password of users"),
        new(KeysManage, Scope.Platform, "issue, list and revoke API and integration keys"),
        new(SmppManage, Scope.Platform, "create enterprises' SMPP accounts"),
        new(ReviewsDecide, Scope.Platform, "approve and reject signatures, templates and held messages"),
        new(AuditRead, Scope.Platform, "read the audit log"),
        new(ConnectorsManage, Scope.Platform, "add and remove SMSC connectors"),
        new(RolesManage, Scope.Platform, "decide which rights each role has"),
        new(SimulatorUse, Scope.Platform, "use the simulator's virtual handsets"),
        new(MetricsRead, Scope.Platform, "read /metrics from anywhere"),
        new(ReportsRead, Scope.Platform, "see statistics of every enterprise and connector"),
        new(BlacklistManage, Scope.Platform, "keep the platform blacklist: add, remove, import and export numbers"),
        new(WordsManage, Scope.Platform, "keep the sensitive-word list: add, remove, import and export words"),
        new(MessagesSend, Scope.Enterprise, "send messages and jobs, pause, resume and cancel them"),
        new(MessagesRead, Scope.Enterprise, "see the enterprise's messages, jobs, replies and signatures"),
        new(SignaturesManage, Scope.Enterprise, "apply for signatures"),
        new(KeysOwn, Scope.Enterprise, "list and revoke the enterprise's API keys"),
        new(WebhookManage, Scope.Enterprise, "set where the enterprise's events are posted"),
        new(BalanceRead, Scope.Enterprise, "see the enterprise's balance and ledger"),
        new(UsersOwn, Scope.Enterprise, "create, disable and reset the password of the enterprise's own users"),
        new(ProfileManage, Scope.Enterprise, "upload the enterprise's licence document"),
        new(OnhookManage, Scope.Enterprise, "add hotlines and set on-hook SMS policies, and see their statistics"),
    ];

    public static readonly Dictionary<string, RightInfo> ByName = All.ToDictionary(r => r.Name);

    /// <summary>The roles people have, with the scope of the rights they may be given.</summary>
    public static readonly Dictionary<string, string> RoleScopes = new()
    {
        [Roles.Operator] = Scope.Platform,
        [Roles.CustomerService] = Scope.Platform,
        [Roles.EnterpriseAdmin] = Scope.Enterprise,
        [Roles.EnterpriseUser] = Scope.Enterprise,
        [Roles.Subscriber] = Scope.Subscriber,
    };

    /// <summary>What each role has until the operator decides otherwise; a right added later is granted by these once.</summary>
    public static readonly Dictionary<string, string[]> Defaults = new()
    {
        [Roles.Operator] = All.Where(r => r.Scope == Scope.Platform).Select(r => r.Name).ToArray(),
        [Roles.CustomerService] = [EnterprisesRead, BillingRead, ReviewsDecide, ReportsRead],
        [Roles.EnterpriseAdmin] = All.Where(r => r.Scope == Scope.Enterprise).Select(r => r.Name).ToArray(),
        [Roles.EnterpriseUser] = [MessagesSend, MessagesRead, BalanceRead],
        [Roles.Subscriber] = [],
    };
}

/// <summary>The role → rights table (<c>role_rights</c>), held in memory; every node reloads it within a second of a change.</summary>
public sealed class RoleRights(Database database)
{
    private volatile Dictionary<string, HashSet<string>> _byRole = [];

    public bool Has(string role, string right) => _byRole.TryGetValue(role, out var rights) && rights.Contains(right);

    public IReadOnlyDictionary<string, HashSet<string>> Current => _byRole;

    /// <summary>Grants the default rights of every right this database has not seen yet, then loads the table.</summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        await using (var c = await database.OpenAsync(ct))
        {
            await using var tx = await c.BeginTransactionAsync(ct);
            var known = (await c.QueryAsync<string>("SELECT value FROM settings WHERE key LIKE 'right:%'", transaction: tx)).ToHashSet();
            foreach (var right in Rights.All.Where(r => !known.Contains(r.Name)))
            {
                foreach (var (role, granted) in Rights.Defaults.Where(d => d.Value.Contains(right.Name)))
                {
                    await c.ExecuteAsync("INSERT INTO role_rights (role, right_name) VALUES (@role, @right) ON CONFLICT DO NOTHING", new { role, right = right.Name }, tx);
                }
                await c.ExecuteAsync("INSERT INTO settings (key, value) VALUES (@key, @value) ON CONFLICT DO NOTHING", new { key = "right:" + right.Name, value = right.Name }, tx);
            }
            await tx.CommitAsync(ct);
        }
        await LoadAsync(ct);
    }

    public async Task LoadAsync(CancellationToken ct = default)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Role, string Right)>("SELECT role, right_name FROM role_rights");
        _byRole = rows.GroupBy(r => r.Role).ToDictionary(g => g.Key, g => g.Select(r => r.Right).ToHashSet());
    }
}

public sealed class RightRequirement(string right) : IAuthorizationRequirement
{
    public string Right { get; } = right;
}

/// <summary>A caller passes when its role has the right; enterprise rights also need the caller's enterprise.</summary>
public sealed class RightHandler(RoleRights rights) : AuthorizationHandler<RightRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RightRequirement requirement)
    {
        var caller = Caller.From(context.User);
        var scoped = Rights.ByName[requirement.Right].Scope != Scope.Enterprise || caller.EnterpriseId is not null;
        if (context.User.Identity?.IsAuthenticated == true && scoped && rights.Has(caller.Role, requirement.Right)) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
