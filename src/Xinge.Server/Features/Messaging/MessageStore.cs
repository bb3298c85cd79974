using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Xinge.Server.Data;
using Xinge.Server.Features.Billing;

namespace Xinge.Server.Features.Messaging;

/// <param name="Connector">The lane it waits in: the connector its number routes to when it is stored (null: none yet).</param>
/// <param name="Line">Its line in the request (or the uploaded file), which a refusal names.</param>
public sealed record NewMessage(long Id, string Recipient, string Text, int Encoding, int Segments, long Price, string? Connector, int Line = 0);

public enum StoreOutcome
{
    Stored,
    InsufficientBalance,
    DuplicateRequest,
    /// <summary>A guard refused every message of the request: nothing of it was stored.</summary>
    NothingLeft,
}

/// <summary>
/// The guard seam: a feature that decides some messages only in the store's own transaction (flow control on SQLite,
/// whose counts commit or roll back with the messages they count, under the one write lock). It sees the requests that
/// carry its check (<see cref="StoreRequest.GuardCheck"/>), refuses messages of them by index, writes what it must in
/// the transaction, and learns whether the transaction committed.
/// </summary>
public interface IStoreGuard
{
    Task CheckAsync(DbConnection c, DbTransaction tx, IReadOnlyList<StoreRequest> requests, CancellationToken ct);
    /// <summary>Once the store knows which requests it keeps (their balance reserved): what the guard writes for them.</summary>
    Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyCollection<StoreRequest> stored, CancellationToken ct);
    void Committed(DbTransaction tx);
    /// <summary>The transaction did not commit (or the check itself failed).</summary>
    void Abandoned(DbTransaction tx);
}

/// <summary>Everything one accepted request writes: its job, its messages, its rejections and its reservation.</summary>
public sealed class StoreRequest
{
    public required long EnterpriseId { get; init; }
    public required long JobId { get; init; }
    public required string Category { get; init; }
    public required string Sender { get; init; }
    public required string Status { get; init; }
    public long? SendAt { get; init; }
    public long? ExpiresAt { get; init; }
    public string? ClientRef { get; init; }
    public string? Origin { get; init; }
    public required int Total { get; init; }
    public required List<NewMessage> Messages { get; init; }
    public required List<(int Line, string Recipient, string Reason)> Rejections { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? IdempotentResponse { get; set; }
    public string? Fingerprint { get; init; }
    /// <summary>The fingerprint kept with the key when another request stored it first.</summary>
    public string? PreviousFingerprint { get; set; }
    public long TotalPrice => Messages.Sum(m => m.Price);
    /// <summary>What another feature writes with this request, in its transaction (a held request's review item).</summary>
    public IReadOnlyList<Func<DbConnection, DbTransaction, CancellationToken, Task>> AlsoWrite { get; init; } = [];
    /// <summary>What the store's guard decides for this request in the store's transaction; null when nothing.</summary>
    public object? GuardCheck { get; init; }
    /// <summary>The answer kept for the Idempotency-Key, made again once the guard has refused messages.</summary>
    public Func<StoreRequest, string>? Respond { get; init; }
    private List<(int Index, string Reason)>? _refused;
    // The messages as the request came, which the guard's indexes name (a retry after a failed batch sees fewer).
    private NewMessage[]? _asCame;
    private (int Line, string Recipient, string Reason)[] _rejectionsAsCame = [];

    /// <summary>The guard refuses the message at <paramref name="index"/> of <see cref="Messages"/> as the request came.</summary>
    public void RefuseByGuard(int index, string reason) => (_refused ??= []).Add((index, reason));

    /// <summary>
    /// Before the guard decides: the request as it came. A retry of a failed batch decides again from there, so the
    /// guard never counts a message an earlier, rolled-back pass took out.
    /// </summary>
    internal void BeforeGuard()
    {
        _refused = null;
        if (_asCame is null)
        {
            _asCame = Messages.ToArray();
            _rejectionsAsCame = Rejections.ToArray();
            return;
        }
        // As they came: the guard's rejections were sorted in among them, so the last ones are not the guard's.
        Messages.Clear();
        Messages.AddRange(_asCame);
        Rejections.Clear();
        Rejections.AddRange(_rejectionsAsCame);
    }

    /// <summary>Takes the guard's refusals out of the messages into the rejections, and makes the answer; the messages taken out.</summary>
    internal List<NewMessage> ApplyGuard()
    {
        var taken = new List<NewMessage>();
        if (_refused is { Count: > 0 } refused) taken = TakeOut(refused);
        if (Respond is not null && IdempotencyKey is not null) IdempotentResponse = Respond(this);
        return taken;
    }

    private List<NewMessage> TakeOut(List<(int Index, string Reason)> refused)
    {
        var reasons = refused.Where(x => x.Index < _asCame!.Length).ToDictionary(x => _asCame![x.Index].Id, x => x.Reason);
        _refused = null;
        var taken = new List<NewMessage>(reasons.Count);
        var kept = new List<NewMessage>(Messages.Count);
        foreach (var m in Messages)
        {
            if (!reasons.TryGetValue(m.Id, out var reason))
            {
                kept.Add(m);
                continue;
            }
            taken.Add(m);
            Rejections.Add((m.Line, m.Recipient, reason));
        }
        Messages.Clear();
        Messages.AddRange(kept);
        Rejections.Sort((a, b) => a.Line.CompareTo(b.Line));
        return taken;
    }
    internal TaskCompletionSource<StoreOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Group commit (ARCHITECTURE.md): request handlers hand their rows to this one writer, which commits whatever has
/// queued in one transaction and completes each request after its commit. The reservation is taken in the same
/// transaction, so an accepted message is on disk, paid for, before the API answers.
/// </summary>
public sealed class MessageStore(Database database, BillingService billing, TimeProvider time, WakeSignalFor<Dispatcher> dispatch, LaneInbox lanes, IdGenerator ids,
    IEnumerable<IStoreGuard> guards, ILogger<MessageStore> logger) : BackgroundService
{
    private const int MaxMessagesPerCommit = 50_000;
    private readonly Channel<StoreRequest> _queue = Channel.CreateUnbounded<StoreRequest>(new() { SingleReader = !database.IsPostgres });

    public Task<StoreOutcome> StoreAsync(StoreRequest request)
    {
        if (!_queue.Writer.TryWrite(request)) throw new InvalidOperationException("the message store is stopped");
        return request.Completion.Task;
    }

    /// <summary>
    /// SQLite has one writer at a time anyway, on a thread of its own. PostgreSQL takes several batches at once: while
    /// one waits for its commit, the next is already written, so the pace is not one round-trip chain per batch.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => database.IsPostgres
        ? Task.WhenAll(Enumerable.Range(0, 2).Select(_ => WriterAsync(stoppingToken)))
        : WriterThread.Run("xinge-store", () => WriterAsync(stoppingToken));

    private async Task WriterAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        var batch = new List<StoreRequest>();
        while (await reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            var count = 0;
            while (count < MaxMessagesPerCommit && reader.TryRead(out var r))
            {
                batch.Add(r);
                count += r.Messages.Count + 1;
            }
            Dictionary<StoreRequest, StoreOutcome> outcomes;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var lease = Promise(batch);
            try
            {
                outcomes = await WriteAsync(batch, lease, stoppingToken);
            }
            catch (Exception e) when (batch.Count > 1 && e is not OperationCanceledException)
            {
                // One bad request must not fail its neighbours: write them one by one.
                outcomes = [];
                foreach (var r in batch)
                {
                    try
                    {
                        foreach (var (k, v) in await WriteAsync([r], lease, stoppingToken)) outcomes[k] = v;
                    }
                    catch (Exception single)
                    {
                        logger.LogError(single, "Storing job {JobId} failed", r.JobId);
                        r.Completion.TrySetException(single);
                    }
                }
            }
            catch (Exception e)
            {
                // A single request that failed, or shutdown: every waiting caller gets its answer (nothing was committed).
                logger.LogError(e, "Storing {Count} requests failed", batch.Count);
                HandOver(batch, lease, []);
                foreach (var r in batch) r.Completion.TrySetException(e);
                continue;
            }
            var waiting = HandOver(batch, lease, outcomes);
            EngineMetrics.StoreCommit.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            var stored = 0;
            foreach (var (r, outcome) in outcomes)
            {
                if (outcome == StoreOutcome.Stored)
                {
                    stored += r.Messages.Count;
                    EngineMetrics.Accepted.WithLabels(r.Category).Inc(r.Messages.Count);
                }
                r.Completion.TrySetResult(outcome);
            }
            EngineMetrics.StoreBatch.Observe(stored);
            // Messages left in the table for their lane: the dispatcher claims them.
            if (waiting) dispatch.Set();
        }
    }

    /// <summary>
    /// The messages of this batch that go straight to their lane (<see cref="LaneInbox"/>): queued for now, with a
    /// connector whose lane on this node has room. They are stored under this node's lease.
    /// </summary>
    private Lease Promise(List<StoreRequest> batch)
    {
        var handed = lanes.Promise(batch.Where(r => r.Status == MessageStatus.Queued)
            .SelectMany(r => r.Messages.Select(m => (m.Id, m.Connector, Category.Priority(r.Category)))));
        return new Lease(handed, (time.GetUtcNow() + Dispatcher.Lease).ToUnixTimeMilliseconds(), ids.Node);
    }

    /// <summary>
    /// After the batch: the promised messages of stored requests go to their lanes; the others' places are given back.
    /// True when a stored message waits in the table for a lane.
    /// </summary>
    private bool HandOver(List<StoreRequest> batch, Lease lease, Dictionary<StoreRequest, StoreOutcome> outcomes)
    {
        var waiting = false;
        foreach (var r in batch)
        {
            // A request missing from the outcomes failed on its own: nothing of it was stored.
            var stored = outcomes.TryGetValue(r, out var outcome) && outcome == StoreOutcome.Stored;
            var left = 0;
            foreach (var m in r.Messages)
            {
                if (!lease.Handed.Contains(m.Id)) left++;
                else if (!stored) lanes.Unpromise(m.Connector!);
                else lanes.Deliver(m.Connector!, new LaneMessage(m.Id, Category.Priority(r.Category), m.Recipient, r.Sender, m.Text, m.Encoding, 0, false, r.ExpiresAt, lease.Until));
            }
            if (stored && r.Status == MessageStatus.Queued && left > 0) waiting = true;
        }
        return waiting;
    }

    private async Task<Dictionary<StoreRequest, StoreOutcome>> WriteAsync(List<StoreRequest> batch, Lease lease, CancellationToken ct)
    {
        var outcomes = new Dictionary<StoreRequest, StoreOutcome>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        using var turn = await database.WriteTurnAsync(ct);
        if (database.IsPostgres && batch.All(r => r.EnterpriseId == batch[0].EnterpriseId && r.IdempotencyKey is null && r.AlsoWrite.Count == 0 && r.GuardCheck is null)
            && await WriteWholeAsync(batch, lease, now, ct))
        {
            foreach (var r in batch) outcomes[r] = StoreOutcome.Stored;
            return outcomes;
        }
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var candidates = new List<StoreRequest>(batch.Count);
        // Two requests with one Idempotency-Key in one batch (a retry while the first waited): the second is answered as the first.
        var firstWithKey = new Dictionary<(long, string), StoreRequest>();
        var sameKey = new List<(StoreRequest Second, StoreRequest First)>();
        foreach (var r in batch)
        {
            if (r.IdempotencyKey is { } key)
            {
                if (firstWithKey.TryGetValue((r.EnterpriseId, key), out var first))
                {
                    sameKey.Add((r, first));
                    continue;
                }
                firstWithKey[(r.EnterpriseId, key)] = r;
                var previous = await c.QuerySingleOrDefaultAsync<(string Response, string? Fingerprint)>(
                    "SELECT response, fingerprint FROM idempotent_requests WHERE enterprise_id = @e AND key = @key", new { e = r.EnterpriseId, key }, tx);
                if (previous.Response is not null)
                {
                    r.IdempotentResponse = previous.Response;
                    r.PreviousFingerprint = previous.Fingerprint;
                    outcomes[r] = StoreOutcome.DuplicateRequest;
                    continue;
                }
            }
            candidates.Add(r);
        }
        var guarded = await GuardAsync(c, tx, candidates, lease, ct);
        try
        {
            await WriteCheckedAsync(c, tx, candidates, guarded, outcomes, lease, now, ct);
            await tx.CommitAsync(ct);
        }
        catch
        {
            // Whatever failed after the guards decided: what they counted never was.
            foreach (var g in guarded) g.Abandoned(tx);
            throw;
        }
        foreach (var g in guarded) g.Committed(tx);
        foreach (var (second, first) in sameKey)
        {
            second.IdempotentResponse = first.IdempotentResponse;
            second.PreviousFingerprint = first.Fingerprint;
            outcomes[second] = outcomes[first] == StoreOutcome.Stored ? StoreOutcome.DuplicateRequest : outcomes[first];
        }
        return outcomes;
    }

    /// <summary>The requests the guards left something of: reserved, and written with what the guards write for those stored.</summary>
    private async Task WriteCheckedAsync(DbConnection c, DbTransaction tx, List<StoreRequest> candidates, List<IStoreGuard> guarded,
        Dictionary<StoreRequest, StoreOutcome> outcomes, Lease lease, long now, CancellationToken ct)
    {
        var messages = new List<(StoreRequest Request, NewMessage Message)>();
        var rejections = new List<(long JobId, int Line, string Recipient, string Reason)>();
        foreach (var r in candidates.Where(r => r.Messages.Count == 0).ToList())
        {
            outcomes[r] = StoreOutcome.NothingLeft;
            candidates.Remove(r);
        }
        var reservations = candidates.Select(r => new Reservation(r.EnterpriseId, r.TotalPrice, r.Messages.Count)).ToList();
        var granted = await billing.ReserveAsync(c, tx, reservations, now, ct);
        var jobs = new List<StoreRequest>(candidates.Count);
        for (var i = 0; i < candidates.Count; i++)
        {
            var r = candidates[i];
            if (!granted[i])
            {
                outcomes[r] = StoreOutcome.InsufficientBalance;
                continue;
            }
            if (r.IdempotencyKey is { } k && r.IdempotentResponse is { } response)
            {
                await c.ExecuteAsync("INSERT INTO idempotent_requests (enterprise_id, key, response, fingerprint, created_at) VALUES (@e, @k, @response, @fingerprint, @now)",
                    new { e = r.EnterpriseId, k, response, fingerprint = r.Fingerprint, now }, tx);
            }
            jobs.Add(r);
            foreach (var m in r.Messages) messages.Add((r, m));
            foreach (var (line, recipient, reason) in r.Rejections) rejections.Add((r.JobId, line, recipient, reason));
            outcomes[r] = StoreOutcome.Stored;
        }
        if (database.IsPostgres) await WritePostgresAsync((NpgsqlConnection)c, jobs, messages, rejections, lease, now, ct);
        else InsertSqlite((SqliteConnection)c, (SqliteTransaction)tx, jobs, messages, rejections, lease, now);
        foreach (var r in jobs)
        {
            foreach (var write in r.AlsoWrite) await write(c, tx, ct);
        }
        if (guarded.Count > 0)
        {
            var stored = jobs.ToHashSet();
            foreach (var g in guarded) await g.WriteAsync(c, tx, stored, ct);
        }
    }

    /// <summary>
    /// The guards decide the requests that carry their checks, in this transaction; what they refuse leaves the
    /// request (and its place in a lane, if it had one). The guards that took part, to be told how the transaction ends.
    /// </summary>
    private async Task<List<IStoreGuard>> GuardAsync(DbConnection c, DbTransaction tx, List<StoreRequest> requests, Lease lease, CancellationToken ct)
    {
        var taking = requests.Where(r => r.GuardCheck is not null).ToList();
        if (taking.Count == 0) return [];
        foreach (var r in taking) r.BeforeGuard();
        var guarded = new List<IStoreGuard>();
        try
        {
            foreach (var guard in guards)
            {
                guarded.Add(guard);
                await guard.CheckAsync(c, tx, taking, ct);
            }
            foreach (var r in taking)
            {
                foreach (var m in r.ApplyGuard())
                {
                    if (lease.Handed.Remove(m.Id)) lanes.Unpromise(m.Connector!);
                }
            }
        }
        catch
        {
            foreach (var g in guarded) g.Abandoned(tx);
            throw;
        }
        return guarded;
    }

    /// <summary>
    /// The usual batch on PostgreSQL: one enterprise whose balance covers it all. A small batch goes in one round trip:
    /// its rows and its reservation in one implicit transaction, which the reservation fails when the balance does not
    /// cover the whole batch. A large one (binary COPY) goes in a transaction, the enterprise row locked last, just
    /// before the commit. False (nothing written) when the balance does not cover it: then it is decided request by request.
    /// </summary>
    private async Task<bool> WriteWholeAsync(List<StoreRequest> batch, Lease lease, long now, CancellationToken ct)
    {
        var messages = batch.SelectMany(r => r.Messages.Select(m => (r, m))).ToList();
        var rejections = batch.SelectMany(r => r.Rejections.Select(x => (r.JobId, x.Line, x.Recipient, x.Reason))).ToList();
        var reservations = batch.Select(r => new Reservation(r.EnterpriseId, r.TotalPrice, r.Messages.Count)).ToList();
        await using var c = (NpgsqlConnection)await database.OpenAsync(ct);
        if (messages.Count + rejections.Count <= CopyAbove)
        {
            await using var one = new NpgsqlBatch(c);
            AddInserts(one, batch, messages, rejections, lease, now);
            one.BatchCommands.Add(billing.ReserveWholeOrFail(batch[0].EnterpriseId, reservations, now));
            try
            {
                await one.ExecuteNonQueryAsync(ct);
                return true;
            }
            catch (PostgresException e)
            {
                // The whole batch rolled back: the balance did not cover it, or a request of it is bad on its own.
                logger.LogDebug(e, "A batch of {Count} requests is decided request by request", batch.Count);
                return false;
            }
        }
        await using var tx = await c.BeginTransactionAsync(ct);
        await WritePostgresAsync(c, batch, messages, rejections, lease, now, ct);
        if (!await billing.ReserveWholeAsync(c, tx, batch[0].EnterpriseId, reservations, now, ct))
        {
            await tx.RollbackAsync(ct);
            return false;
        }
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>Above this many rows a PostgreSQL batch goes by binary COPY.</summary>
    private const int CopyAbove = 2000;

    private const string MessageColumns = "id, enterprise_id, job_id, job_counted, recipient, sender, text, category, priority, encoding, segments, price, status, send_at, attempts, created_at, client_ref, origin, connector, expires_at, lease_until, lease_owner";

    /// <summary>The messages stored already claimed by this node (handed to their lane), and that claim.</summary>
    private readonly record struct Lease(HashSet<long> Handed, long Until, int Node)
    {
        public long? UntilOf(long id) => Handed.Contains(id) ? Until : null;
        public int? OwnerOf(long id) => Handed.Contains(id) ? Node : null;
    }

    private const string JobColumns = "id, enterprise_id, category, total, accepted, rejected, client_ref, send_at, created_at, sent, delivered, failed, expired, ended_unsent";

    private static void InsertSqlite(SqliteConnection c, SqliteTransaction tx, List<StoreRequest> jobs, List<(StoreRequest Request, NewMessage Message)> messages,
        List<(long JobId, int Line, string Recipient, string Reason)> rejections, Lease lease, long now)
    {
        using (var job = Prepared.For(c, tx, $"INSERT INTO jobs ({JobColumns}) VALUES (@id, @e, @cat, @total, @accepted, @rejected, @ref, @sendAt, @now, 0, 0, 0, 0, 0)",
            "id", "e", "cat", "total", "accepted", "rejected", "ref", "sendAt", "now"))
        {
            foreach (var r in jobs) job.Execute(r.JobId, r.EnterpriseId, r.Category, r.Total, r.Messages.Count, r.Rejections.Count, r.ClientRef, r.SendAt, now);
        }
        // One prepared statement in one transaction: SQLite's fast path for bulk insert.
        using (var insert = Prepared.For(c, tx,
            $"INSERT INTO messages ({MessageColumns}) VALUES (@id, @e, @job, @counted, @to, @from, @text, @cat, @prio, @enc, @seg, @price, @status, @sendAt, 0, @now, @ref, @origin, @connector, @expires, @lease, @owner)",
            "id", "e", "job", "counted", "to", "from", "text", "cat", "prio", "enc", "seg", "price", "status", "sendAt", "now", "ref", "origin", "connector", "expires", "lease", "owner"))
        {
            foreach (var (r, m) in messages)
            {
                insert.Execute(m.Id, r.EnterpriseId, r.JobId, JobCounters.Keeps(r.Messages.Count), m.Recipient, r.Sender, m.Text, r.Category, Category.Priority(r.Category), m.Encoding,
                    m.Segments, m.Price, r.Status, r.SendAt, now, r.ClientRef, r.Origin, m.Connector, r.ExpiresAt, lease.UntilOf(m.Id), lease.OwnerOf(m.Id));
            }
        }
        if (rejections.Count == 0) return;
        using var rejection = Prepared.For(c, tx, "INSERT INTO job_rejections (job_id, line, recipient, reason) VALUES (@job, @line, @to, @reason)", "job", "line", "to", "reason");
        foreach (var (job, line, to, reason) in rejections) rejection.Execute(job, line, to, reason);
    }

    /// <summary>A small batch (single-message requests, the usual case): every row through unnest, one statement per table, added to a batch that goes in one round trip.</summary>
    private static void AddInserts(NpgsqlBatch batch, List<StoreRequest> jobs, List<(StoreRequest Request, NewMessage Message)> messages,
        List<(long JobId, int Line, string Recipient, string Reason)> rejections, Lease lease, long now)
    {
        static NpgsqlParameter Array<T>(T[] values, NpgsqlDbType type) => new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | type };
        if (jobs.Count > 0)
        {
            var cmd = new NpgsqlBatchCommand(
                $"INSERT INTO jobs ({JobColumns}) SELECT id, e, cat, total, acc, rej, ref, send_at, $1, 0, 0, 0, 0, 0 " +
                "FROM unnest($2, $3, $4, $5, $6, $7, $8, $9) AS t(id, e, cat, total, acc, rej, ref, send_at)");
            cmd.Parameters.Add(new NpgsqlParameter { Value = now, NpgsqlDbType = NpgsqlDbType.Bigint });
            cmd.Parameters.Add(Array(jobs.Select(r => r.JobId).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(jobs.Select(r => r.EnterpriseId).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(jobs.Select(r => r.Category).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(jobs.Select(r => r.Total).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(jobs.Select(r => r.Messages.Count).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(jobs.Select(r => r.Rejections.Count).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(jobs.Select(r => r.ClientRef).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(jobs.Select(r => r.SendAt).ToArray(), NpgsqlDbType.Bigint));
            batch.BatchCommands.Add(cmd);
        }
        if (messages.Count > 0)
        {
            var cmd = new NpgsqlBatchCommand(
                $"INSERT INTO messages ({MessageColumns}) SELECT id, e, job, counted, rcpt, sndr, txt, cat, prio, enc, seg, price, st, send_at, 0, $1, ref, origin, conn, exp, lease, owner " +
                "FROM unnest($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) " +
                "AS t(id, e, job, counted, rcpt, sndr, txt, cat, prio, enc, seg, price, st, send_at, ref, origin, conn, exp, lease, owner)");
            cmd.Parameters.Add(new NpgsqlParameter { Value = now, NpgsqlDbType = NpgsqlDbType.Bigint });
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Id).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.EnterpriseId).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.JobId).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => JobCounters.Keeps(x.Request.Messages.Count)).ToArray(), NpgsqlDbType.Boolean));
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Recipient).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.Sender).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Text).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.Category).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => Category.Priority(x.Request.Category)).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Encoding).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Segments).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Price).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.Status).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.SendAt).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.ClientRef).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.Origin).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Message.Connector).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(messages.Select(x => x.Request.ExpiresAt).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => lease.UntilOf(x.Message.Id)).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(messages.Select(x => lease.OwnerOf(x.Message.Id)).ToArray(), NpgsqlDbType.Integer));
            batch.BatchCommands.Add(cmd);
        }
        if (rejections.Count > 0)
        {
            var cmd = new NpgsqlBatchCommand("INSERT INTO job_rejections (job_id, line, recipient, reason) SELECT * FROM unnest($1, $2, $3, $4)");
            cmd.Parameters.Add(Array(rejections.Select(x => x.JobId).ToArray(), NpgsqlDbType.Bigint));
            cmd.Parameters.Add(Array(rejections.Select(x => x.Line).ToArray(), NpgsqlDbType.Integer));
            cmd.Parameters.Add(Array(rejections.Select(x => x.Recipient).ToArray(), NpgsqlDbType.Text));
            cmd.Parameters.Add(Array(rejections.Select(x => x.Reason).ToArray(), NpgsqlDbType.Text));
            batch.BatchCommands.Add(cmd);
        }
    }

    /// <summary>Small batches in one round trip (unnest), large ones by binary COPY, PostgreSQL's fast path for bulk insert.</summary>
    private static async Task WritePostgresAsync(NpgsqlConnection c, List<StoreRequest> jobs, List<(StoreRequest Request, NewMessage Message)> messages,
        List<(long JobId, int Line, string Recipient, string Reason)> rejections, Lease lease, long now, CancellationToken ct)
    {
        if (messages.Count + rejections.Count <= CopyAbove)
        {
            await using var batch = new NpgsqlBatch(c);
            AddInserts(batch, jobs, messages, rejections, lease, now);
            if (batch.BatchCommands.Count > 0) await batch.ExecuteNonQueryAsync(ct);
            return;
        }
        if (jobs.Count > 0)
        {
            await using var importer = await c.BeginBinaryImportAsync($"COPY jobs ({JobColumns}) FROM STDIN (FORMAT BINARY)", ct);
            foreach (var r in jobs)
            {
                await importer.StartRowAsync(ct);
                await importer.WriteAsync(r.JobId, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(r.EnterpriseId, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(r.Category, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(r.Total, NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(r.Messages.Count, NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(r.Rejections.Count, NpgsqlDbType.Integer, ct);
                if (r.ClientRef is { } cr) await importer.WriteAsync(cr, NpgsqlDbType.Text, ct); else await importer.WriteNullAsync(ct);
                if (r.SendAt is { } at) await importer.WriteAsync(at, NpgsqlDbType.Bigint, ct); else await importer.WriteNullAsync(ct);
                await importer.WriteAsync(now, NpgsqlDbType.Bigint, ct);
                for (var i = 0; i < 5; i++) await importer.WriteAsync(0, NpgsqlDbType.Integer, ct);
            }
            await importer.CompleteAsync(ct);
        }
        // Binary COPY: PostgreSQL's fast path for bulk insert.
        if (messages.Count > 0)
        {
            await using var importer = await c.BeginBinaryImportAsync($"COPY messages ({MessageColumns}) FROM STDIN (FORMAT BINARY)", ct);
            foreach (var (r, m) in messages)
            {
                await importer.StartRowAsync(ct);
                await importer.WriteAsync(m.Id, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(r.EnterpriseId, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(r.JobId, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(JobCounters.Keeps(r.Messages.Count), NpgsqlDbType.Boolean, ct);
                await importer.WriteAsync(m.Recipient, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(r.Sender, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(m.Text, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(r.Category, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(Category.Priority(r.Category), NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(m.Encoding, NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(m.Segments, NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(m.Price, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(r.Status, NpgsqlDbType.Text, ct);
                if (r.SendAt is { } at) await importer.WriteAsync(at, NpgsqlDbType.Bigint, ct); else await importer.WriteNullAsync(ct);
                await importer.WriteAsync(0, NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(now, NpgsqlDbType.Bigint, ct);
                if (r.ClientRef is { } cr) await importer.WriteAsync(cr, NpgsqlDbType.Text, ct); else await importer.WriteNullAsync(ct);
                if (r.Origin is { } origin) await importer.WriteAsync(origin, NpgsqlDbType.Text, ct); else await importer.WriteNullAsync(ct);
                if (m.Connector is { } lane) await importer.WriteAsync(lane, NpgsqlDbType.Text, ct); else await importer.WriteNullAsync(ct);
                if (r.ExpiresAt is { } expires) await importer.WriteAsync(expires, NpgsqlDbType.Bigint, ct); else await importer.WriteNullAsync(ct);
                if (lease.UntilOf(m.Id) is { } until) await importer.WriteAsync(until, NpgsqlDbType.Bigint, ct); else await importer.WriteNullAsync(ct);
                if (lease.OwnerOf(m.Id) is { } owner) await importer.WriteAsync(owner, NpgsqlDbType.Integer, ct); else await importer.WriteNullAsync(ct);
            }
            await importer.CompleteAsync(ct);
        }
        if (rejections.Count > 0)
        {
            await using var importer = await c.BeginBinaryImportAsync("COPY job_rejections (job_id, line, recipient, reason) FROM STDIN (FORMAT BINARY)", ct);
            foreach (var (job, line, to, reason) in rejections)
            {
                await importer.StartRowAsync(ct);
                await importer.WriteAsync(job, NpgsqlDbType.Bigint, ct);
                await importer.WriteAsync(line, NpgsqlDbType.Integer, ct);
                await importer.WriteAsync(to, NpgsqlDbType.Text, ct);
                await importer.WriteAsync(reason, NpgsqlDbType.Text, ct);
            }
            await importer.CompleteAsync(ct);
        }
    }
}
