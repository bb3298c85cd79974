using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Messaging;

/// <summary>A message reaching its end: from which status, to which, why and when.</summary>
public readonly record struct EndRequest(long MessageId, string From, string Status, string? Error, long At);

public sealed record Ended(long MessageId, long EnterpriseId, long Price, string Recipient, long JobId, string? ClientRef, string Status, string? Error, long At, string From)
{
    /// <summary>Its job keeps counters (<see cref="JobCounters"/>).</summary>
    public bool JobCounted { get; init; }
    public string? Origin { get; init; }
    public string Sender { get; init; } = "";
    public long CreatedAt { get; init; }
    public string Category { get; init; } = "";
    public int Segments { get; init; }
    /// <summary>The connector it went out through, or was to go; empty when none was chosen.</summary>
    public string Connector { get; init; } = "";
}

public readonly record struct MatchedReceipt(ReceiptReceived Receipt, long MessageId, int Parts);

/// <summary>
/// The status writer's batch statements. SQLite runs in-process, so prepared per-row statements are cheapest there (and
/// synchronous); PostgreSQL is a round trip away, so each step is one set-based statement, awaited.
/// </summary>
public interface IStatusOps
{
    /// <summary>
    /// SMSCs reuse message ids (a restart resets the counter, counters wrap): another message's new part takes the place
    /// of a finished one with the same id, so its receipt finds it. A part still waiting for its receipt is never
    /// displaced, and a part recorded again for its own message (a retry after a partial submit) keeps its state.
    /// </summary>
    public const string PartConflict =
        "ON CONFLICT (connector, smsc_id) DO UPDATE SET message_id = excluded.message_id, part = excluded.part, parts = excluded.parts, state = 'submitted' " +
        "WHERE message_parts.state <> 'submitted' AND message_parts.message_id <> excluded.message_id";

    /// <summary>Marks messages submitted and records their parts; returns how many changed, per job that keeps counters.</summary>
    Task<Dictionary<long, int>> MarkSubmitted(IReadOnlyList<PartsSubmitted> submitted);
    Task Defer(IReadOnlyList<SubmitDeferred> deferred);
    /// <summary>Records each receipt's stat on its part; returns the receipts that matched a part still waiting for one.</summary>
    Task<List<MatchedReceipt>> MarkParts(IReadOnlyList<ReceiptReceived> receipts);
    /// <summary>Which of these (connector, SMSC id) pairs are known parts at all.</summary>
    Task<HashSet<(string Connector, string SmscId)>> Known(IReadOnlyList<ReceiptReceived> receipts);
    /// <summary>Per multi-part message: parts still waiting, and the first failure stat if any.</summary>
    Task<Dictionary<long, (long Pending, string? Failure)>> Tally(IReadOnlyCollection<long> messageIds);
    /// <summary>Ends each message that is still in its From status; returns those that changed (each exactly once).</summary>
    Task<List<Ended>> End(IReadOnlyList<EndRequest> requests);

    /// <summary>Parts of an ended message that never got their receipt stop waiting, so their SMSC ids can be reused.</summary>
    public const string CloseParts = "UPDATE message_parts SET state = 'ENDED' WHERE message_id = $1 AND state = 'submitted'";

    public static IStatusOps For(Database database, DbConnection c, DbTransaction tx) =>
        database.IsPostgres ? new PostgresStatusOps((NpgsqlConnection)c, (NpgsqlTransaction)tx) : new SqliteStatusOps(c, tx);
}

public sealed class SqliteStatusOps(DbConnection c, DbTransaction tx) : IStatusOps
{
    public Task<Dictionary<long, int>> MarkSubmitted(IReadOnlyList<PartsSubmitted> submitted)
    {
        var perJob = new Dictionary<long, int>();
        if (submitted.Count == 0) return Task.FromResult(perJob);
        using var part = Prepared.For(c, tx, "INSERT INTO message_parts (connector, smsc_id, message_id, part, parts, state) VALUES (@c, @s, @m, @p, @n, 'submitted') " + IStatusOps.PartConflict, "c", "s", "m", "p", "n");
        using var update = Prepared.For(c, tx, "UPDATE messages SET status = 'submitted', submitted_at = @at, connector = @c, lease_until = NULL WHERE id = @id AND status = 'queued' RETURNING job_id, job_counted", "at", "c", "id");
        foreach (var s in submitted)
        {
            using (var r = update.Reader(s.At, s.Connector, s.MessageId))
            {
                if (!r.Read()) continue;
                if (r.GetBoolean(1)) perJob[r.GetInt64(0)] = perJob.GetValueOrDefault(r.GetInt64(0)) + 1;
            }
            for (var i = 0; i < s.SmscIds.Count; i++) part.Execute(s.Connector, s.SmscIds[i], s.MessageId, i + 1, s.SmscIds.Count);
        }
        return Task.FromResult(perJob);
    }

    public Task Defer(IReadOnlyList<SubmitDeferred> deferred)
    {
        if (deferred.Count == 0) return Task.CompletedTask;
        using var defer = Prepared.For(c, tx, "UPDATE messages SET lease_until = @retry, lease_owner = NULL, attempts = attempts + @n, error = @reason WHERE id = @id AND status = 'queued'", "retry", "n", "reason", "id");
        foreach (var d in deferred) defer.Execute(d.RetryAt, d.CountsAsAttempt ? 1 : 0, d.Reason, d.MessageId);
        return Task.CompletedTask;
    }

    public Task<List<MatchedReceipt>> MarkParts(IReadOnlyList<ReceiptReceived> receipts)
    {
        var matched = new List<MatchedReceipt>();
        if (receipts.Count == 0) return Task.FromResult(matched);
        using var mark = Prepared.For(c, tx, "UPDATE message_parts SET state = @state WHERE connector = @c AND smsc_id = @s AND state = 'submitted' RETURNING message_id, parts", "state", "c", "s");
        foreach (var receipt in receipts)
        {
            using var r = mark.Reader(receipt.Stat, receipt.Connector, receipt.SmscId);
            if (r.Read()) matched.Add(new MatchedReceipt(receipt, r.GetInt64(0), r.GetInt32(1)));
        }
        return Task.FromResult(matched);
    }

    public Task<HashSet<(string Connector, string SmscId)>> Known(IReadOnlyList<ReceiptReceived> receipts)
    {
        var known = new HashSet<(string, string)>();
        if (receipts.Count == 0) return Task.FromResult(known);
        using var q = Prepared.For(c, tx, "SELECT COUNT(*) FROM message_parts WHERE connector = @c AND smsc_id = @s", "c", "s");
        foreach (var r in receipts)
        {
            if (Convert.ToInt64(q.Scalar(r.Connector, r.SmscId)) > 0) known.Add((r.Connector, r.SmscId));
        }
        return Task.FromResult(known);
    }

    public Task<Dictionary<long, (long Pending, string? Failure)>> Tally(IReadOnlyCollection<long> messageIds)
    {
        var result = new Dictionary<long, (long, string?)>();
        if (messageIds.Count == 0) return Task.FromResult(result);
        using var tally = Prepared.For(c, tx,
            "SELECT SUM(CASE WHEN state = 'submitted' THEN 1 ELSE 0 END), MIN(CASE WHEN state NOT IN ('submitted', 'DELIVRD') THEN state END) FROM message_parts WHERE message_id = @m", "m");
        foreach (var id in messageIds)
        {
            using var t = tally.Reader(id);
            t.Read();
            result[id] = (t.IsDBNull(0) ? 0 : t.GetInt64(0), t.IsDBNull(1) ? null : t.GetString(1));
        }
        return Task.FromResult(result);
    }

    public Task<List<Ended>> End(IReadOnlyList<EndRequest> requests)
    {
        var ended = new List<Ended>();
        if (requests.Count == 0) return Task.FromResult(ended);
        using var finish = Prepared.For(c, tx,
            "UPDATE messages SET status = @status, error = @error, done_at = @at, lease_until = NULL WHERE id = @id AND status = @from " +
            "RETURNING enterprise_id, price, recipient, job_id, client_ref, origin, sender, created_at, job_counted, category, segments, connector", "status", "error", "at", "id", "from");
        foreach (var e in requests)
        {
            using var r = finish.Reader(e.Status, e.Error, e.At, e.MessageId, e.From);
            if (r.Read()) ended.Add(new Ended(e.MessageId, r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetInt64(3), r.IsDBNull(4) ? null : r.GetString(4), e.Status, e.Error, e.At, e.From)
            {
                Origin = r.IsDBNull(5) ? null : r.GetString(5),
                Sender = r.GetString(6),
                CreatedAt = r.GetInt64(7),
                JobCounted = r.GetBoolean(8),
                Category = r.GetString(9),
                Segments = r.GetInt32(10),
                Connector = r.IsDBNull(11) ? "" : r.GetString(11),
            });
        }
        return Task.FromResult(ended);
    }
}

/// <remarks>
/// One set-based statement per group of rows that change alike, naming its rows with <c>= ANY(array)</c> on their key
/// (an index scan whatever the statistics say). Joins against unnest() were tried twice: with stale statistics the
/// planner chose sequential scans, and with fresh ones a nested loop over the array for every row (a 250-row batch
/// took 10 ms). Times within a group are the group's latest (a status batch spans milliseconds). A status is compared
/// as <c>status || ''</c>: with statistics taken while no message was queued, the planner read the whole partial queue
/// index (tens of thousands of rows during a big job) instead of the primary key.
/// </remarks>
public sealed class PostgresStatusOps(NpgsqlConnection c, NpgsqlTransaction tx) : IStatusOps
{
    private NpgsqlCommand Command(string sql, params (string Name, object Value, NpgsqlDbType Type)[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, c, tx);
        foreach (var (name, value, type) in parameters)
            cmd.Parameters.Add(new NpgsqlParameter(name, value is Array ? NpgsqlDbType.Array | type : type) { Value = value });
        return cmd;
    }

    public async Task<Dictionary<long, int>> MarkSubmitted(IReadOnlyList<PartsSubmitted> submitted)
    {
        var perJob = new Dictionary<long, int>();
        if (submitted.Count == 0) return perJob;
        // The connector each message was marked submitted through: its parts are recorded under that one only.
        var changed = new Dictionary<long, string>();
        foreach (var group in submitted.GroupBy(s => s.Connector))
        {
            await using var update = Command(
                "UPDATE messages SET status = 'submitted', submitted_at = @at, connector = @c, lease_until = NULL WHERE id = ANY(@id) AND status || '' = 'queued' RETURNING id, job_id, job_counted",
                ("id", group.Select(s => s.MessageId).Distinct().ToArray(), NpgsqlDbType.Bigint),
                ("at", group.Max(s => s.At), NpgsqlDbType.Bigint),
                ("c", group.Key, NpgsqlDbType.Text));
            await using var r = await update.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                changed[r.GetInt64(0)] = group.Key;
                if (r.GetBoolean(2)) perJob[r.GetInt64(1)] = perJob.GetValueOrDefault(r.GetInt64(1)) + 1;
            }
        }
        // One row per (connector, SMSC id): PostgreSQL refuses an upsert that touches a row twice (an SMSC answering
        // the same id for two parts); the first part keeps it, as on SQLite.
        var parts = submitted.Where(s => changed.TryGetValue(s.MessageId, out var through) && through == s.Connector && changed.Remove(s.MessageId))
            .SelectMany(s => s.SmscIds.Select((id, i) => (s.Connector, SmscId: id, s.MessageId, Part: i + 1, Parts: s.SmscIds.Count)))
            .DistinctBy(p => (p.Connector, p.SmscId)).ToList();
        if (parts.Count == 0) return perJob;
        await using var insert = Command(
            "INSERT INTO message_parts (connector, smsc_id, message_id, part, parts, state) " +
            "SELECT c, s, m, p, n, 'submitted' FROM unnest(@c, @s, @m, @p, @n) AS t(c, s, m, p, n) " + IStatusOps.PartConflict,
            ("c", parts.Select(p => p.Connector).ToArray(), NpgsqlDbType.Text),
            ("s", parts.Select(p => p.SmscId).ToArray(), NpgsqlDbType.Text),
            ("m", parts.Select(p => p.MessageId).ToArray(), NpgsqlDbType.Bigint),
            ("p", parts.Select(p => p.Part).ToArray(), NpgsqlDbType.Integer),
            ("n", parts.Select(p => p.Parts).ToArray(), NpgsqlDbType.Integer));
        await insert.ExecuteNonQueryAsync();
        return perJob;
    }

    public async Task Defer(IReadOnlyList<SubmitDeferred> deferred)
    {
        // Retry times to the next second: deferrals of one batch fall into a few groups.
        foreach (var group in deferred.GroupBy(d => (d.Reason, d.CountsAsAttempt, RetryAt: (d.RetryAt + 999) / 1000 * 1000)))
        {
            await using var update = Command(
                "UPDATE messages SET lease_until = @retry, lease_owner = NULL, attempts = attempts + @n, error = @reason WHERE id = ANY(@id) AND status || '' = 'queued'",
                ("id", group.Select(d => d.MessageId).Distinct().ToArray(), NpgsqlDbType.Bigint),
                ("retry", group.Key.RetryAt, NpgsqlDbType.Bigint),
                ("n", group.Key.CountsAsAttempt ? 1 : 0, NpgsqlDbType.Integer),
                ("reason", group.Key.Reason, NpgsqlDbType.Text));
            await update.ExecuteNonQueryAsync();
        }
    }

    public async Task<List<MatchedReceipt>> MarkParts(IReadOnlyList<ReceiptReceived> receipts)
    {
        var matched = new List<MatchedReceipt>();
        // A part is marked once: a repeated receipt in the same batch finds it marked already, as on SQLite.
        var first = receipts.GroupBy(r => (r.Connector, r.SmscId)).Select(g => g.First()).ToList();
        foreach (var group in first.GroupBy(r => (r.Connector, r.Stat)))
        {
            var bySmscId = group.ToDictionary(r => r.SmscId);
            await using var update = Command(
                "UPDATE message_parts SET state = @st WHERE connector = @c AND smsc_id = ANY(@s) AND state = 'submitted' RETURNING smsc_id, message_id, parts",
                ("c", group.Key.Connector, NpgsqlDbType.Text),
                ("s", bySmscId.Keys.ToArray(), NpgsqlDbType.Text),
                ("st", group.Key.Stat, NpgsqlDbType.Text));
            await using var r = await update.ExecuteReaderAsync();
            while (await r.ReadAsync()) matched.Add(new MatchedReceipt(bySmscId[r.GetString(0)], r.GetInt64(1), r.GetInt32(2)));
        }
        return matched;
    }

    public async Task<HashSet<(string Connector, string SmscId)>> Known(IReadOnlyList<ReceiptReceived> receipts)
    {
        var known = new HashSet<(string, string)>();
        foreach (var group in receipts.GroupBy(r => r.Connector))
        {
            await using var query = Command("SELECT smsc_id FROM message_parts WHERE connector = @c AND smsc_id = ANY(@s)",
                ("c", group.Key, NpgsqlDbType.Text),
                ("s", group.Select(r => r.SmscId).Distinct().ToArray(), NpgsqlDbType.Text));
            await using var r = await query.ExecuteReaderAsync();
            while (await r.ReadAsync()) known.Add((group.Key, r.GetString(0)));
        }
        return known;
    }

    public async Task<Dictionary<long, (long Pending, string? Failure)>> Tally(IReadOnlyCollection<long> messageIds)
    {
        var result = new Dictionary<long, (long, string?)>();
        if (messageIds.Count == 0) return result;
        await using var cmd = Command(
            "SELECT message_id, SUM(CASE WHEN state = 'submitted' THEN 1 ELSE 0 END), MIN(CASE WHEN state NOT IN ('submitted', 'DELIVRD') THEN state END) " +
            "FROM message_parts WHERE message_id = ANY(@m) GROUP BY message_id",
            ("m", messageIds.ToArray(), NpgsqlDbType.Bigint));
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) result[r.GetInt64(0)] = (r.GetInt64(1), r.IsDBNull(2) ? null : r.GetString(2));
        return result;
    }

    public async Task<List<Ended>> End(IReadOnlyList<EndRequest> requests)
    {
        var ended = new List<Ended>();
        var pending = requests.ToList();
        while (pending.Count > 0)
        {
            // A message ends once: its first request in the batch goes first; a later one (another From) only if that did not end it.
            var round = pending.DistinctBy(e => e.MessageId).ToList();
            foreach (var group in round.GroupBy(e => (e.From, e.Status, e.Error)))
            {
                var at = group.Max(e => e.At);
                await using var update = Command(
                    "UPDATE messages SET status = @st, error = @err, done_at = @at, lease_until = NULL WHERE id = ANY(@id) AND status || '' = @from " +
                    "RETURNING id, enterprise_id, price, recipient, job_id, client_ref, origin, sender, created_at, job_counted, category, segments, connector",
                    ("id", group.Select(e => e.MessageId).ToArray(), NpgsqlDbType.Bigint),
                    ("st", group.Key.Status, NpgsqlDbType.Text),
                    ("err", (object?)group.Key.Error ?? DBNull.Value, NpgsqlDbType.Text),
                    ("at", at, NpgsqlDbType.Bigint),
                    ("from", group.Key.From, NpgsqlDbType.Text));
                await using var r = await update.ExecuteReaderAsync();
                while (await r.ReadAsync())
                {
                    ended.Add(new Ended(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), r.GetInt64(4), r.IsDBNull(5) ? null : r.GetString(5),
                        group.Key.Status, group.Key.Error, at, group.Key.From)
                    {
                        Origin = r.IsDBNull(6) ? null : r.GetString(6),
                        Sender = r.GetString(7),
                        CreatedAt = r.GetInt64(8),
                        JobCounted = r.GetBoolean(9),
                        Category = r.GetString(10),
                        Segments = r.GetInt32(11),
                        Connector = r.IsDBNull(12) ? "" : r.GetString(12),
                    });
                }
            }
            var done = ended.Select(e => e.MessageId).ToHashSet();
            pending = pending.Except(round).Where(e => !done.Contains(e.MessageId)).ToList();
        }
        return ended;
    }
}
