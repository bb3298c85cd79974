using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public static class BlacklistScope
{
    /// <summary>The number receives nothing from any enterprise.</summary>
    public const string All = "all";
    /// <summary>The number receives no marketing; verification codes and notifications still go.</summary>
    public const string Marketing = "marketing";

    public static bool IsValid(string? s) => s is All or Marketing;
}

/// <summary>R-S1-16: a number on the platform's blacklist (it complained to the operator, or must never get marketing).</summary>
public sealed class BlacklistEntry
{
    /// <summary>E.164.</summary>
    public string Msisdn { get; set; } = "";
    public string Scope { get; set; } = BlacklistScope.All;
    public string? Reason { get; set; }
    public long AddedAt { get; set; }
    public string AddedBy { get; set; } = "";
}

/// <summary>
/// The platform blacklist as every node holds it in memory, so admission costs no database round trip: read at start,
/// and again on every node within a second of a change (a revocation of kind <c>blacklist</c>).
/// </summary>
public sealed class PlatformBlacklist(Database database, Revocations revocations, ILogger<PlatformBlacklist> logger) : IHostedService
{
    private volatile Dictionary<string, bool> _marketingOnly = [];
    private Action? _changed;

    public int Count => _marketingOnly.Count;

    /// <summary>Whether the number may not receive a message of this category.</summary>
    public bool Blocks(string e164, string category) =>
        _marketingOnly.TryGetValue(e164, out var marketingOnly) && (!marketingOnly || category == Category.Marketing);

    public async Task StartAsync(CancellationToken ct)
    {
        _changed = new ListReloader(LoadAsync, logger, "platform blacklist").Changed;
        revocations.BlacklistChanged += _changed;
        await LoadAsync(ct);
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.BlacklistChanged -= _changed;
        return Task.CompletedTask;
    }

    public async Task LoadAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Msisdn, string Scope)>("SELECT msisdn, scope FROM blacklist");
        _marketingOnly = rows.ToDictionary(r => r.Msisdn, r => r.Scope == BlacklistScope.Marketing);
    }
}

/// <summary>R-S1-16: the platform blacklist beats every enterprise's lists; a refusal names it.</summary>
public sealed class BlacklistRule(PlatformBlacklist blacklist) : IAdmissionRule
{
    public const string Reason = "blacklisted:platform";

    public int Order => 50;

    public ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (blacklist.Count == 0) return ValueTask.CompletedTask;
        for (var i = 0; i < batch.Candidates.Count; i++)
        {
            if (blacklist.Blocks(batch.Candidates[i].Recipient, batch.Category)) batch.Refuse(i, Reason);
        }
        return ValueTask.CompletedTask;
    }
}
