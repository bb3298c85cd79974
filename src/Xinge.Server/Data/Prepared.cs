using System.Data.Common;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Xinge.Server.Data;

/// <summary>
/// A statement prepared once and run many times in one transaction: the batch path on both providers
/// (SQL with <c>@name</c> parameters reads the same on SQLite and PostgreSQL).
/// </summary>
/// <remarks>
/// On SQLite the statement is driven through SQLitePCL directly and bound by position: Microsoft.Data.Sqlite looks
/// every parameter up by name (a UTF-8 conversion and a string search each) on every execution, which cost more
/// than the insert itself on the engine's hot paths.
/// </remarks>
public sealed class Prepared : IDisposable
{
    /// <summary>
    /// SQLite statements kept per connection handle (pooled connections keep theirs), so a batch does not parse its
    /// SQL again: parsing and planning cost more than a small batch's rows. A handle the pool closes takes its
    /// statements with it when it is collected.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<sqlite3, Dictionary<string, Prepared>> Kept = new();

    private readonly DbCommand? _command;
    private bool _kept;
    private bool _inUse;
    private readonly DbParameter[] _parameters = [];
    private readonly sqlite3? _db;
    private readonly sqlite3_stmt? _stmt;
    private readonly int[] _positions = [];
    private readonly Rows _rows;
    private bool _prepared;

    /// <summary>The statement for this SQL: on SQLite the connection's kept one when it is free, else a new one.</summary>
    public static Prepared For(DbConnection connection, DbTransaction transaction, string sql, params string[] names)
    {
        if (connection is not SqliteConnection { Handle: { } handle }) return new Prepared(connection, transaction, sql, names);
        var kept = Kept.GetValue(handle, _ => []);
        var key = names.Length == 0 ? sql : sql + "\u0000" + string.Join(",", names);
        if (kept.TryGetValue(key, out var p))
        {
            if (p._inUse) return new Prepared(connection, transaction, sql, names);
            p._inUse = true;
            return p;
        }
        p = new Prepared(connection, transaction, sql, names) { _kept = true, _inUse = true };
        kept[key] = p;
        return p;
    }

    private Prepared(DbConnection connection, DbTransaction transaction, string sql, params string[] names)
    {
        _rows = new Rows(this);
        if (connection is SqliteConnection sqlite)
        {
            _db = sqlite.Handle!;
            Check(raw.sqlite3_prepare_v2(_db, sql, out var stmt));
            _stmt = stmt;
            _positions = new int[names.Length];
            for (var i = 0; i < names.Length; i++)
            {
                var n = names[i];
                _positions[i] = n[0] is '@' or '$' or ':' ? raw.sqlite3_bind_parameter_index(stmt, n)
                    : raw.sqlite3_bind_parameter_index(stmt, "@" + n) is var at and > 0 ? at
                    : raw.sqlite3_bind_parameter_index(stmt, "$" + n);
                if (_positions[i] == 0) throw new ArgumentException($"the statement has no parameter {n}: {sql}");
            }
            return;
        }
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

    private void Check(int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_ROW or raw.SQLITE_DONE)) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    private void Bind(object?[] values)
    {
        if (_stmt is not null)
        {
            raw.sqlite3_reset(_stmt);
            for (var i = 0; i < _positions.Length; i++)
            {
                var at = _positions[i];
                var rc = values[i] switch
                {
                    null or DBNull => raw.sqlite3_bind_null(_stmt, at),
                    long l => raw.sqlite3_bind_int64(_stmt, at, l),
                    int n => raw.sqlite3_bind_int64(_stmt, at, n),
                    string s => raw.sqlite3_bind_text(_stmt, at, s),
                    bool b => raw.sqlite3_bind_int64(_stmt, at, b ? 1 : 0),
                    double d => raw.sqlite3_bind_double(_stmt, at, d),
                    byte[] bytes => raw.sqlite3_bind_blob(_stmt, at, bytes),
                    var other => raw.sqlite3_bind_int64(_stmt, at, Convert.ToInt64(other)),
                };
                Check(rc);
            }
            return;
        }
        for (var i = 0; i < _parameters.Length; i++) _parameters[i].Value = values[i] ?? DBNull.Value;
        if (!_prepared)
        {
            _command!.Prepare();
            _prepared = true;
        }
    }

    public int Execute(params object?[] values)
    {
        Bind(values);
        if (_stmt is null) return _command!.ExecuteNonQuery();
        int rc;
        while ((rc = raw.sqlite3_step(_stmt)) == raw.SQLITE_ROW)
        {
        }
        Check(rc);
        return raw.sqlite3_changes(_db);
    }

    public object? Scalar(params object?[] values)
    {
        Bind(values);
        if (_stmt is null)
        {
            var v = _command!.ExecuteScalar();
            return v is DBNull ? null : v;
        }
        using var rows = _rows.Start(null);
        if (!rows.Read() || rows.IsDBNull(0)) return null;
        return raw.sqlite3_column_type(_stmt, 0) switch
        {
            raw.SQLITE_INTEGER => raw.sqlite3_column_int64(_stmt, 0),
            raw.SQLITE_FLOAT => raw.sqlite3_column_double(_stmt, 0),
            _ => raw.sqlite3_column_text(_stmt, 0).utf8_to_string(),
        };
    }

    /// <summary>The rows the statement answers; dispose before the next execution.</summary>
    public Rows Reader(params object?[] values)
    {
        Bind(values);
        return _rows.Start(_stmt is null ? _command!.ExecuteReader() : null);
    }

    public void Dispose()
    {
        if (_kept)
        {
            // Kept for the next batch on this connection: no rows pending, no values held.
            raw.sqlite3_reset(_stmt);
            raw.sqlite3_clear_bindings(_stmt);
            _inUse = false;
            return;
        }
        _command?.Dispose();
        _stmt?.Dispose();
    }

    /// <summary>A forward-only reader over either provider, reused by its statement.</summary>
    public sealed class Rows(Prepared owner) : IDisposable
    {
        private DbDataReader? _reader;
        private bool _done;

        internal Rows Start(DbDataReader? reader)
        {
            _reader = reader;
            _done = false;
            return this;
        }

        public bool Read()
        {
            if (_reader is not null) return _reader.Read();
            if (_done) return false;
            var rc = raw.sqlite3_step(owner._stmt);
            if (rc == raw.SQLITE_ROW) return true;
            _done = true;
            owner.Check(rc);
            return false;
        }

        public bool IsDBNull(int i) => _reader?.IsDBNull(i) ?? raw.sqlite3_column_type(owner._stmt, i) == raw.SQLITE_NULL;
        public long GetInt64(int i) => _reader?.GetInt64(i) ?? raw.sqlite3_column_int64(owner._stmt, i);
        public int GetInt32(int i) => _reader?.GetInt32(i) ?? raw.sqlite3_column_int(owner._stmt, i);
        public bool GetBoolean(int i) => _reader?.GetBoolean(i) ?? raw.sqlite3_column_int(owner._stmt, i) != 0;
        public string GetString(int i) => _reader?.GetString(i) ?? raw.sqlite3_column_text(owner._stmt, i).utf8_to_string();

        public void Dispose()
        {
            if (_reader is not null)
            {
                _reader.Dispose();
                _reader = null;
                return;
            }
            // Run the statement to its end (a write with RETURNING completes there), then make it reusable.
            while (!_done && Read())
            {
            }
            raw.sqlite3_reset(owner._stmt);
        }
    }
}
