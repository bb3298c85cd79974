using System.Data.Common;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Calls;
using Xinge.Server.Features.Compliance;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Onhook;

/// <summary>
/// Decides, for each new call to a hotline, whether its caller gets the enterprise's SMS (R-S2-2, R-S2-3): the policy,
/// its window, the caller's opt-out, no repeat within the period, the daily peak. The whole batch is decided at once, in
/// the transaction that records the calls, under a lock that makes each decision see every earlier one of every node
/// (PostgreSQL: a lock on the counters' table; SQLite: its write lock): so the counters are exact, and a call decided
/// is decided once.
/// </summary>
public sealed class OnhookDecider(Database database, OptOutList optOuts, PlatformTimeZone platformZone, WakeSignalFor<OnhookDecision> sender,
    TimeProvider time) : ICallEventHandler
{
    private sealed class HotlineRow
    {
        public long Id { get; set; }
        public long EnterpriseId { get; set; }
        public string Number { get; set; } = "";
        public bool Open { get; set; }
        public string? TimeZone { get; set; }
    }

    public async Task<int> HandleAsync(DbConnection c, DbTransaction tx, IReadOnlyList<CallEvent> calls, CancellationToken ct)
    {
        var hotlines = (await HotlinesAsync(c, tx, calls.Select(x => x.Called).Distinct().ToArray())).Where(h => h.Open).ToDictionary(h => h.Number);
        var mine = calls.Where(x => x.Caller.Length > 0 && hotlines.ContainsKey(x.Called)).OrderBy(x => x.EndedAt).ThenBy(x => x.CallId, StringComparer.Ordinal).ToList();
        if (mine.Count == 0) return 0;
        // Every node's decisions on these counters take turns from here to the commit.
        if (database.IsPostgres) await c.ExecuteAsync("LOCK TABLE onhook_daily IN EXCLUSIVE MODE", transaction: tx);

        var hotlineIds = hotlines.Values.Select(h => h.Id).ToArray();
        var policies = (await c.QueryAsync<OnhookPolicy>(OnhookQueries.SelectPolicies + " WHERE hotline_id " + Database.InList(c, "hotlineIds") + " AND enabled = @yes",
            new { hotlineIds, yes = true }, tx)).OrderBy(p => p.Priority).ThenBy(p => p.Id).ToLookup(p => p.HotlineId);

        // First what needs no counter: the policy, its window, the caller's opt-out.
        var decisions = new List<OnhookDecision>(mine.Count);
        var counted = new List<(OnhookDecision Decision, OnhookPolicy Policy)>();
        foreach (var call in mine)
        {
            var hotline = hotlines[call.Called];
            var zone = Zone(hotline.TimeZone);
            var local = TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(call.EndedAt), zone);
            var outcome = OnhookQueries.OutcomeOf(call.Outcome);
            var policy = policies[hotline.Id].FirstOrDefault(p => !string.IsNullOrEmpty(OnhookQueries.ContentOf(p, outcome)));
            var d = new OnhookDecision
            {
                CallId = call.CallId,
                EnterpriseId = hotline.EnterpriseId,
                HotlineId = hotline.Id,
                PolicyId = policy?.Id,
                Caller = call.Caller,
                Outcome = outcome,
                EndedAt = call.EndedAt,
                Day = local.Year * 10000 + local.Month * 100 + local.Day,
                Decision = Decisions.NoPolicy,
            };
            decisions.Add(d);
            if (policy is null) continue;
            if (policy.WindowFrom is { } from && policy.WindowTo is { } to && !Within(local.Hour * 60 + local.Minute, from, to)) d.Decision = Decisions.Window;
            else counted.Add((d, policy));
        }
        foreach (var group in counted.Where(x => x.Policy.Category == Category.Marketing).GroupBy(x => x.Decision.EnterpriseId))
        {
            var opted = await optOuts.OptedOutAsync(c, tx, group.Key, group.Select(x => x.Decision.Caller).Distinct().ToArray(), ct);
            foreach (var (d, _) in group.Where(x => opted.Contains(x.Decision.Caller))) d.Decision = Decisions.OptedOut;
        }
        counted.RemoveAll(x => x.Decision.Decision == Decisions.OptedOut);

        // Then the counters, read once for the batch and decided call by call in the order the calls ended.
        var policyIds = counted.Select(x => x.Policy.Id).Distinct().ToArray();
        var days = counted.Select(x => x.Decision.Day).Distinct().ToArray();
        var repeatKeys = counted.Where(x => x.Policy.NoRepeat).Select(x => (x.Policy.Id, x.Decision.Caller)).Distinct().ToList();
        // Once ever: the memory of who got one (it outlives the decisions); within a period: every SMS sent to the caller,
        // so a call reported late is weighed against the sends on both sides of it.
        var last = await LastSentAsync(c, tx, counted.Where(x => x.Policy is { NoRepeat: true, PeriodDays: null }).Select(x => (x.Policy.Id, x.Decision.Caller)).Distinct().ToList());
        var sentTimes = await SentTimesAsync(c, tx, repeatKeys);
        var sentOn = policyIds.Length == 0 ? [] : (await c.QueryAsync<(long PolicyId, int Day, int Sent)>(
                "SELECT policy_id, day, sent FROM onhook_daily WHERE policy_id " + Database.InList(c, "policyIds") + " AND day " + Database.InList(c, "days"),
                new { policyIds, days }, tx)).ToDictionary(r => (r.PolicyId, r.Day), r => r.Sent);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var changedLast = new Dictionary<(long, string), long>();
        var changedDays = new HashSet<(long, int)>();
        foreach (var (d, p) in counted)
        {
            var times = p.NoRepeat ? sentTimes.TryGetValue((p.Id, d.Caller), out var known) ? known : sentTimes[(p.Id, d.Caller)] = [] : null;
            if (p.NoRepeat && (p.PeriodDays is { } period
                    ? times!.Any(t => Math.Abs(d.EndedAt - t) < period * 86_400_000L)
                    : last.ContainsKey((p.Id, d.Caller)) || times!.Count > 0))
            {
                d.Decision = Decisions.Repeat;
                continue;
            }
            var today = sentOn.GetValueOrDefault((p.Id, d.Day));
            if (p.DailyLimit is { } limit && today >= limit)
            {
                d.Decision = Decisions.Peak;
                continue;
            }
            d.Decision = Decisions.Sent;
            d.SendState = SendStates.Pending;
            d.SendAt = Math.Max(now, d.EndedAt + p.DelayMinutes * 60_000L);
            sentOn[(p.Id, d.Day)] = today + 1;
            changedDays.Add((p.Id, d.Day));
            if (p.NoRepeat)
            {
                times!.Add(d.EndedAt);
                var at = Math.Max(d.EndedAt, last.GetValueOrDefault((p.Id, d.Caller)));
                last[(p.Id, d.Caller)] = at;
                changedLast[(p.Id, d.Caller)] = at;
            }
        }

        await WriteAsync(c, tx, decisions, changedLast, changedDays.Select(x => (x.Item1, x.Item2, sentOn[x])).ToList());
        return decisions.Count;
    }

    private const string SelectHotlines = "SELECT h.id AS Id, h.enterprise_id AS EnterpriseId, h.number AS Number, s.open AS Open, s.time_zone AS TimeZone " +
        "FROM hotlines h JOIN onhook_services s ON s.enterprise_id = h.enterprise_id WHERE h.number ";

    /// <summary>
    /// The hotlines among the numbers called: most calls the switch reports are to other numbers (the missed-call
    /// service's, anyone's), so a batch may name thousands. PostgreSQL takes them as one array; SQLite looks each up.
    /// </summary>
    private static async Task<List<HotlineRow>> HotlinesAsync(DbConnection c, DbTransaction tx, string[] called)
    {
        if (c is Npgsql.NpgsqlConnection) return (await c.QueryAsync<HotlineRow>(SelectHotlines + "= ANY(@called)", new { called }, tx)).ToList();
        var found = new List<HotlineRow>();
        using var select = Prepared.For(c, tx, SelectHotlines + "= @number", "number");
        foreach (var number in called)
        {
            using var rows = select.Reader(number);
            if (rows.Read())
                found.Add(new HotlineRow { Id = rows.GetInt64(0), EnterpriseId = rows.GetInt64(1), Number = rows.GetString(2), Open = rows.GetBoolean(3), TimeZone = rows.IsDBNull(4) ? null : rows.GetString(4) });
        }
        return found;
    }

    /// <summary>When each (policy, caller) last got an SMS: SQLite looks each up by its key; PostgreSQL takes them in one statement.</summary>
    private static async Task<Dictionary<(long, string), long>> LastSentAsync(DbConnection c, DbTransaction tx, List<(long Policy, string Caller)> keys)
    {
        var last = new Dictionary<(long, string), long>();
        if (keys.Count == 0) return last;
        if (c is Npgsql.NpgsqlConnection)
        {
            var rows = await c.QueryAsync<(long PolicyId, string Caller, long LastSentAt)>(
                "SELECT o.policy_id, o.caller, o.last_sent_at FROM onhook_callers o JOIN unnest(@policies::bigint[], @callers::text[]) AS k(policy_id, caller) " +
                "ON o.policy_id = k.policy_id AND o.caller = k.caller",
                new { policies = keys.Select(k => k.Policy).ToArray(), callers = keys.Select(k => k.Caller).ToArray() }, tx);
            foreach (var r in rows) last[(r.PolicyId, r.Caller)] = r.LastSentAt;
            return last;
        }
        using var select = Prepared.For(c, tx, "SELECT last_sent_at FROM onhook_callers WHERE policy_id = @policy AND caller = @caller", "policy", "caller");
        foreach (var (policy, caller) in keys)
        {
            if (select.Scalar(policy, caller) is long at) last[(policy, caller)] = at;
        }
        return last;
    }

    private const string SentTimesSql = "SELECT d.ended_at FROM onhook_decisions d WHERE d.policy_id = @policy AND d.caller = @caller AND d.decision = 'sent' " +
        "AND (d.send_state IS NULL OR d.send_state <> 'failed')";

    /// <summary>When each (policy, caller) got an SMS that did not fail, from the decisions (kept longer than the longest period).</summary>
    private static async Task<Dictionary<(long, string), List<long>>> SentTimesAsync(DbConnection c, DbTransaction tx, List<(long Policy, string Caller)> keys)
    {
        var times = new Dictionary<(long, string), List<long>>();
        if (keys.Count == 0) return times;
        if (c is Npgsql.NpgsqlConnection)
        {
            var rows = await c.QueryAsync<(long PolicyId, string Caller, long EndedAt)>(
                "SELECT d.policy_id, d.caller, d.ended_at FROM onhook_decisions d JOIN unnest(@policies::bigint[], @callers::text[]) AS k(policy_id, caller) " +
                "ON d.policy_id = k.policy_id AND d.caller = k.caller WHERE d.decision = 'sent' AND (d.send_state IS NULL OR d.send_state <> 'failed')",
                new { policies = keys.Select(k => k.Policy).ToArray(), callers = keys.Select(k => k.Caller).ToArray() }, tx);
            foreach (var r in rows) (times.TryGetValue((r.PolicyId, r.Caller), out var list) ? list : times[(r.PolicyId, r.Caller)] = []).Add(r.EndedAt);
            return times;
        }
        using var select = Prepared.For(c, tx, SentTimesSql, "policy", "caller");
        foreach (var (policy, caller) in keys)
        {
            using var rows = select.Reader(policy, caller);
            while (rows.Read()) (times.TryGetValue((policy, caller), out var list) ? list : times[(policy, caller)] = []).Add(rows.GetInt64(0));
        }
        return times;
    }

    private const string InsertDecision = "INSERT INTO onhook_decisions (call_id, enterprise_id, hotline_id, policy_id, caller, outcome, ended_at, day, decision, send_at, send_state)";
    private const string UpsertCaller = " ON CONFLICT (policy_id, caller) DO UPDATE SET last_sent_at = " +
        "CASE WHEN excluded.last_sent_at > onhook_callers.last_sent_at THEN excluded.last_sent_at ELSE onhook_callers.last_sent_at END";
    private const string UpsertDay = " ON CONFLICT (policy_id, day) DO UPDATE SET sent = excluded.sent";

    /// <summary>The decisions and the counters they changed: SQLite row by row through prepared statements, PostgreSQL a statement for each table.</summary>
    private static async Task WriteAsync(DbConnection c, DbTransaction tx, List<OnhookDecision> decisions, Dictionary<(long, string), long> callers, List<(long Policy, int Day, int Sent)> days)
    {
        if (c is Npgsql.NpgsqlConnection)
        {
            await c.ExecuteAsync(InsertDecision + " SELECT * FROM unnest(@ids::text[], @enterprises::bigint[], @hotlines::bigint[], @policies::bigint[], @callers::text[], " +
                "@outcomes::text[], @ended::bigint[], @days::int[], @decisions::text[], @sendAt::bigint[], @states::text[]) ON CONFLICT (call_id) DO NOTHING",
                new
                {
                    ids = decisions.Select(d => d.CallId).ToArray(),
                    enterprises = decisions.Select(d => d.EnterpriseId).ToArray(),
                    hotlines = decisions.Select(d => d.HotlineId).ToArray(),
                    policies = decisions.Select(d => d.PolicyId).ToArray(),
                    callers = decisions.Select(d => d.Caller).ToArray(),
                    outcomes = decisions.Select(d => d.Outcome).ToArray(),
                    ended = decisions.Select(d => d.EndedAt).ToArray(),
                    days = decisions.Select(d => d.Day).ToArray(),
                    decisions = decisions.Select(d => d.Decision).ToArray(),
                    sendAt = decisions.Select(d => d.SendAt).ToArray(),
                    states = decisions.Select(d => d.SendState).ToArray(),
                }, tx);
            if (callers.Count > 0)
                await c.ExecuteAsync("INSERT INTO onhook_callers (policy_id, caller, last_sent_at) SELECT * FROM unnest(@policies::bigint[], @callers::text[], @at::bigint[])" + UpsertCaller,
                    new { policies = callers.Keys.Select(k => k.Item1).ToArray(), callers = callers.Keys.Select(k => k.Item2).ToArray(), at = callers.Values.ToArray() }, tx);
            if (days.Count > 0)
                await c.ExecuteAsync("INSERT INTO onhook_daily (policy_id, day, sent) SELECT * FROM unnest(@policies::bigint[], @days::int[], @sent::int[])" + UpsertDay,
                    new { policies = days.Select(d => d.Policy).ToArray(), days = days.Select(d => d.Day).ToArray(), sent = days.Select(d => d.Sent).ToArray() }, tx);
            return;
        }
        using (var insert = Prepared.For(c, tx, InsertDecision + " VALUES (@id, @enterprise, @hotline, @policy, @caller, @outcome, @ended, @day, @decision, @sendAt, @state) ON CONFLICT (call_id) DO NOTHING",
                   "id", "enterprise", "hotline", "policy", "caller", "outcome", "ended", "day", "decision", "sendAt", "state"))
        {
            foreach (var d in decisions) insert.Execute(d.CallId, d.EnterpriseId, d.HotlineId, d.PolicyId, d.Caller, d.Outcome, d.EndedAt, d.Day, d.Decision, d.SendAt, d.SendState);
        }
        using (var upsert = Prepared.For(c, tx, "INSERT INTO onhook_callers (policy_id, caller, last_sent_at) VALUES (@policy, @caller, @at)" + UpsertCaller, "policy", "caller", "at"))
        {
            foreach (var ((policy, caller), at) in callers) upsert.Execute(policy, caller, at);
        }
        using (var upsert = Prepared.For(c, tx, "INSERT INTO onhook_daily (policy_id, day, sent) VALUES (@policy, @day, @sent)" + UpsertDay, "policy", "day", "sent"))
        {
            foreach (var (policy, day, sent) in days) upsert.Execute(policy, day, sent);
        }
    }

    /// <summary>The SMS decided go now, from this node, not at the sender's next look.</summary>
    public void Committed() => sender.Set();

    private TimeZoneInfo Zone(string? id) => id is { Length: > 0 } && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : platformZone.Zone;

    /// <summary>In the window [from, to) in minutes of the day; a window whose end is before its start runs over midnight.</summary>
    public static bool Within(int minute, int from, int to) => from <= to ? minute >= from && minute < to : minute >= from || minute < to;
}
