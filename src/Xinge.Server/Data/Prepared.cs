using System.Data.Common;

namespace Xinge.Server.Data;

/// <summary>
/// A statement prepared once and run many times in one transaction: the batch path on both providers
/// (SQL with <c>@name</c> parameters reads the same on SQLite and PostgreSQL).
/// </summary>
public sealed class Prepared : IDisposable
{
    private readonly DbCommand _command;
    private readonly DbParameter[] _parameters;
    private bool _prepared;

    public Prepared(DbConnection connection, DbTransaction transaction, string sql, params string[] names)
    {
        _command = connection.CreateCommand();
        _command.Transaction = transaction;
        _command.CommandText = sql;
        _parameters = new DbParameter[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            var p = _command.CreateParameter();
            p.ParameterName = names[i];
            _command.Parameters.Add(p);
            _parameters[i] = p;
        }
    }

    private void Bind(object?[] values)
    {
        for (var i = 0; i < _parameters.Length; i++) _parameters[i].Value = values[i] ?? DBNull.Value;
        if (!_prepared)
        {
            _command.Prepare();
            _prepared = true;
        }
    }

    public int Execute(params object?[] values)
    {
        Bind(values);
        return _command.ExecuteNonQuery();
    }

    public object? Scalar(params object?[] values)
    {
        Bind(values);
        var v = _command.ExecuteScalar();
        return v is DBNull ? null : v;
    }

    public DbDataReader Reader(params object?[] values)
    {
        Bind(values);
        return _command.ExecuteReader();
    }

    public void Dispose() => _command.Dispose();
}
