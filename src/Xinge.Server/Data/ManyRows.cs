using System.Data.Common;
using System.Text;
using Dapper;

namespace Xinge.Server.Data;

/// <summary>Rows of an imported list go in 500 to a statement, not one by one: a million-row import is two thousand statements.</summary>
public static class ManyRows
{
    private const int PerStatement = 500;

    /// <param name="insert">The statement up to its VALUES (<c>INSERT INTO t (a, b) VALUES</c>).</param>
    /// <param name="conflict">What follows the values (<c>ON CONFLICT …</c>).</param>
    public static async Task InsertAsync<T>(DbConnection c, DbTransaction tx, string insert, string conflict, IEnumerable<T> rows, Func<T, object?[]> values)
    {
        foreach (var chunk in rows.Chunk(PerStatement))
        {
            var sql = new StringBuilder(insert);
            var parameters = new DynamicParameters();
            for (var i = 0; i < chunk.Length; i++)
            {
                var row = values(chunk[i]);
                sql.Append(i == 0 ? " (" : ", (");
                for (var j = 0; j < row.Length; j++)
                {
                    var name = $"p{i}_{j}";
                    sql.Append(j == 0 ? "@" : ", @").Append(name);
                    parameters.Add(name, row[j]);
                }
                sql.Append(')');
            }
            sql.Append(' ').Append(conflict);
            await c.ExecuteAsync(sql.ToString(), parameters, tx);
        }
    }
}
