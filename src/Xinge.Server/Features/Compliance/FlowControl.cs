using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>A message counted against a limit (R-S1-14): its key (limit scope and number, hashed), when it goes, and its content's hash.</summary>
public sealed class FlowEvent
{
    public long Key { get; set; }
    public long At { get; set; }
    public long Content { get; set; }
    /// <summary>How many messages share key, time and content.</summary>
    public int N { get; set; }
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

/// <summary>The limits in force for each enterprise: the platform's settings, and the operator's values per enterprise (read once, forgotten on change).</summary>
public sealed class FlowSettings(IConfiguration config, Database database, Revocations revocations) : IHostedService
{
    private readonly ConcurrentDictionary<long, IReadOnlyDictionary<string, int>> _byEnterprise = new();
    private long _generation;

    public int Platform(FlowLimits.Limit limit) => Math.Max(0, config.GetValue($"Xinge:Compliance:FlowControl:{limit.Name}", limit.Default));

    public Task StartAsync(CancellationToken ct)
    {
        revocations.LimitsChanged += Forget;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.LimitsChanged -= Forget;
        return Task.CompletedTask;
    }

    private void Forget(long enterpriseId)
    {
        Interlocked.Increment(ref _generation);
        _byEnterprise.TryRemove(enterpriseId, out _);
    }

    /// <summary>Every limit's value for the enterprise: its own where the operator set one, else the platform's.</summary>
    public async ValueTask<IReadOnlyDictionary<string, int>> ForAsync(long enterpriseId, CancellationToken ct)
    {
        if (_byEnterprise.TryGetValue(enterpriseId, out var known)) return known;
        var generation = Interlocked.Read(ref _generation);
        await using var c = await database.OpenAsync(ct);
        var own = (await c.QueryAsync<(string Name, int Value)>("SELECT name, value FROM flow_limit_overrides WHERE enterprise_id = @enterpriseId", new { enterpriseId }))
            .ToDictionary(r => r.Name, r => r.Value);
        var values = FlowLimits.All.ToDictionary(l => l.Name, l => l != FlowLimits.OtpPlatformPerDay && own.TryGetValue(l.Name, out var v) ? v : Platform(l));
        if (Interlocked.Read(ref _generation) == generation) _byEnterprise[enterpriseId] = values;
        return values;
    }
}

/// <summary>
/// R-S1-14: per-number flow control, last of the admission rules (only what every other rule let through is counted).
/// The batch's candidates go to the <see cref="FlowGate"/>, which decides them with every other request waiting at
/// that moment, in one transaction, against the counts in the database: exact under concurrency and across nodes.
/// </summary>
public sealed class FlowControlRule(FlowGate gate, FlowSettings settings, TimeProvider time) : IAdmissionRule
{
    public int Order => 1000;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (batch.Refusal is not null || batch.Replacing || batch.Candidates.Count == 0) return;
        var limits = await settings.ForAsync(batch.EnterpriseId, ct);
        var at = (batch.SendsAt ?? time.GetUtcNow()).ToUnixTimeMilliseconds();
        if (batch.NotBefore is { } later && later > at) at = later;
        var otp = batch.Category == Category.Otp;
        var scoped = otp
            ? Scoped(limits, FlowLimits.OtpPerMinute, FlowLimits.OtpPerHour, FlowLimits.OtpPerDay, FlowLimits.SameContent)
            : Scoped(limits, batch.Category == Category.Marketing ? FlowLimits.MarketingPerDay : FlowLimits.NotificationPerDay, FlowLimits.SameContent);
        var platform = otp ? Scoped(limits, FlowLimits.OtpPlatformPerDay) : [];
        if (scoped.Length == 0 && platform.Length == 0) return;

        // The scope of the per-signature limits: OTPs by enterprise and signature; the others also by template (its id, or the text as written).
        var scope = otp ? $"otp\n{batch.EnterpriseId}\n{batch.Signature}" : $"{batch.Category}\n{batch.EnterpriseId}\n{batch.Signature}\n{batch.TemplateId?.ToString() ?? batch.Body}";
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
            if (platform.Length > 0) keys.Add(new FlowKey(Hash("otp-platform\n" + number), platform));
            indexes.Add(i);
            entries.Add(new FlowEntry(number, at, content, keys.ToArray()));
        }
        if (entries.Count == 0) return;
        var reasons = await gate.DecideAsync(batch.EnterpriseId, entries, ct);
        for (var j = 0; j < reasons.Length; j++)
        {
            if (reasons[j] is { } reason) batch.Refuse(indexes[j], "rate_limited:" + reason);
        }
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

public readonly record struct FlowKey(long Key, (FlowLimits.Limit Limit, int Count)[] Limits);

public readonly record struct FlowEntry(string Number, long At, long Content, FlowKey[] Keys);

/// <summary>
/// Decides flow-limited candidates in batches: every request waiting when the last transaction ended goes into the
/// next, which reads the counts of all their keys at once, decides candidate by candidate in arrival order, and writes
/// the accepted ones' events. On PostgreSQL the transaction first locks the events table against the other nodes'
/// gates (not against readers); on SQLite the write lock does that. So two nodes never both take the last place.
/// </summary>
public sealed class FlowGate(Database database, TimeProvider time, ILogger<FlowGate> logger) : BackgroundService
{
    private sealed record Pending(long EnterpriseId, List<FlowEntry> Entries, TaskCompletionSource<string?[]> Done);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    private const int MaxEntriesPerTransaction = 250_000;

    public Task<string?[]> DecideAsync(long enterpriseId, List<FlowEntry> entries, CancellationToken ct)
    {
        var pending = new Pending(enterpriseId, entries, new TaskCompletionSource<string?[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending)) throw new InvalidOperationException("flow control is stopped");
        return pending.Done.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        var batch = new List<Pending>();
        var pruned = time.GetUtcNow();
        while (await reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            var count = 0;
            while (count < MaxEntriesPerTransaction && reader.TryRead(out var p))
            {
                batch.Add(p);
                count += p.Entries.Count;
            }
            try
            {
                var decided = await DecideAsync(batch, stoppingToken);
                for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(decided[i]);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Flow control could not decide {Count} requests", batch.Count);
                foreach (var p in batch) p.Done.TrySetException(e);
            }
            if (time.GetUtcNow() - pruned > TimeSpan.FromMinutes(1))
            {
                pruned = time.GetUtcNow();
                await PruneAsync(stoppingToken);
            }
        }
    }

    private async Task<string?[][]> DecideAsync(List<Pending> batch, CancellationToken ct)
    {
        using var turn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (database.IsPostgres) await c.ExecuteAsync("LOCK TABLE flow_events IN SHARE ROW EXCLUSIVE MODE", transaction: tx);

        // Test numbers of the enterprises in the batch.
        var enterprises = batch.Select(p => p.EnterpriseId).Distinct().ToArray();
        var exempt = (await c.QueryAsync<(long EnterpriseId, string Msisdn)>(
            "SELECT enterprise_id, msisdn FROM test_numbers WHERE enterprise_id " + Database.InList(c, "enterprises"), new { enterprises }, tx)).ToHashSet();

        // The counts: every event of the batch's keys within the longest window around its times.
        var from = batch.Min(p => p.Entries.Min(e => e.At)) - (long)FlowLimits.Longest.TotalMilliseconds;
        var keys = batch.SelectMany(p => p.Entries.Where(e => !exempt.Contains((p.EnterpriseId, e.Number)))).SelectMany(e => e.Keys.Select(k => k.Key)).Distinct().ToArray();
        var events = new Dictionary<long, List<(long At, long Content, int N)>>(keys.Length);
        foreach (var (key, at, content, n) in await ReadAsync(c, tx, keys, from, ct))
        {
            if (!events.TryGetValue(key, out var list)) events[key] = list = [];
            list.Add((at, content, n));
        }

        var decided = new string?[batch.Count][];
        var added = new List<(long Key, long At, long Content)>();
        for (var b = 0; b < batch.Count; b++)
        {
            var p = batch[b];
            var reasons = decided[b] = new string?[p.Entries.Count];
            for (var i = 0; i < p.Entries.Count; i++)
            {
                var entry = p.Entries[i];
                if (exempt.Contains((p.EnterpriseId, entry.Number))) continue;
                reasons[i] = Exceeded(entry, events);
                if (reasons[i] is not null) continue;
                foreach (var k in entry.Keys)
                {
                    if (!events.TryGetValue(k.Key, out var list)) events[k.Key] = list = [];
                    list.Add((entry.At, entry.Content, 1));
                    added.Add((k.Key, entry.At, entry.Content));
                }
            }
        }
        await WriteAsync(c, tx, added, ct);
        await tx.CommitAsync(ct);
        return decided;
    }

    /// <summary>The first limit the entry would exceed, or null. A window counts the events within it on either side of the entry's time.</summary>
    private static string? Exceeded(FlowEntry entry, Dictionary<long, List<(long At, long Content, int N)>> events)
    {
        foreach (var k in entry.Keys)
        {
            if (!events.TryGetValue(k.Key, out var list)) continue;
            foreach (var (limit, count) in k.Limits)
            {
                var window = (long)limit.Window.TotalMilliseconds;
                var same = limit == FlowLimits.SameContent;
                var n = 0;
                foreach (var e in list)
                {
                    if (Math.Abs(e.At - entry.At) < window && (!same || e.Content == entry.Content)) n += e.N;
                }
                if (n >= count) return limit.Name;
            }
        }
        return null;
    }

    private async Task<List<(long Key, long At, long Content, int N)>> ReadAsync(DbConnection c, DbTransaction tx, long[] keys, long from, CancellationToken ct)
    {
        var rows = new List<(long, long, long, int)>();
        if (keys.Length == 0) return rows;
        if (database.IsPostgres)
        {
            rows.AddRange(await c.QueryAsync<(long, long, long, int)>(
                "SELECT key, at, content, n FROM flow_events WHERE key = ANY(@keys) AND at > @from", new { keys, from }, tx));
            return rows;
        }
        // SQLite, in process: one prepared lookup per key.
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT at, content, n FROM flow_events WHERE key = $key AND at > $from";
        var pKey = cmd.CreateParameter();
        pKey.ParameterName = "$key";
        cmd.Parameters.Add(pKey);
        var pFrom = cmd.CreateParameter();
        pFrom.ParameterName = "$from";
        pFrom.Value = from;
        cmd.Parameters.Add(pFrom);
        cmd.Prepare();
        foreach (var key in keys)
        {
            pKey.Value = key;
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) rows.Add((key, r.GetInt64(0), r.GetInt64(1), r.GetInt32(2)));
        }
        return rows;
    }

    private const string Upsert = "ON CONFLICT (key, at, content) DO UPDATE SET n = flow_events.n + excluded.n";

    private async Task WriteAsync(DbConnection c, DbTransaction tx, List<(long Key, long At, long Content)> added, CancellationToken ct)
    {
        if (added.Count == 0) return;
        if (c is NpgsqlConnection pg)
        {
            await using var cmd = new NpgsqlCommand(
                $"INSERT INTO flow_events (key, at, content, n) SELECT k, a, x, 1 FROM unnest(@k, @a, @x) AS t(k, a, x) {Upsert}", pg, (NpgsqlTransaction)tx);
            foreach (var chunk in added.Chunk(20_000))
            {
                cmd.Parameters.Clear();
                // Rows of one statement may not meet the same conflict twice: the same event twice becomes one row of n.
                var merged = chunk.GroupBy(a => a).Select(g => (g.Key, g.Count())).ToList();
                if (merged.Any(m => m.Item2 > 1))
                {
                    foreach (var ((key, at, content), n) in merged)
                        await c.ExecuteAsync($"INSERT INTO flow_events (key, at, content, n) VALUES (@key, @at, @content, @n) {Upsert}", new { key, at, content, n }, tx);
                    continue;
                }
                cmd.Parameters.Add(new NpgsqlParameter("k", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = chunk.Select(a => a.Key).ToArray() });
                cmd.Parameters.Add(new NpgsqlParameter("a", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = chunk.Select(a => a.At).ToArray() });
                cmd.Parameters.Add(new NpgsqlParameter("x", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = chunk.Select(a => a.Content).ToArray() });
                await cmd.ExecuteNonQueryAsync(ct);
            }
            return;
        }
        await using var insert = c.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = $"INSERT INTO flow_events (key, at, content, n) VALUES ($key, $at, $content, 1) {Upsert}";
        var pk = insert.CreateParameter();
        pk.ParameterName = "$key";
        var pa = insert.CreateParameter();
        pa.ParameterName = "$at";
        var px = insert.CreateParameter();
        px.ParameterName = "$content";
        insert.Parameters.Add(pk);
        insert.Parameters.Add(pa);
        insert.Parameters.Add(px);
        insert.Prepare();
        foreach (var (key, at, content) in added)
        {
            pk.Value = key;
            pa.Value = at;
            px.Value = content;
            await insert.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>Events older than the longest window count for nothing: they go, once a minute.</summary>
    private async Task PruneAsync(CancellationToken ct)
    {
        try
        {
            var before = (time.GetUtcNow() - FlowLimits.Longest - TimeSpan.FromMinutes(5)).ToUnixTimeMilliseconds();
            using var turn = await database.WriteTurnAsync(ct);
            await using var c = await database.OpenAsync(ct);
            await c.ExecuteAsync("DELETE FROM flow_events WHERE at < @before", new { before });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Pruning old flow-control events failed; will try again");
        }
    }
}
