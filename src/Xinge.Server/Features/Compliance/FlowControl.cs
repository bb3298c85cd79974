using System.Security.Cryptography;
using System.Text;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>
/// One decision of flow control (R-S1-14): the counts it added or took back, packed (a kind byte, then 20 bytes a
/// count: key, time, content hash). <see cref="Seq"/> grows in the order the rows were written, which every node reads
/// them in; <see cref="Until"/> is the latest time among its counts, after which a day later the row goes.
/// </summary>
public sealed class FlowLogRow
{
    public long Seq { get; set; }
    public long Until { get; set; }
    public byte[] Counts { get; set; } = [];
}

/// <summary>A test number of an enterprise: exempt from the flow limits (R-S1-14); at most 300 an enterprise.</summary>
public sealed class TestNumber
{
    public long EnterpriseId { get; set; }
    public string Msisdn { get; set; } = "";
    public long AddedAt { get; set; }
}

/// <summary>The operator's own value of one limit for one enterprise, in place of the platform's setting.</summary>
public sealed class FlowLimitOverride
{
    public long EnterpriseId { get; set; }
    public string Name { get; set; } = "";
    public int Value { get; set; }
}

/// <summary>
/// R-S1-14, with Alibaba Cloud's defaults and Tencent Cloud's same-content rule. Each limit is how many messages
/// one scope may get within a rolling window; 0 switches it off. The defaults are settings
/// (<c>Xinge:Compliance:FlowControl:NAME</c>); the operator may set any of them apart per enterprise, except the
/// platform-wide one.
/// </summary>
public static class FlowLimits
{
    public sealed record Limit(string Name, int Default, TimeSpan Window, string Scope);

    public static readonly Limit OtpPerMinute = new("otp_per_minute", 1, TimeSpan.FromMinutes(1), "an OTP to one number under one signature");
    public static readonly Limit OtpPerHour = new("otp_per_hour", 5, TimeSpan.FromHours(1), "OTPs to one number under one signature in an hour");
    public static readonly Limit OtpPerDay = new("otp_per_day", 10, TimeSpan.FromHours(24), "OTPs to one number under one signature in 24 hours");
    public static readonly Limit OtpPlatformPerDay = new("otp_platform_per_day", 40, TimeSpan.FromHours(24), "OTPs to one number across the platform in 24 hours");
    public static readonly Limit NotificationPerDay = new("notification_per_day", 50, TimeSpan.FromHours(24), "notifications to one number per signature and template in 24 hours");
    public static readonly Limit MarketingPerDay = new("marketing_per_day", 50, TimeSpan.FromHours(24), "marketing messages to one number per signature and template in 24 hours");
    public static readonly Limit SameContent = new("same_content", 1, TimeSpan.FromSeconds(30), "the same content to the same number in 30 seconds");

    public static readonly Limit[] All = [OtpPerMinute, OtpPerHour, OtpPerDay, OtpPlatformPerDay, NotificationPerDay, MarketingPerDay, SameContent];

    /// <summary>The longest window: events older than it count for nothing.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromHours(24);

    public static Limit? Named(string name) => All.FirstOrDefault(l => l.Name == name);
}

/// <summary>An enterprise's limits in force and its test numbers.</summary>
public sealed record EnterpriseFlow(IReadOnlyDictionary<string, int> Limits, IReadOnlySet<string> TestNumbers);

/// <summary>
/// The limits in force for each enterprise, the platform's settings and the operator's values for it, and its test
/// numbers: read once, forgotten on every node within a second of a change (a revocation of kind <c>limits</c>).
/// </summary>
public sealed class FlowSettings : IHostedService
{
    private readonly IConfiguration config;
    private readonly Database database;
    private readonly Revocations revocations;
    private readonly EnterpriseCache<EnterpriseFlow> _byEnterprise;

    public FlowSettings(IConfiguration config, Database database, Revocations revocations)
    {
        (this.config, this.database, this.revocations) = (config, database, revocations);
        _byEnterprise = new EnterpriseCache<EnterpriseFlow>(LoadAsync);
    }

    public int Platform(FlowLimits.Limit limit) => Math.Max(0, config.GetValue($"Xinge:Compliance:FlowControl:{limit.Name}", limit.Default));

    public Task StartAsync(CancellationToken ct)
    {
        revocations.LimitsChanged += _byEnterprise.Forget;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.LimitsChanged -= _byEnterprise.Forget;
        return Task.CompletedTask;
    }

    /// <summary>Every limit's value for the enterprise (its own where the operator set one, else the platform's), and its test numbers.</summary>
    public ValueTask<EnterpriseFlow> ForAsync(long enterpriseId, CancellationToken ct) => _byEnterprise.GetAsync(enterpriseId, ct);

    private async Task<EnterpriseFlow> LoadAsync(long enterpriseId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var own = (await c.QueryAsync<(string Name, int Value)>("SELECT name, value FROM flow_limit_overrides WHERE enterprise_id = @enterpriseId", new { enterpriseId }))
            .ToDictionary(r => r.Name, r => r.Value);
        var values = FlowLimits.All.ToDictionary(l => l.Name, l => l != FlowLimits.OtpPlatformPerDay && own.TryGetValue(l.Name, out var v) ? v : Platform(l));
        var testNumbers = (await c.QueryAsync<string>("SELECT msisdn FROM test_numbers WHERE enterprise_id = @enterpriseId", new { enterpriseId })).ToHashSet();
        return new EnterpriseFlow(values, testNumbers);
    }
}

/// <summary>
/// R-S1-14: per-number flow control, last of the admission rules (only what every other rule let through is counted).
/// Each candidate becomes an entry (its keys, time and content); the entries are decided against the counts every
/// node shares (<see cref="FlowBook"/>): on SQLite in the store's own transaction (<see cref="FlowStoreGuard"/>), on
/// PostgreSQL by the <see cref="FlowGate"/> before the store. Exact under concurrency and across nodes.
/// </summary>
public sealed class FlowControlRule(FlowGate gate, FlowSettings settings, Database database, TimeProvider time) : IAdmissionRule
{
    public int Order => 1000;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (batch.Refusal is not null || batch.Replacing || batch.Candidates.Count == 0) return;
        var flow = await settings.ForAsync(batch.EnterpriseId, ct);
        var limits = flow.Limits;
        var at = (batch.SendsAt ?? time.GetUtcNow()).ToUnixTimeMilliseconds();
        if (batch.NotBefore is { } later && later > at) at = later;
        var otp = batch.Category == Category.Otp;
        var scoped = otp
            ? Scoped(limits, FlowLimits.OtpPerMinute, FlowLimits.OtpPerHour, FlowLimits.OtpPerDay, FlowLimits.SameContent)
            : Scoped(limits, batch.Category == Category.Marketing ? FlowLimits.MarketingPerDay : FlowLimits.NotificationPerDay, FlowLimits.SameContent);
        var platform = otp ? Scoped(limits, FlowLimits.OtpPlatformPerDay) : [];
        if (scoped.Length == 0 && platform.Length == 0) return;

        // The scope of the per-signature limits: OTPs by enterprise and signature; the others also by template (its id, or the text as written).
        var scope = otp ? $"otp\n{batch.EnterpriseId}\n{batch.Signature}" : $"{batch.Category}\n{batch.EnterpriseId}\n{batch.Signature}\n{(batch.TemplateId ?? batch.MatchedTemplateId)?.ToString() ?? batch.Body}";
        var indexes = new List<int>(batch.Candidates.Count);
        var entries = new List<FlowEntry>(batch.Candidates.Count);
        var sharedContent = Hash($"{batch.Category}\n{batch.EnterpriseId}\n{batch.Signature}\n{batch.Body}");
        for (var i = 0; i < batch.Candidates.Count; i++)
        {
            if (batch.ReasonOf(i) is not null) continue;
            var number = batch.Candidates[i].Recipient;
            var content = batch.ParamsOf(i) is { Count: > 0 } values ? Hash(sharedContent + "\n" + string.Join("\n", values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => v.Key + "=" + v.Value))) : sharedContent;
            var keys = new List<FlowKey>(2);
            if (scoped.Length > 0) keys.Add(new FlowKey(Hash(scope + "\n" + number), scoped));
            if (platform.Length > 0) keys.Add(new FlowKey(Hash("otp-platform\n" + number), platform, Platform: true));
            indexes.Add(i);
            entries.Add(new FlowEntry(number, at, (int)content, keys.ToArray()));
        }
        if (entries.Count == 0) return;
        if (!database.IsPostgres)
        {
            // SQLite: decided in the store's transaction, under the write lock it holds anyway (FlowStoreGuard).
            batch.StoreCheck = new FlowCheck(entries, flow.TestNumbers);
            return;
        }
        var decision = await gate.DecideAsync(entries, flow.TestNumbers, urgent: otp);
        for (var j = 0; j < decision.Reasons.Length; j++)
        {
            if (decision.Reasons[j] is { } reason) batch.Refuse(indexes[j], "rate_limited:" + reason);
        }
        if (decision.Counted.Length > 0) batch.OnNotStored(() => gate.TakeBackAsync(decision.Counted));
    }

    private static (FlowLimits.Limit Limit, int Count)[] Scoped(IReadOnlyDictionary<string, int> values, params FlowLimits.Limit[] limits) =>
        limits.Select(l => (l, values[l.Name])).Where(x => x.Item2 > 0).ToArray();

    /// <summary>A stable 64-bit key (the same on every node and after restarts), from SHA-256.</summary>
    public static long Hash(string s)
    {
        Span<byte> digest = stackalloc byte[32];
        var bytes = Encoding.UTF8.GetBytes(s);
        SHA256.HashData(bytes, digest);
        return BitConverter.ToInt64(digest);
    }
}

/// <summary>A key of an entry and the limits counted on it; <see cref="Platform"/>: the platform's own, which test numbers do not escape.</summary>
public readonly record struct FlowKey(long Key, (FlowLimits.Limit Limit, int Count)[] Limits, bool Platform = false);

public readonly record struct FlowEntry(string Number, long At, int Content, FlowKey[] Keys);

