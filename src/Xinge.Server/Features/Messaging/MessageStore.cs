using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Xinge.Server.Data;
using Xinge.Server.Features.Billing;

namespace Xinge.Server.Features.Messaging;

public sealed record NewMessage(long Id, string Recipient, string Text, int Encoding, int Segments, long Price);

public enum StoreOutcome
{
    Stored,
    InsufficientBalance,
    DuplicateRequest,
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
    public string? ClientRef { get; init; }
    public string? Origin { get; init; }
    public required int Total { get; init; }
    public required List<NewMessage> Messages { get; init; }
    public required List<(int Line, string Recipient, string Reason)> Rejections { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? IdempotentResponse { get; set; }
    public long TotalPrice => Messages.Sum(m => m.Price);
    internal TaskCompletionSource<StoreOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Group commit (ARCHITECTURE.md): request handlers hand their rows to this one writer, which commits whatever has
/// queued in one transaction and completes each request after its commit. The reservation is taken in the same
/// transaction, so an accepted message is on disk, paid for, before the API answers.
/// </summary>
public sealed class MessageStore(Database database, BillingService billing, TimeProvider time, WakeSignalFor<Dispatcher> dispatch, ILogger<MessageStore> logger) : BackgroundService
{
    private const int MaxMessagesPerCommit = 50_000;
    private readonly Channel<StoreRequest> _queue = Channel.CreateUnbounded<StoreRequest>(new() { SingleReader = true });

    public Task<StoreOutcome> StoreAsync(StoreRequest request)
    {
        if (!_queue.Writer.TryWrite(request)) throw new InvalidOperationException("the message store is stopped");
        return request.Completion.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        var batch = new List<StoreRequest>();
        while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
        {
            batch.Clear();
            var count = 0;
            while (count < MaxMessagesPerCommit && reader.TryRead(out var r))
            {
                batch.Add(r);
                count += r.Messages.Count + 1;
            }
            Dictionary<StoreRequest, StoreOutcome> outcomes;
            try
            {
                outcomes = await WriteAsync(batch, stoppingToken);
            }
            catch (Exception e) when (batch.Count > 1 && e is not OperationCanceledException)
            {
                // One bad request must not fail its neighbours: write them one by one.
                outcomes = [];
                foreach (var r in batch)
                {
                    try
                    {
                        foreach (var (k, v) in await WriteAsync([r], stoppingToken)) outcomes[k] = v;
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
                foreach (var r in batch) r.Completion.TrySetException(e);
                continue;
            }
            foreach (var (r, outcome) in outcomes) r.Completion.TrySetResult(outcome);
            dispatch.Set();
        }
    }

    private async Task<Dictionary<StoreRequest, StoreOutcome>> WriteAsync(List<StoreRequest> batch, CancellationToken ct)
    {
        var outcomes = new Dictionary<StoreRequest, StoreOutcome>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        using var turn = await database.WriteTurnAsync(ct);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var messages = new List<(StoreRequest Request, NewMessage Message)>();
        var rejections = new List<(long JobId, int Line, string Recipient, string Reason)>();
        var candidates = new List<StoreRequest>(batch.Count);
        foreach (var r in batch)
        {
            if (r.IdempotencyKey is { } key)
            {
                var previous = await c.QuerySingleOrDefaultAsync<string>(
                    "SELECT response FROM idempotent_requests WHERE enterprise_id = @e AND key = @key", new { e = r.EnterpriseId, key }, tx);
                if (previous is not null)
                {
                    r.IdempotentResponse = previous;
                    outcomes[r] = StoreOutcome.DuplicateRequest;
                    continue;
                }
            }
            candidates.Add(r);
        }
        var granted = await billing.ReserveAsync(c, tx, candidates.Select(r => new Reservation(r.EnterpriseId, r.TotalPrice, r.Messages.Count)).ToList(), now, ct);
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
                await c.ExecuteAsync("INSERT INTO idempotent_requests (enterprise_id, key, response, created_at) VALUES (@e, @k, @response, @now)",
                    new { e = r.EnterpriseId, k, response, now }, tx);
            }
            jobs.Add(r);
            foreach (var m in r.Messages) messages.Add((r, m));
            foreach (var (line, recipient, reason) in r.Rejections) rejections.Add((r.JobId, line, recipient, reason));
            outcomes[r] = StoreOutcome.Stored;
        }
        if (database.IsPostgres) await CopyPostgresAsync((NpgsqlConnection)c, jobs, messages, rejections, now, ct);
        else InsertSqlite((SqliteConnection)c, (SqliteTransaction)tx, jobs, messages, rejections, now);
        await tx.CommitAsync(ct);
        return outcomes;
    }

    private const string MessageColumns = "id, enterprise_id, job_id, recipient, sender, text, category, priority, encoding, segments, price, status, send_at, attempts, created_at, client_ref, origin";

    private const string JobColumns = "id, enterprise_id, category, total, accepted, rejected, client_ref, send_at, created_at, sent, delivered, failed, expired, ended_unsent";

    private static void InsertSqlite(SqliteConnection c, SqliteTransaction tx, List<StoreRequest> jobs, List<(StoreRequest Request, NewMessage Message)> messages,
        List<(long JobId, int Line, string Recipient, string Reason)> rejections, long now)
    {
        using (var job = new Prepared(c, tx, $"INSERT INTO jobs ({JobColumns}) VALUES (@id, @e, @cat, @total, @accepted, @rejected, @ref, @sendAt, @now, 0, 0, 0, 0, 0)",
            "id", "e", "cat", "total", "accepted", "rejected", "ref", "sendAt", "now"))
        {
            foreach (var r in jobs) job.Execute(r.JobId, r.EnterpriseId, r.Category, r.Total, r.Messages.Count, r.Rejections.Count, r.ClientRef, r.SendAt, now);
        }
        // One prepared statement in one transaction: SQLite's fast path for bulk insert.
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = $"INSERT INTO messages ({MessageColumns}) VALUES ($id, $e, $job, $to, $from, $text, $cat, $prio, $enc, $seg, $price, $status, $sendAt, 0, $now, $ref, $origin)";
            var p = new[] { "$id", "$e", "$job", "$to", "$from", "$text", "$cat", "$prio", "$enc", "$seg", "$price", "$status", "$sendAt", "$now", "$ref", "$origin" }
                .Select(n => cmd.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
            cmd.Prepare();
            foreach (var (r, m) in messages)
            {
                p[0].Value = m.Id; p[1].Value = r.EnterpriseId; p[2].Value = r.JobId; p[3].Value = m.Recipient; p[4].Value = r.Sender;
                p[5].Value = m.Text; p[6].Value = r.Category; p[7].Value = Category.Priority(r.Category); p[8].Value = m.Encoding;
                p[9].Value = m.Segments; p[10].Value = m.Price; p[11].Value = r.Status; p[12].Value = (object?)r.SendAt ?? DBNull.Value;
                p[13].Value = now; p[14].Value = (object?)r.ClientRef ?? DBNull.Value;
                p[15].Value = (object?)r.Origin ?? DBNull.Value;
                cmd.ExecuteNonQuery();
            }
        }
        if (rejections.Count == 0) return;
        using var rej = c.CreateCommand();
        rej.Transaction = tx;
        rej.CommandText = "INSERT INTO job_rejections (job_id, line, recipient, reason) VALUES ($job, $line, $to, $reason)";
        var q = new[] { "$job", "$line", "$to", "$reason" }.Select(n => rej.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
        rej.Prepare();
        foreach (var (job, line, to, reason) in rejections)
        {
            q[0].Value = job; q[1].Value = line; q[2].Value = to; q[3].Value = reason;
            rej.ExecuteNonQuery();
        }
    }

    private static async Task CopyPostgresAsync(NpgsqlConnection c, List<StoreRequest> jobs, List<(StoreRequest Request, NewMessage Message)> messages,
        List<(long JobId, int Line, string Recipient, string Reason)> rejections, long now, CancellationToken ct)
    {
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
