using System.Buffers.Binary;
using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Compliance;

/// <summary>One message counted on one key: when it goes and a hash of its content.</summary>
public readonly record struct FlowCount(long Key, long At, int Content);

/// <summary>What the gate decided for a request: each entry's refusal (null when it went), and what it counted, to take back if the request is not stored.</summary>
public sealed record FlowDecision(string?[] Reasons, FlowCount[] Counted);

/// <summary>
/// Every count of the last day (and those of scheduled sends ahead), as this node holds them: for each key its events,
/// newest first, in flat arrays (about 45 bytes a key with one event). Compacted now and then, dropping what has
/// aged out of every window.
/// </summary>
public sealed class FlowLedger
{
    private Dictionary<long, int> _newest = [];
    private long[] _at = new long[1024];
    private int[] _content = new int[1024];
    private int[] _older = new int[1024];
    private int _used;

    public int Keys => _newest.Count;
    public int Events => _used;

    public void Add(FlowCount c)
    {
        if (_used == _at.Length)
        {
            Array.Resize(ref _at, _used * 2);
            Array.Resize(ref _content, _used * 2);
            Array.Resize(ref _older, _used * 2);
        }
        _at[_used] = c.At;
        _content[_used] = c.Content;
        _older[_used] = _newest.TryGetValue(c.Key, out var head) ? head : -1;
        _newest[c.Key] = _used++;
    }

    /// <summary>Takes one matching count back (a request that was not stored).</summary>
    public void Remove(FlowCount c)
    {
        if (!_newest.TryGetValue(c.Key, out var i)) return;
        var previous = -1;
        for (; i >= 0; previous = i, i = _older[i])
        {
            if (_at[i] != c.At || _content[i] != c.Content) continue;
            if (previous < 0)
            {
                if (_older[i] < 0) _newest.Remove(c.Key);
                else _newest[c.Key] = _older[i];
            }
            else _older[previous] = _older[i];
            return;
        }
    }

    /// <summary>How many counts of <paramref name="key"/> lie within <paramref name="window"/> of <paramref name="at"/> (of the same content, if given).</summary>
    public int Count(long key, long at, long window, int? content)
    {
        if (!_newest.TryGetValue(key, out var i)) return 0;
        var n = 0;
        for (; i >= 0; i = _older[i])
        {
            if (Math.Abs(_at[i] - at) < window && (content is null || _content[i] == content)) n++;
        }
        return n;
    }

    /// <summary>Keeps only counts at or after <paramref name="since"/>: the arrays are built again, as small as they can be.</summary>
    public void Compact(long since)
    {
        var newest = new Dictionary<long, int>(_newest.Count);
        var at = new long[Math.Max(1024, _used)];
        var content = new int[at.Length];
        var older = new int[at.Length];
        var used = 0;
        var chain = new List<int>();
        foreach (var (key, head) in _newest)
        {
            chain.Clear();
            for (var i = head; i >= 0; i = _older[i])
            {
                if (_at[i] >= since) chain.Add(i);
            }
            var next = -1;
            for (var j = chain.Count - 1; j >= 0; j--)
            {
                at[used] = _at[chain[j]];
                content[used] = _content[chain[j]];
                older[used] = next;
                next = used++;
            }
            if (next >= 0) newest[key] = next;
        }
        (_newest, _at, _content, _older, _used) = (newest, at, content, older, used);
    }
}

/// <summary>
/// Decides flow-limited candidates in batches. The counts live in memory on every node (<see cref="FlowLedger"/>); the
/// database keeps the log they come from (<c>flow_log</c>: a row per decision, its counts packed). A decision takes
/// the log's lock (PostgreSQL: the table, against the other nodes' gates, not readers; SQLite: the write lock), reads
/// the rows other nodes wrote since its last one, decides candidate by candidate in arrival order, and writes one row
/// with what it counted. So two nodes never both take the last place, and a 200,000-number job costs one row, not
/// 200,000. Small requests go before a big job's next slice, OTPs first, so an OTP does not wait for a big job.
/// </summary>
public sealed class FlowGate(Database database, TimeProvider time, ILogger<FlowGate> logger) : BackgroundService
{
    private sealed class Pending(List<FlowEntry> entries, IReadOnlySet<string> exempt, bool urgent)
    {
        public List<FlowEntry> Entries { get; } = entries;
        public IReadOnlySet<string> Exempt { get; } = exempt;
        public bool Urgent { get; } = urgent;
        public int Done { get; set; }
        public string?[] Reasons { get; } = new string?[entries.Count];
        public List<FlowCount> Counted { get; } = [];
        /// <summary>A take-back instead of a decision: these counts leave the log.</summary>
        public FlowCount[]? Removing { get; init; }
        public TaskCompletionSource<FlowDecision> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private const byte Added = 1, Removed = 2;
    private const int CountBytes = 20;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    private FlowLedger _ledger = new();
    private long _lastSeq;
    /// <summary>Entries one decision takes from a big request; the rest wait for the next, after any small ones.</summary>
    private const int Slice = 20_000;
    private static readonly long Day = (long)FlowLimits.Longest.TotalMilliseconds;

    /// <param name="exempt">The enterprise's test numbers: its own limits spare them, the platform's do not.</param>
    /// <param name="urgent">OTPs: decided before other requests waiting at the same time.</param>
    public Task<FlowDecision> DecideAsync(List<FlowEntry> entries, IReadOnlySet<string> exempt, bool urgent)
    {
        var pending = new Pending(entries, exempt, urgent);
        if (!_queue.Writer.TryWrite(pending)) throw new InvalidOperationException("flow control is stopped");
        return pending.Result.Task;
    }

    /// <summary>A request that was not stored after all (no balance, a duplicate): its counts are taken back, on every node.</summary>
    public async Task TakeBackAsync(FlowCount[] counted)
    {
        if (counted.Length == 0) return;
        var pending = new Pending([], new HashSet<string>(), urgent: false) { Removing = counted };
        if (!_queue.Writer.TryWrite(pending)) return;
        try
        {
            await pending.Result.Task;
        }
        catch (Exception e)
        {
            // Counted but not sent: the number gets fewer messages than its limit allows until the counts age out.
            logger.LogWarning(e, "Taking back {Count} flow counts failed", counted.Length);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await LoadAsync(stoppingToken);
        var reader = _queue.Reader;
        var big = new Queue<Pending>();
        var tidied = time.GetUtcNow();
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
                    entries += Math.Max(1, p.Entries.Count);
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
                    p.Result.TrySetResult(new FlowDecision(p.Reasons, p.Counted.ToArray()));
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
                // What this node holds may be behind what it wrote before the failure: read the log again.
                await LoadAsync(stoppingToken);
            }
            if (time.GetUtcNow() - tidied > TimeSpan.FromMinutes(10))
            {
                tidied = time.GetUtcNow();
                await TidyAsync(stoppingToken);
            }
        }
    }

    /// <summary>At start (and after a failure): the whole log, which holds a day, into memory.</summary>
    private async Task LoadAsync(CancellationToken ct)
    {
        var ledger = new FlowLedger();
        await using var c = await database.OpenAsync(ct);
        await using var rows = await c.ExecuteReaderAsync("SELECT seq, counts FROM flow_log ORDER BY seq");
        var last = 0L;
        while (await rows.ReadAsync(ct))
        {
            last = rows.GetInt64(0);
            Apply(ledger, (byte[])rows.GetValue(1));
        }
        _ledger = ledger;
        _lastSeq = last;
    }

    private static void Apply(FlowLedger ledger, byte[] packed)
    {
        if (packed.Length == 0) return;
        var kind = packed[0];
        for (var offset = 1; offset + CountBytes <= packed.Length; offset += CountBytes)
        {
            var span = packed.AsSpan(offset, CountBytes);
            var count = new FlowCount(BinaryPrimitives.ReadInt64LittleEndian(span), BinaryPrimitives.ReadInt64LittleEndian(span[8..]), BinaryPrimitives.ReadInt32LittleEndian(span[16..]));
            if (kind == Added) ledger.Add(count);
            else ledger.Remove(count);
        }
    }

    private static byte[] Pack(byte kind, IReadOnlyList<FlowCount> counts)
    {
        var packed = new byte[1 + counts.Count * CountBytes];
        packed[0] = kind;
        for (var i = 0; i < counts.Count; i++)
        {
            var span = packed.AsSpan(1 + i * CountBytes, CountBytes);
            BinaryPrimitives.WriteInt64LittleEndian(span, counts[i].Key);
            BinaryPrimitives.WriteInt64LittleEndian(span[8..], counts[i].At);
            BinaryPrimitives.WriteInt32LittleEndian(span[16..], counts[i].Content);
        }
        return packed;
    }

    private async Task DecideAsync(List<(Pending Request, int Take)> turn, CancellationToken ct)
    {
        using var writeTurn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (database.IsPostgres)
        {
            // The log row is worth losing only with the messages it counted: a later commit (the store's) flushes it anyway.
            await c.ExecuteAsync("SET LOCAL synchronous_commit TO OFF; LOCK TABLE flow_log IN SHARE ROW EXCLUSIVE MODE", transaction: tx);
        }

        // Other nodes' decisions since this node's last one.
        var last = _lastSeq;
        await using (var rows = await c.ExecuteReaderAsync("SELECT seq, counts FROM flow_log WHERE seq > @last ORDER BY seq", new { last }, tx))
        {
            while (await rows.ReadAsync(ct))
            {
                last = rows.GetInt64(0);
                Apply(_ledger, (byte[])rows.GetValue(1));
            }
        }
        _lastSeq = last;

        // Decided against the ledger and what this decision counted before (kept apart until the commit).
        var added = new List<FlowCount>();
        var pending = new FlowLedger();
        foreach (var (p, take) in turn)
        {
            if (p.Removing is { } removing)
            {
                foreach (var r in removing) _ledger.Remove(r);
                continue;
            }
            var end = p.Done + take;
            for (var i = p.Done; i < end; i++)
            {
                var entry = p.Entries[i];
                // A test number is spared the enterprise's own limits; the platform's still count it.
                var keys = p.Exempt.Contains(entry.Number) ? entry.Keys.Where(k => k.Platform).ToArray() : entry.Keys;
                p.Reasons[i] = Exceeded(entry, keys, pending);
                if (p.Reasons[i] is not null) continue;
                foreach (var k in keys)
                {
                    var count = new FlowCount(k.Key, entry.At, entry.Content);
                    pending.Add(count);
                    added.Add(count);
                    p.Counted.Add(count);
                }
            }
        }
        var removed = turn.Where(t => t.Request.Removing is not null).SelectMany(t => t.Request.Removing!).ToList();
        if (removed.Count > 0) _lastSeq = await WriteAsync(c, tx, Pack(Removed, removed), MaxAt(removed), ct);
        if (added.Count > 0) _lastSeq = await WriteAsync(c, tx, Pack(Added, added), MaxAt(added), ct);
        await tx.CommitAsync(ct);
        foreach (var count in added) _ledger.Add(count);
        foreach (var (p, take) in turn) p.Done += p.Removing is null ? take : 0;
    }

    private static long MaxAt(List<FlowCount> counts) => counts.Max(x => x.At);

    /// <summary>The first limit the entry would exceed, or null. A window counts the events within it on either side of the entry's time.</summary>
    private string? Exceeded(FlowEntry entry, FlowKey[] keys, FlowLedger pending)
    {
        foreach (var k in keys)
        {
            foreach (var (limit, count) in k.Limits)
            {
                var window = (long)limit.Window.TotalMilliseconds;
                int? content = limit == FlowLimits.SameContent ? entry.Content : null;
                if (_ledger.Count(k.Key, entry.At, window, content) + pending.Count(k.Key, entry.At, window, content) >= count) return limit.Name;
            }
        }
        return null;
    }

    /// <summary>Writes one row of the log; its seq.</summary>
    private static async Task<long> WriteAsync(DbConnection c, DbTransaction tx, byte[] counts, long until, CancellationToken ct) =>
        await c.ExecuteScalarAsync<long>(new CommandDefinition("INSERT INTO flow_log (until, counts) VALUES (@until, @counts) RETURNING seq",
            new { until, counts }, tx, cancellationToken: ct));

    /// <summary>Every ten minutes: the log rows whose counts are all more than a day old go, and the ledger drops them too.</summary>
    private async Task TidyAsync(CancellationToken ct)
    {
        var cutoff = (time.GetUtcNow() - FlowLimits.Longest - TimeSpan.FromMinutes(5)).ToUnixTimeMilliseconds();
        _ledger.Compact(cutoff);
        try
        {
            using var turn = await database.WriteTurnAsync(ct);
            await using var c = await database.OpenAsync(ct);
            await c.ExecuteAsync("DELETE FROM flow_log WHERE until < @cutoff", new { cutoff });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Pruning old flow-control log rows failed; will try again");
        }
    }
}
