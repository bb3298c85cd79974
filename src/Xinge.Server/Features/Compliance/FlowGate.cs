using System.Buffers.Binary;
using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

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
/// The counts as this node holds them (<see cref="FlowLedger"/>) and the log they come from (<c>flow_log</c>: a row
/// per decision, its counts packed, read by every node in <see cref="FlowLogRow.Seq"/> order). A decision runs in a
/// transaction that holds the log's lock (PostgreSQL: the table, against the other nodes, not readers; SQLite: the
/// write lock): it reads the rows other nodes wrote since, decides entry by entry against the counts, and writes one
/// row with what it counted, which joins the ledger when the transaction commits. So two nodes never both take the
/// last place, and a 200,000-number job costs one row, not 200,000. One caller at a time: the PostgreSQL gate's loop,
/// or SQLite's store writer.
/// </summary>
public sealed class FlowBook(Database database, TimeProvider time, ILogger<FlowBook> logger) : IHostedService
{
    private const byte Added = 1, Removed = 2;
    private const int CountBytes = 20;
    private FlowLedger _ledger = new();
    private long _lastSeq;
    // What the open transaction counted: in order (to write and to keep), and by key (to count against).
    private List<(object? Owner, FlowCount Count)> _pending = [];
    private FlowLedger _overlay = new();
    private long? _pendingSeq;
    private DateTimeOffset _tidied = DateTimeOffset.MinValue;

    public Task StartAsync(CancellationToken ct) => LoadAsync(ct);

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>The whole log, which holds a day, into memory: at start, and after a transaction that failed.</summary>
    public async Task LoadAsync(CancellationToken ct)
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
        (_ledger, _lastSeq, _tidied) = (ledger, last, time.GetUtcNow());
        Abandoned();
    }

    /// <summary>In the decision's transaction, first: the lock (PostgreSQL), then what other nodes wrote since this node's last row.</summary>
    public async Task BeginAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        Abandoned();
        if (database.IsPostgres)
        {
            // The row is worth losing only with the messages it counted: the store's later commit flushes it anyway.
            await c.ExecuteAsync("SET LOCAL synchronous_commit TO OFF; LOCK TABLE flow_log IN SHARE ROW EXCLUSIVE MODE", transaction: tx);
        }
        // A log whose last row is below the last one read went back (a database restored, or crashed before its
        // disk had the rows this node read): the ledger is read from it again.
        if (await c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(seq), 0) FROM flow_log", transaction: tx) < _lastSeq) await LoadAsync(ct);
        await using var rows = await c.ExecuteReaderAsync("SELECT seq, counts FROM flow_log WHERE seq > @last ORDER BY seq", new { last = _lastSeq }, tx);
        while (await rows.ReadAsync(ct))
        {
            _lastSeq = rows.GetInt64(0);
            Apply(_ledger, (byte[])rows.GetValue(1));
        }
    }

    /// <summary>Decides entries in order: each entry's refusal (null when it goes), and what it counted (kept apart until the commit).</summary>
    /// <param name="owner">Whose counts these are, for <see cref="WriteAsync(DbConnection, DbTransaction, Func{object?, bool}, CancellationToken)"/>.</param>
    public void Decide(List<FlowEntry> entries, int from, int to, IReadOnlySet<string> exempt, string?[] reasons, List<FlowCount>? counted, object? owner = null)
    {
        for (var i = from; i < to; i++)
        {
            var entry = entries[i];
            // A test number is spared the enterprise's own limits; the platform's still count it.
            var keys = exempt.Contains(entry.Number) ? entry.Keys.Where(k => k.Platform).ToArray() : entry.Keys;
            reasons[i] = Exceeded(entry, keys);
            if (reasons[i] is not null) continue;
            foreach (var k in keys)
            {
                var count = new FlowCount(k.Key, entry.At, entry.Content);
                _pending.Add((owner, count));
                _overlay.Add(count);
                counted?.Add(count);
            }
        }
    }

    /// <summary>Counts taken back (a request not stored after all), in this transaction.</summary>
    public async Task TakeBackAsync(DbConnection c, DbTransaction tx, IReadOnlyList<FlowCount> counts, CancellationToken ct)
    {
        if (counts.Count == 0) return;
        var seq = await WriteAsync(c, tx, Pack(Removed, counts), counts.Max(x => x.At), ct);
        // This node applies its own row here: the next read of the log must start after it, not apply it again.
        _pendingSeq = Math.Max(_pendingSeq ?? 0, seq);
        foreach (var r in counts) _ledger.Remove(r);
    }

    /// <summary>Writes what was counted for the owners <paramref name="keep"/> keeps (those stored), as one row of the log, in this transaction.</summary>
    public async Task WriteAsync(DbConnection c, DbTransaction tx, Func<object?, bool> keep, CancellationToken ct)
    {
        _pending = _pending.Where(p => keep(p.Owner)).ToList();
        if (_pending.Count == 0) return;
        var counts = _pending.Select(p => p.Count).ToList();
        _pendingSeq = Math.Max(_pendingSeq ?? 0, await WriteAsync(c, tx, Pack(Added, counts), counts.Max(x => x.At), ct));
    }

    /// <summary>The transaction committed: what it counted joins the ledger.</summary>
    public void Committed()
    {
        foreach (var (_, count) in _pending) _ledger.Add(count);
        if (_pendingSeq is { } seq) _lastSeq = Math.Max(_lastSeq, seq);
        Abandoned();
    }

    /// <summary>The transaction did not commit: what it counted never was.</summary>
    public void Abandoned()
    {
        _pending.Clear();
        if (_overlay.Events > 0) _overlay = new FlowLedger();
        _pendingSeq = null;
    }

    private string? Exceeded(FlowEntry entry, FlowKey[] keys)
    {
        foreach (var k in keys)
        {
            foreach (var (limit, count) in k.Limits)
            {
                var window = (long)limit.Window.TotalMilliseconds;
                int? content = limit == FlowLimits.SameContent ? entry.Content : null;
                if (_ledger.Count(k.Key, entry.At, window, content) + _overlay.Count(k.Key, entry.At, window, content) >= count) return limit.Name;
            }
        }
        return null;
    }

    /// <summary>Every ten minutes, in a decision's transaction: log rows whose counts are all more than a day old go, and the ledger drops them too.</summary>
    public async Task TidyAsync(DbConnection c, DbTransaction tx)
    {
        if (time.GetUtcNow() - _tidied < TimeSpan.FromMinutes(10)) return;
        _tidied = time.GetUtcNow();
        var cutoff = (time.GetUtcNow() - FlowLimits.Longest - TimeSpan.FromMinutes(5)).ToUnixTimeMilliseconds();
        _ledger.Compact(cutoff);
        await c.ExecuteAsync("DELETE FROM flow_log WHERE until < @cutoff", new { cutoff }, tx);
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

    private static async Task<long> WriteAsync(DbConnection c, DbTransaction tx, byte[] counts, long until, CancellationToken ct) =>
        await c.ExecuteScalarAsync<long>(new CommandDefinition("INSERT INTO flow_log (until, counts) VALUES (@until, @counts) RETURNING seq",
            new { until, counts }, tx, cancellationToken: ct));

    public void Failed(Exception e) => logger.LogError(e, "A flow-control decision failed; the log is read again");
}

/// <summary>
/// PostgreSQL: decides flow-limited candidates in batches of their own, before the store. The requests waiting when
/// the last decision ended go into the next (<see cref="FlowBook"/>). Small requests go before a big job's next
/// slice, OTPs first, so an OTP does not wait for a big job. A request the store then does not take has its counts
/// taken back.
/// </summary>
public sealed class FlowGate(Database database, FlowBook book, ILogger<FlowGate> logger) : BackgroundService
{
    private sealed class Pending(List<FlowEntry> entries, IReadOnlySet<string> exempt, bool urgent)
    {
        public List<FlowEntry> Entries { get; } = entries;
        public IReadOnlySet<string> Exempt { get; } = exempt;
        public bool Urgent { get; } = urgent;
        public int Done { get; set; }
        public string?[] Reasons { get; } = new string?[entries.Count];
        public List<FlowCount> Counted { get; } = [];
        /// <summary>How many of <see cref="Counted"/> are in the log (slices of a big job committed one by one).</summary>
        public int Committed { get; set; }
        /// <summary>A take-back instead of a decision: these counts leave the log.</summary>
        public FlowCount[]? Removing { get; init; }
        public TaskCompletionSource<FlowDecision> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    /// <summary>Entries one decision takes from a big request; the rest wait for the next, after any small ones.</summary>
    private const int Slice = 20_000;

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
        if (!database.IsPostgres) return;
        var reader = _queue.Reader;
        var big = new Queue<Pending>();
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
                book.Failed(e);
                foreach (var (p, _) in turn)
                {
                    p.Result.TrySetException(e);
                    if (big.TryPeek(out var first) && first == p) big.Dequeue();
                    // A big job's slices that committed before this one failed: their counts are taken back.
                    if (p.Committed > 0) _queue.Writer.TryWrite(new Pending([], new HashSet<string>(), urgent: false) { Removing = p.Counted.Take(p.Committed).ToArray() });
                }
                await ReloadAsync(stoppingToken);
            }
        }
    }

    /// <summary>After a failure: the log read again, until the database answers (the loop lives on; requests wait meanwhile).</summary>
    private async Task ReloadAsync(CancellationToken ct)
    {
        for (var wait = TimeSpan.FromMilliseconds(200); ; wait = TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds * 2, 5000)))
        {
            try
            {
                await book.LoadAsync(ct);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Reading the flow-control log failed; trying again in {Wait}", wait);
                await Task.Delay(wait, ct);
            }
        }
    }

    private async Task DecideAsync(List<(Pending Request, int Take)> turn, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await book.BeginAsync(c, tx, ct);
        await book.TidyAsync(c, tx);
        foreach (var (p, _) in turn)
        {
            if (p.Removing is { } removing) await book.TakeBackAsync(c, tx, removing, ct);
        }
        foreach (var (p, take) in turn)
        {
            if (p.Removing is null) book.Decide(p.Entries, p.Done, p.Done + take, p.Exempt, p.Reasons, p.Counted);
        }
        await book.WriteAsync(c, tx, _ => true, ct);
        try
        {
            await tx.CommitAsync(ct);
        }
        catch
        {
            book.Abandoned();
            throw;
        }
        book.Committed();
        foreach (var (p, take) in turn)
        {
            if (p.Removing is not null) continue;
            p.Done += take;
            p.Committed = p.Counted.Count;
        }
    }
}

/// <summary>What flow control asks the SQLite store to decide in its transaction: the request's entries, one a message in order.</summary>
public sealed record FlowCheck(List<FlowEntry> Entries, IReadOnlySet<string> Exempt);

/// <summary>
/// Flow control decides in the store's own transaction (Messaging's guard seam), under the log's lock: the counts
/// commit or roll back with the messages they count, and a request costs no transaction of its own. The store's
/// writers (two on PostgreSQL) take the book in turns, from the check to the end of their transaction.
/// </summary>
public sealed class FlowStoreGuard(FlowBook book) : IStoreGuard
{
    private readonly SemaphoreSlim _turn = new(1, 1);
    private DbTransaction? _holder;

    public async Task CheckAsync(DbConnection c, DbTransaction tx, IReadOnlyList<StoreRequest> requests, CancellationToken ct)
    {
        await _turn.WaitAsync(ct);
        _holder = tx;
        await book.BeginAsync(c, tx, ct);
        await book.TidyAsync(c, tx);
        // OTPs first, as they queued.
        foreach (var r in requests.OrderBy(r => r.Category == Category.Otp ? 0 : 1))
        {
            if (r.GuardCheck is not FlowCheck check) continue;
            var reasons = new string?[check.Entries.Count];
            book.Decide(check.Entries, 0, check.Entries.Count, check.Exempt, reasons, null, owner: r);
            for (var i = 0; i < reasons.Length; i++)
            {
                if (reasons[i] is { } reason) r.RefuseByGuard(i, "rate_limited:" + reason);
            }
        }
    }

    /// <summary>Only the requests the store keeps (with their balance reserved) are counted.</summary>
    public Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyCollection<StoreRequest> stored, CancellationToken ct) =>
        book.WriteAsync(c, tx, owner => owner is StoreRequest r && stored.Contains(r), ct);

    public void Committed(DbTransaction tx) => End(tx, book.Committed);

    public void Abandoned(DbTransaction tx) => End(tx, book.Abandoned);

    private void End(DbTransaction tx, Action outcome)
    {
        if (_holder != tx) return;
        outcome();
        _holder = null;
        _turn.Release();
    }
}
