using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>What the gate decided for a request: each entry's refusal (null when it went), and the events it wrote, to take back if the request is not stored.</summary>
public sealed record FlowDecision(string?[] Reasons, long[] Written);

/// <summary>
/// The keys that may have events in the database, as this node knows them: two Bloom filters of the keys written in
/// the last day and the day before (turned over every 24 hours), and the few keys whose events lie in the future
/// (scheduled sends). A key in neither has no event within any window, so its counts are not read. A false "may" costs
/// one read; a key is never missed, because every node's rows are read into the filters before each decision.
/// </summary>
public sealed class FlowKeyFilter(long expectedKeysPerDay)
{
    private const int Hashes = 7;
    private readonly long _bits = Math.Max(1 << 16, expectedKeysPerDay * 10);
    private ulong[] _current = new ulong[(Math.Max(1 << 16, expectedKeysPerDay * 10) + 63) / 64];
    private ulong[] _previous = new ulong[(Math.Max(1 << 16, expectedKeysPerDay * 10) + 63) / 64];
    private long _turnedAt = long.MinValue;
    private readonly Dictionary<long, long> _future = [];
    private static readonly long Day = (long)FlowLimits.Longest.TotalMilliseconds;

    public void Add(long key, long at, long now)
    {
        Turn(now);
        var h1 = (ulong)key;
        var h2 = (h1 >> 32) | 1;
        for (var i = 0UL; i < Hashes; i++)
        {
            var bit = (h1 + i * h2) % (ulong)_bits;
            _current[bit / 64] |= 1UL << (int)(bit % 64);
        }
        if (at > now) _future[key] = Math.Max(at, _future.GetValueOrDefault(key));
    }

    public bool MayHave(long key)
    {
        if (_future.ContainsKey(key)) return true;
        var h1 = (ulong)key;
        var h2 = (h1 >> 32) | 1;
        bool current = true, previous = true;
        for (var i = 0UL; i < Hashes && (current || previous); i++)
        {
            var bit = (h1 + i * h2) % (ulong)_bits;
            var mask = 1UL << (int)(bit % 64);
            current &= (_current[bit / 64] & mask) != 0;
            previous &= (_previous[bit / 64] & mask) != 0;
        }
        return current || previous;
    }

    /// <summary>Every 24 hours the older filter goes: what it held is more than a day old, beyond every window.</summary>
    private void Turn(long now)
    {
        if (_turnedAt == long.MinValue) _turnedAt = now;
        if (now - _turnedAt < Day) return;
        (_previous, _current) = (_current, _previous);
        Array.Clear(_current);
        _turnedAt = now;
        foreach (var (key, at) in _future.ToList())
        {
            if (at < now - Day) _future.Remove(key);
        }
    }
}

/// <summary>
/// Decides flow-limited candidates in batches: the requests waiting when the last transaction ended go into the next,
/// which first reads the events other nodes wrote since (by <see cref="FlowEvent.Seq"/>), then the counts of the keys
/// that may have events, decides candidate by candidate in arrival order, and writes the events of those that go.
/// On PostgreSQL the transaction locks the events table against the other nodes' gates (not against readers); on
/// SQLite the write lock does that. So two nodes never both take the last place. Small requests go before a big job's
/// next slice, so an OTP does not wait for 200,000 numbers.
/// </summary>
public sealed class FlowGate(Database database, TimeProvider time, IConfiguration config, ILogger<FlowGate> logger) : BackgroundService
{
    private sealed class Pending(List<FlowEntry> entries, IReadOnlySet<string> exempt, bool urgent)
    {
        public List<FlowEntry> Entries { get; } = entries;
        public IReadOnlySet<string> Exempt { get; } = exempt;
        public bool Urgent { get; } = urgent;
        public int Done { get; set; }
        public string?[] Reasons { get; } = new string?[entries.Count];
        public List<long> Written { get; } = [];
        public TaskCompletionSource<FlowDecision> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    private readonly FlowKeyFilter _filter = new(config.GetValue("Xinge:Compliance:FlowControl:ExpectedKeysPerDay", 4_000_000L));
    private long _lastSeq;
    /// <summary>Entries one transaction takes from a big request; the rest wait for the next, after any small ones.</summary>
    private const int Slice = 5_000;
    // The last row written before each minute: old events are pruned by row, up to the last one over a day old.
    private readonly Queue<(long At, long Seq)> _marks = new();
    private long _markedAt = long.MinValue;

    /// <param name="exempt">The enterprise's test numbers: its own limits spare them, the platform's do not.</param>
    /// <param name="urgent">OTPs: decided before other requests waiting at the same time.</param>
    public Task<FlowDecision> DecideAsync(List<FlowEntry> entries, IReadOnlySet<string> exempt, bool urgent)
    {
        var pending = new Pending(entries, exempt, urgent);
        if (!_queue.Writer.TryWrite(pending)) throw new InvalidOperationException("flow control is stopped");
        return pending.Result.Task;
    }

    /// <summary>A request that was not stored after all (no balance, a duplicate): its events are taken back.</summary>
    public async Task TakeBackAsync(long[] written)
    {
        if (written.Length == 0) return;
        try
        {
            using var turn = await database.WriteTurnAsync();
            await using var c = await database.OpenAsync();
            foreach (var chunk in written.Chunk(1000))
                await c.ExecuteAsync("DELETE FROM flow_events WHERE seq " + Database.InList(c, "seqs"), new { seqs = chunk });
        }
        catch (Exception e)
        {
            // Counted but not sent: the number gets fewer messages than its limit allows until the events age out.
            logger.LogWarning(e, "Taking back {Count} flow events failed", written.Length);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await LoadAsync(stoppingToken);
        var reader = _queue.Reader;
        var big = new Queue<Pending>();
        var pruned = time.GetUtcNow();
        while (big.Count > 0 || await reader.WaitToReadAsync(stoppingToken))
        {
            var small = new List<Pending>();
            var entries = 0;
            while (entries < Slice && reader.TryRead(out var p))
            {
                if (p.Entries.Count > Slice) big.Enqueue(p);
                else
                {
                    small.Add(p);
                    entries += p.Entries.Count;
                }
            }
            // Small requests first, OTPs among them first; then a slice of the oldest big request.
            var turn = small.OrderBy(p => p.Urgent ? 0 : 1).Select(p => (p, p.Entries.Count)).ToList();
            if (turn.Count == 0 && big.TryPeek(out var head)) turn.Add((head, Math.Min(Slice, head.Entries.Count - head.Done)));
            if (turn.Count == 0) continue;
            try
            {
                await DecideAsync(turn, stoppingToken);
                foreach (var (p, _) in turn)
                {
                    if (p.Done < p.Entries.Count) continue;
                    p.Result.TrySetResult(new FlowDecision(p.Reasons, p.Written.ToArray()));
                    if (big.TryPeek(out var first) && first == p) big.Dequeue();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Flow control could not decide {Count} requests", turn.Count);
                foreach (var (p, _) in turn)
                {
                    p.Result.TrySetException(e);
                    if (big.TryPeek(out var first) && first == p) big.Dequeue();
                }
            }
            if (time.GetUtcNow() - pruned > TimeSpan.FromMinutes(1))
            {
                pruned = time.GetUtcNow();
                await PruneAsync(stoppingToken);
            }
        }
    }

    /// <summary>At start: every event still in the table into the filter, and the last row read.</summary>
    private async Task LoadAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync(ct);
        await using var rows = await c.ExecuteReaderAsync("SELECT seq, key, at FROM flow_events ORDER BY seq");
        while (await rows.ReadAsync(ct))
        {
            _lastSeq = rows.GetInt64(0);
            _filter.Add(rows.GetInt64(1), rows.GetInt64(2), now);
        }
    }

    private async Task DecideAsync(List<(Pending Request, int Take)> turn, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        using var writeTurn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (database.IsPostgres) await c.ExecuteAsync("LOCK TABLE flow_events IN SHARE ROW EXCLUSIVE MODE", transaction: tx);

        // Other nodes' events since this node's last transaction.
        var last = _lastSeq;
        await using (var rows = await c.ExecuteReaderAsync("SELECT seq, key, at FROM flow_events WHERE seq > @last ORDER BY seq", new { last }, tx))
        {
            while (await rows.ReadAsync(ct))
            {
                last = rows.GetInt64(0);
                _filter.Add(rows.GetInt64(1), rows.GetInt64(2), now);
            }
        }

        // The counts of the keys that may have events, within the longest window around the entries' times.
        var slices = turn.Select(t => (t.Request, From: t.Request.Done, To: t.Request.Done + t.Take)).ToList();
        var from = slices.Min(s => s.Request.Entries.Skip(s.From).Take(s.To - s.From).Min(e => e.At)) - (long)FlowLimits.Longest.TotalMilliseconds;
        var keys = new HashSet<long>();
        foreach (var (p, start, end) in slices)
        {
            for (var i = start; i < end; i++)
            {
                foreach (var k in p.Entries[i].Keys)
                {
                    if (_filter.MayHave(k.Key)) keys.Add(k.Key);
                }
            }
        }
        var events = new Dictionary<long, List<(long At, long Content)>>();
        foreach (var (key, at, content) in await ReadAsync(c, tx, keys.ToArray(), from, ct))
        {
            if (!events.TryGetValue(key, out var list)) events[key] = list = [];
            list.Add((at, content));
        }

        var added = new List<(long Key, long At, long Content)>();
        var owners = new List<Pending>();
        foreach (var (p, start, end) in slices)
        {
            for (var i = start; i < end; i++)
            {
                var entry = p.Entries[i];
                // A test number is spared the enterprise's own limits; the platform's still count it.
                var keysOf = p.Exempt.Contains(entry.Number) ? entry.Keys.Where(k => k.Platform).ToArray() : entry.Keys;
                p.Reasons[i] = Exceeded(entry, keysOf, events);
                if (p.Reasons[i] is not null) continue;
                foreach (var k in keysOf)
                {
                    if (!events.TryGetValue(k.Key, out var list)) events[k.Key] = list = [];
                    list.Add((entry.At, entry.Content));
                    added.Add((k.Key, entry.At, entry.Content));
                    owners.Add(p);
                }
            }
        }
        var seqs = await WriteAsync(c, tx, added, ct);
        await tx.CommitAsync(ct);

        for (var i = 0; i < added.Count; i++)
        {
            _filter.Add(added[i].Key, added[i].At, now);
            owners[i].Written.Add(seqs[i]);
        }
        foreach (var (p, _, end) in slices) p.Done = end;
        _lastSeq = seqs.Length > 0 ? Math.Max(last, seqs[^1]) : last;
        if (now - _markedAt >= 60_000)
        {
            _marks.Enqueue((now, _lastSeq));
            _markedAt = now;
        }
    }

    /// <summary>The first limit the entry would exceed, or null. A window counts the events within it on either side of the entry's time.</summary>
    private static string? Exceeded(FlowEntry entry, FlowKey[] keys, Dictionary<long, List<(long At, long Content)>> events)
    {
        foreach (var k in keys)
        {
            if (!events.TryGetValue(k.Key, out var list)) continue;
            foreach (var (limit, count) in k.Limits)
            {
                var window = (long)limit.Window.TotalMilliseconds;
                var same = limit == FlowLimits.SameContent;
                var n = 0;
                foreach (var e in list)
                {
                    if (Math.Abs(e.At - entry.At) < window && (!same || e.Content == entry.Content)) n++;
                }
                if (n >= count) return limit.Name;
            }
        }
        return null;
    }

    private async Task<List<(long Key, long At, long Content)>> ReadAsync(DbConnection c, DbTransaction tx, long[] keys, long from, CancellationToken ct)
    {
        var rows = new List<(long, long, long)>();
        if (keys.Length == 0) return rows;
        if (database.IsPostgres)
        {
            rows.AddRange(await c.QueryAsync<(long, long, long)>("SELECT key, at, content FROM flow_events WHERE key = ANY(@keys) AND at > @from", new { keys, from }, tx));
            return rows;
        }
        // SQLite, in process: one prepared lookup per key.
        await using var cmd = Prepared(c, tx, "SELECT at, content FROM flow_events WHERE key = $key AND at > $from", "$key", "$from");
        cmd.Parameters[1].Value = from;
        foreach (var key in keys)
        {
            cmd.Parameters[0].Value = key;
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) rows.Add((key, r.GetInt64(0), r.GetInt64(1)));
        }
        return rows;
    }

    private static DbCommand Prepared(DbConnection c, DbTransaction tx, string sql, params string[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var name in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            cmd.Parameters.Add(p);
        }
        cmd.Prepare();
        return cmd;
    }

    /// <summary>Writes the events in order; their seqs, in the same order.</summary>
    private static async Task<long[]> WriteAsync(DbConnection c, DbTransaction tx, List<(long Key, long At, long Content)> added, CancellationToken ct)
    {
        var seqs = new long[added.Count];
        if (added.Count == 0) return seqs;
        if (c is NpgsqlConnection pg)
        {
            var at = 0;
            foreach (var chunk in added.Chunk(50_000))
            {
                await using var cmd = new NpgsqlCommand(
                    "INSERT INTO flow_events (key, at, content) SELECT k, a, x FROM unnest(@k, @a, @x) AS t(k, a, x) RETURNING seq", pg, (NpgsqlTransaction)tx);
                cmd.Parameters.Add(new NpgsqlParameter("k", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = chunk.Select(a => a.Key).ToArray() });
                cmd.Parameters.Add(new NpgsqlParameter("a", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = chunk.Select(a => a.At).ToArray() });
                cmd.Parameters.Add(new NpgsqlParameter("x", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = chunk.Select(a => a.Content).ToArray() });
                var written = new List<long>(chunk.Length);
                await using (var r = await cmd.ExecuteReaderAsync(ct))
                {
                    while (await r.ReadAsync(ct)) written.Add(r.GetInt64(0));
                }
                // Under the table lock nobody else draws from the sequence: the rows got ascending seqs in the order given.
                written.Sort();
                written.CopyTo(seqs, at);
                at += chunk.Length;
            }
            return seqs;
        }
        await using var insert = Prepared(c, tx, "INSERT INTO flow_events (key, at, content) VALUES ($key, $at, $content) RETURNING seq", "$key", "$at", "$content");
        for (var i = 0; i < added.Count; i++)
        {
            insert.Parameters[0].Value = added[i].Key;
            insert.Parameters[1].Value = added[i].At;
            insert.Parameters[2].Value = added[i].Content;
            seqs[i] = (long)(await insert.ExecuteScalarAsync(ct))!;
        }
        return seqs;
    }

    /// <summary>Events more than a day old count for nothing: once a minute, the rows written before then go (scheduled ones once their time has passed).</summary>
    private async Task PruneAsync(CancellationToken ct)
    {
        var cutoff = (time.GetUtcNow() - FlowLimits.Longest - TimeSpan.FromMinutes(5)).ToUnixTimeMilliseconds();
        long? upTo = null;
        while (_marks.TryPeek(out var mark) && mark.At < cutoff) upTo = _marks.Dequeue().Seq;
        if (upTo is null) return;
        try
        {
            using var turn = await database.WriteTurnAsync(ct);
            await using var c = await database.OpenAsync(ct);
            await c.ExecuteAsync("DELETE FROM flow_events WHERE seq <= @upTo AND at < @cutoff", new { upTo, cutoff });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Pruning old flow-control events failed; will try again");
        }
    }
}
