using System.Data.Common;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Billing;

/// <summary>What one request wants reserved: its price for its messages.</summary>
public readonly record struct Reservation(long EnterpriseId, long Amount, int Messages);

/// <summary>What ended for one enterprise in one batch: charged on delivery, refunded otherwise (R-S1-5).</summary>
public readonly record struct Settlement(long EnterpriseId, long Charge, int Charged, long Refund, int Refunded);

/// <summary>
/// Money (ARCHITECTURE.md, the seams): the one writer of balances, reservations and the ledger. Callers hand it whole
/// batches inside their own transaction, so a message and the money behind it commit together. Enterprise rows are
/// locked in id order, so two nodes working on the same enterprises at once cannot deadlock.
/// The ledger reconciles: credits = balance + reserved + charges.
/// </summary>
public sealed class BillingService(Database database)
{
    private const string Ledger = "INSERT INTO ledger (enterprise_id, kind, amount, messages, reference, at) VALUES (@e, @kind, @amount, @n, @reference, @at)";

    /// <summary>
    /// Reserves each request's price in order while the balance covers it; answers, per request, whether it was
    /// reserved. One balance read, one update and one ledger row per enterprise, whatever the number of requests.
    /// </summary>
    public async Task<bool[]> ReserveAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Reservation> wanted, long now, CancellationToken ct)
    {
        var granted = new bool[wanted.Count];
        if (wanted.Count == 0) return granted;
        var enterprises = wanted.Select(w => w.EnterpriseId).Distinct().Order().ToArray();
        if (enterprises.Length == 1 && database.IsPostgres && await ReserveWholeAsync(c, tx, enterprises[0], wanted, now, ct))
        {
            Array.Fill(granted, true);
            return granted;
        }
        var balances = await BalancesForUpdateAsync(c, tx, enterprises, ct);
        var totals = new Dictionary<long, (long Amount, int Messages)>();
        for (var i = 0; i < wanted.Count; i++)
        {
            var w = wanted[i];
            if (!balances.TryGetValue(w.EnterpriseId, out var balance) || w.Amount > balance) continue;
            balances[w.EnterpriseId] = balance - w.Amount;
            var t = totals.GetValueOrDefault(w.EnterpriseId);
            totals[w.EnterpriseId] = (t.Amount + w.Amount, t.Messages + w.Messages);
            granted[i] = true;
        }
        var moves = totals.Where(t => t.Value.Messages > 0 || t.Value.Amount > 0).OrderBy(t => t.Key)
            .Select(t => (Enterprise: t.Key, Balance: -t.Value.Amount, Reserved: t.Value.Amount, Entry: (LedgerKind.Reserve, t.Value.Amount, t.Value.Messages))).ToList();
        await MoveAsync(c, tx, moves, now, ct);
        return granted;
    }

    /// <summary>
    /// Locks these enterprises' rows in id order (PostgreSQL; SQLite's transaction holds its one write lock already).
    /// A caller that will move money on several enterprises, or on one after other work, locks them all here first.
    /// </summary>
    public async Task LockAsync(DbConnection c, DbTransaction tx, IEnumerable<long> enterprises, CancellationToken ct)
    {
        if (!database.IsPostgres) return;
        var ids = enterprises.Distinct().Order().ToArray();
        if (ids.Length > 0) await BalancesForUpdateAsync(c, tx, ids, ct);
    }

    /// <summary>Settles what ended: the reservation goes, refunds back to the balance, both in the ledger. Lock first (<see cref="LockAsync"/>).</summary>
    public async Task SettleAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Settlement> settlements, long now, CancellationToken ct)
    {
        var moves = new List<(long, long, long, (string, long, int))>();
        foreach (var s in settlements.OrderBy(s => s.EnterpriseId))
        {
            if (s.Charged > 0) moves.Add((s.EnterpriseId, 0, -s.Charge, (LedgerKind.Charge, s.Charge, s.Charged)));
            if (s.Refunded > 0) moves.Add((s.EnterpriseId, s.Refund, -s.Refund, (LedgerKind.Refund, s.Refund, s.Refunded)));
        }
        await MoveAsync(c, tx, moves, now, ct);
    }

    /// <summary>A reservation that changes with the message (SMPP replace_sm): false when the balance does not cover more.</summary>
    public async Task<bool> AdjustAsync(DbConnection c, DbTransaction tx, long enterpriseId, long delta, string reference, long now)
    {
        if (await c.ExecuteAsync("UPDATE enterprises SET balance = balance - @delta, reserved = reserved + @delta WHERE id = @enterpriseId AND balance >= @delta",
                new { delta, enterpriseId }, tx) == 0)
            return false;
        if (delta != 0)
            await c.ExecuteAsync(Ledger, new { e = enterpriseId, kind = delta > 0 ? LedgerKind.Reserve : LedgerKind.Refund, amount = Math.Abs(delta), n = 0, reference, at = now }, tx);
        return true;
    }

    /// <summary>The operator credits an enterprise; null when there is no such enterprise.</summary>
    public async Task<long?> CreditAsync(DbConnection c, DbTransaction tx, long enterpriseId, long amount, long now)
    {
        var balance = await c.QuerySingleOrDefaultAsync<long?>("UPDATE enterprises SET balance = balance + @amount WHERE id = @enterpriseId RETURNING balance", new { enterpriseId, amount }, tx);
        if (balance is null) return null;
        await c.ExecuteAsync(Ledger, new { e = enterpriseId, kind = LedgerKind.Credit, amount, n = 0, reference = (string?)null, at = now }, tx);
        return balance;
    }

    /// <summary>
    /// The usual batch: one enterprise whose balance covers every request. One statement reserves the total and writes
    /// its ledger row; false (nothing changed) when the balance does not cover it all.
    /// </summary>
    public async Task<bool> ReserveWholeAsync(DbConnection c, DbTransaction tx, long enterprise, IReadOnlyList<Reservation> wanted, long now, CancellationToken ct)
    {
        var (amount, messages) = Total(wanted);
        if (!database.IsPostgres)
        {
            using var move = Prepared.For(c, tx, "UPDATE enterprises SET balance = balance - @amount, reserved = reserved + @amount WHERE id = @id AND balance >= @amount", "amount", "id");
            if (move.Execute(amount, enterprise) == 0) return false;
            using var entry = Prepared.For(c, tx, Ledger, "e", "kind", "amount", "n", "reference", "at");
            entry.Execute(enterprise, LedgerKind.Reserve, amount, messages, null, now);
            return true;
        }
        await using var cmd = new NpgsqlCommand(
            "WITH moved AS (UPDATE enterprises SET balance = balance - @amount, reserved = reserved + @amount WHERE id = @id AND balance >= @amount RETURNING id) " +
            "INSERT INTO ledger (enterprise_id, kind, amount, messages, reference, at) SELECT id, @kind, @amount, @n, NULL, @at FROM moved", (NpgsqlConnection)c, (NpgsqlTransaction)tx);
        cmd.Parameters.AddWithValue("amount", amount);
        cmd.Parameters.AddWithValue("id", enterprise);
        cmd.Parameters.AddWithValue("kind", LedgerKind.Reserve);
        cmd.Parameters.AddWithValue("n", messages);
        cmd.Parameters.AddWithValue("at", now);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>
    /// <see cref="ReserveWholeAsync"/> as one statement for the caller's own batch (PostgreSQL), run in the batch's
    /// implicit transaction: when the balance does not cover the whole amount (or there is no such enterprise), no row
    /// moves, the ledger row gets no enterprise and the statement fails, so the whole batch rolls back.
    /// </summary>
    public NpgsqlBatchCommand ReserveWholeOrFail(long enterprise, IReadOnlyList<Reservation> wanted, long now)
    {
        var (amount, messages) = Total(wanted);
        var cmd = new NpgsqlBatchCommand(
            "WITH moved AS (UPDATE enterprises SET balance = balance - $1, reserved = reserved + $1 WHERE id = $2 AND balance >= $1 RETURNING id) " +
            "INSERT INTO ledger (enterprise_id, kind, amount, messages, reference, at) VALUES ((SELECT id FROM moved), $3, $1, $4, NULL, $5)");
        cmd.Parameters.Add(new NpgsqlParameter { Value = amount, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new NpgsqlParameter { Value = enterprise, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new NpgsqlParameter { Value = LedgerKind.Reserve, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = messages, NpgsqlDbType = NpgsqlDbType.Integer });
        cmd.Parameters.Add(new NpgsqlParameter { Value = now, NpgsqlDbType = NpgsqlDbType.Bigint });
        return cmd;
    }

    /// <summary>What a batch of reservations comes to: its amount and its messages.</summary>
    private static (long Amount, int Messages) Total(IReadOnlyList<Reservation> wanted)
    {
        long amount = 0;
        var messages = 0;
        foreach (var w in wanted)
        {
            amount += w.Amount;
            messages += w.Messages;
        }
        return (amount, messages);
    }

    private async Task<Dictionary<long, long>> BalancesForUpdateAsync(DbConnection c, DbTransaction tx, long[] enterprises, CancellationToken ct)
    {
        var balances = new Dictionary<long, long>();
        if (database.IsPostgres)
        {
            await using var cmd = new NpgsqlCommand("SELECT id, balance FROM enterprises WHERE id = ANY(@ids) ORDER BY id FOR UPDATE", (NpgsqlConnection)c, (NpgsqlTransaction)tx);
            cmd.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = enterprises });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) balances[r.GetInt64(0)] = r.GetInt64(1);
            return balances;
        }
        // SQLite: the transaction holds the database's one write lock already.
        using var read = Prepared.For(c, tx, "SELECT balance FROM enterprises WHERE id = @id", "id");
        foreach (var id in enterprises)
        {
            if (read.Scalar(id) is { } b) balances[id] = Convert.ToInt64(b);
        }
        return balances;
    }

    /// <summary>Moves money on each enterprise row and writes its ledger entry: one statement each per batch on PostgreSQL.</summary>
    private async Task MoveAsync(DbConnection c, DbTransaction tx, List<(long Enterprise, long Balance, long Reserved, (string Kind, long Amount, int Messages) Entry)> moves, long now, CancellationToken ct)
    {
        if (moves.Count == 0) return;
        if (database.IsPostgres)
        {
            var pg = (NpgsqlConnection)c;
            await using var batch = new NpgsqlBatch(pg, (NpgsqlTransaction)tx);
            var update = new NpgsqlBatchCommand(
                "UPDATE enterprises e SET balance = e.balance + m.b, reserved = e.reserved + m.r FROM " +
                "(SELECT id, SUM(b) AS b, SUM(r) AS r FROM unnest(@ids, @b, @r) AS t(id, b, r) GROUP BY id) m WHERE e.id = m.id");
            update.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = moves.Select(m => m.Enterprise).ToArray() });
            update.Parameters.Add(new NpgsqlParameter("b", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = moves.Select(m => m.Balance).ToArray() });
            update.Parameters.Add(new NpgsqlParameter("r", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = moves.Select(m => m.Reserved).ToArray() });
            var ledger = new NpgsqlBatchCommand(
                "INSERT INTO ledger (enterprise_id, kind, amount, messages, reference, at) SELECT e, k, a, n, NULL, @at FROM unnest(@ids, @k, @a, @n) AS t(e, k, a, n)");
            ledger.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = moves.Select(m => m.Enterprise).ToArray() });
            ledger.Parameters.Add(new NpgsqlParameter("k", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = moves.Select(m => m.Entry.Kind).ToArray() });
            ledger.Parameters.Add(new NpgsqlParameter("a", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = moves.Select(m => m.Entry.Amount).ToArray() });
            ledger.Parameters.Add(new NpgsqlParameter("n", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = moves.Select(m => m.Entry.Messages).ToArray() });
            ledger.Parameters.Add(new NpgsqlParameter("at", NpgsqlDbType.Bigint) { Value = now });
            batch.BatchCommands.Add(update);
            batch.BatchCommands.Add(ledger);
            await batch.ExecuteNonQueryAsync(ct);
            return;
        }
        using var move = Prepared.For(c, tx, "UPDATE enterprises SET balance = balance + @b, reserved = reserved + @r WHERE id = @id", "b", "r", "id");
        using var entry = Prepared.For(c, tx, Ledger, "e", "kind", "amount", "n", "reference", "at");
        foreach (var m in moves)
        {
            move.Execute(m.Balance, m.Reserved, m.Enterprise);
            entry.Execute(m.Enterprise, m.Entry.Kind, m.Entry.Amount, m.Entry.Messages, null, now);
        }
    }
}
