using System.Data.Common;
using Npgsql;

namespace Xinge.Server.Data;

/// <summary>
/// One statement run for many rows in a transaction: on PostgreSQL as one NpgsqlBatch (one round trip), on SQLite
/// as a prepared statement run per row. The SQL uses positional <c>$1, $2, …</c>, which both providers read.
/// </summary>
public static class Batches
{
    public static int Execute<T>(DbConnection c, DbTransaction tx, string sql, IReadOnlyCollection<T> rows, Func<T, object?[]> values)
    {
        if (rows.Count == 0) return 0;
        if (c is NpgsqlConnection pg)
        {
            using var batch = new NpgsqlBatch(pg, (NpgsqlTransaction)tx);
            foreach (var row in rows)
            {
                var cmd = new NpgsqlBatchCommand(sql);
                foreach (var v in values(row)) cmd.Parameters.Add(new NpgsqlParameter { Value = v ?? DBNull.Value });
                batch.BatchCommands.Add(cmd);
            }
            return batch.ExecuteNonQuery();
        }
        var first = values(rows.First());
        using var prepared = Prepared.For(c, tx, sql, Enumerable.Range(1, first.Length).Select(i => "$" + i).ToArray());
        var n = 0;
        foreach (var row in rows) n += prepared.Execute(values(row));
        return n;
    }
}
