using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Xinge.Server.Data;

public enum DbProvider
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The database behind both EF Core (schema, administration) and the hot paths' plain SQL (batches).
/// <c>ConnectionStrings:Xinge</c> starting <c>Host=</c> selects PostgreSQL; anything else is SQLite.
/// </summary>
public sealed class Database : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _postgres;

    /// <summary>
    /// SQLite's library settings, once per process before its first connection: no memory statistics (a global mutex
    /// around every allocation). Each connection keeps its own mutex (serialized mode). Without it (multi-thread mode)
    /// any touch of a connection from a second thread corrupts SQLite's memory, and the server died of that under load
    /// every few benchmark runs: on Microsoft.Data.Sqlite 10.0.0, whose pool could lend one connection to two owners
    /// (dotnet/efcore#39008, fixed in 10.0.15), and once more on 10.0.15 by a cause not found (a statement finalized
    /// by the garbage collector's thread would do it). With the mutex, 30 runs went without one.
    /// </summary>
    static Database()
    {
        SQLitePCL.Batteries_V2.Init();
        SQLitePCL.raw.sqlite3_shutdown();
        SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_MEMSTATUS, 0);
        SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_SERIALIZED);
        SQLitePCL.raw.sqlite3_initialize();
    }

    public Database(string connectionString)
    {
        ConnectionString = connectionString;
        Provider = connectionString.TrimStart().StartsWith("Host=", StringComparison.OrdinalIgnoreCase) ? DbProvider.Postgres : DbProvider.Sqlite;
        if (Provider == DbProvider.Postgres)
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            // The engine runs the same few statements all day: prepared once per connection, PostgreSQL plans them once.
            if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase)) builder.MaxAutoPrepare = 64;
            // Only the engine uses its connections, and it leaves no session state behind: a pooled connection is
            // handed on as it is, without the reset round of RESET ALL, CLOSE ALL, UNLISTEN … before its next use.
            if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase)) builder.NoResetOnClose = true;
            _postgres = NpgsqlDataSource.Create(builder);
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(connectionString);
            var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            builder.Pooling = true;
            builder.DefaultTimeout = 60;
            ConnectionString = builder.ToString();
        }
    }

    private readonly SemaphoreSlim _sqliteWriter = new(1, 1);
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, object> Configured = new();

    /// <summary>
    /// SQLite lets one transaction write at a time. The engine's writers (store, dispatcher, status writer, outboxes)
    /// take turns here before they begin, instead of meeting SQLite's busy handler, which sleeps in steps of
    /// milliseconds and would set the pace of the whole engine. PostgreSQL needs no turns.
    /// </summary>
    public async ValueTask<WriteTurn> WriteTurnAsync(CancellationToken ct = default)
    {
        if (IsPostgres) return default;
        await _sqliteWriter.WaitAsync(ct);
        return new WriteTurn(_sqliteWriter);
    }

    public readonly struct WriteTurn(SemaphoreSlim? held) : IDisposable
    {
        public void Dispose() => held?.Release();
    }

    /// <summary>
    /// "Is one of this array" for Dapper: <c>= ANY(@p)</c> with a PostgreSQL array, <c>IN @p</c> (Dapper writes out the
    /// list) on SQLite.
    /// </summary>
    public static string InList(DbConnection c, string parameter) => c is NpgsqlConnection ? $"= ANY(@{parameter})" : $"IN @{parameter}";

    public string ConnectionString { get; }
    public DbProvider Provider { get; }
    public bool IsPostgres => Provider == DbProvider.Postgres;

    public void Configure(DbContextOptionsBuilder options)
    {
        if (IsPostgres) options.UseNpgsql(_postgres!);
        else options.UseSqlite(ConnectionString).AddInterceptors(new SqlitePragmas());
        options.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking);
    }

    public XingeDb CreateContext()
    {
        if (IsPostgres)
        {
            var b = new DbContextOptionsBuilder<PostgresXingeDb>();
            Configure(b);
            return new PostgresXingeDb(b.Options);
        }
        var s = new DbContextOptionsBuilder<SqliteXingeDb>();
        Configure(s);
        return new SqliteXingeDb(s.Options);
    }

    public async Task<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        if (IsPostgres) return await _postgres!.OpenConnectionAsync(ct);
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        // A pooled connection keeps its settings: they are set once per SQLite handle.
        if (!Configured.TryGetValue(connection.Handle!, out _))
        {
            SqlitePragmas.Apply(connection);
            Configured.AddOrUpdate(connection.Handle!, true);
        }
        return connection;
    }

    public async Task MigrateAsync(CancellationToken ct = default)
    {
        await using var db = CreateContext();
        await db.Database.MigrateAsync(ct);
        if (!IsPostgres)
        {
            await using var connection = await OpenAsync(ct);
            await using var cmd = connection.CreateCommand();
            // WAL lets readers run beside the writer; it persists in the file once set.
            cmd.CommandText = "PRAGMA journal_mode=WAL;";
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    public ValueTask DisposeAsync() => _postgres?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>
    /// synchronous=NORMAL in WAL: a killed process loses nothing committed (ARCHITECTURE.md, durability). No automatic
    /// checkpoints: <see cref="SqliteCheckpointer"/> runs them beside the writers.
    /// </summary>
    private sealed class SqlitePragmas : DbConnectionInterceptor
    {
        public static void Apply(DbConnection connection)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=60000; PRAGMA wal_autocheckpoint=0;";
            cmd.ExecuteNonQuery();
        }

        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken ct = default)
        {
            Apply(connection);
            return Task.CompletedTask;
        }
    }
}

/// <summary>Brings the schema up to date when the node starts, before any other service: one EF Core migration history for both providers.</summary>
public sealed class DatabaseMigrator(Database database) : IHostedService
{
    public Task StartAsync(CancellationToken ct) => database.MigrateAsync(ct);

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
