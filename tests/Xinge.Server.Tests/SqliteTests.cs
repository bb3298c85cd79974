using Microsoft.Extensions.Logging.Abstractions;
using Xinge.Server.Data;

namespace Xinge.Server.Tests;

public sealed class SqliteTests
{
    [Fact]
    public async Task Writers_leave_the_log_to_the_checkpointer_which_copies_it_into_the_database_file()
    {
        var dir = Directory.CreateTempSubdirectory("xinge-checkpoint-").FullName;
        var file = Path.Combine(dir, "x.db");
        await using var database = new Database($"Data Source={file}");
        await database.MigrateAsync();
        await using (var c = await database.OpenAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            // About 8 MB: some 2000 pages, past SQLite's automatic checkpoint at 1000, which the writers no longer run.
            cmd.CommandText = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000) " +
                "INSERT INTO settings (key, value) SELECT 'k' || i, hex(randomblob(512)) FROM n";
            await cmd.ExecuteNonQueryAsync();
            await tx.CommitAsync();
        }
        var before = new FileInfo(file).Length;
        Assert.True(new FileInfo(file + "-wal").Length > 4_000_000, "the rows are in the log");
        Assert.True(before < 4_000_000, $"the commit did not checkpoint: the database file is {before} bytes");

        var checkpointer = new SqliteCheckpointer(database, NullLogger<SqliteCheckpointer>.Instance);
        await checkpointer.StartAsync(CancellationToken.None);
        try
        {
            await Wait.Until(() => Task.FromResult(new FileInfo(file).Length > before + 4_000_000), "the checkpointer copies the log into the database file");
        }
        finally
        {
            await checkpointer.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task SQLite_runs_without_its_memory_statistics()
    {
        var dir = Directory.CreateTempSubdirectory("xinge-sqlite-config-").FullName;
        await using var database = new Database($"Data Source={Path.Combine(dir, "x.db")}");
        await database.MigrateAsync();
        await using var c = await database.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM settings";
        await cmd.ExecuteScalarAsync();
        // With statistics on (SQLite's default) every allocation is counted under a global mutex, and this is not 0.
        Assert.Equal(0, SQLitePCL.raw.sqlite3_memory_used());
    }

    [Fact]
    public async Task Connections_opened_at_the_same_moment_never_share_one_SQLite_handle()
    {
        // Microsoft.Data.Sqlite 10.0.0 could lend one pooled connection to two owners opened at once (dotnet/efcore#39008):
        // two threads then drove one SQLite connection, and the server died in SQLite's allocator under load. On 10.0.0
        // this test met it in 3 of 2,000 and 4 of 4,000 rounds; on 10.0.15 in none.
        var dir = Directory.CreateTempSubdirectory("xinge-sqlite-pool-").FullName;
        await using var database = new Database($"Data Source={Path.Combine(dir, "x.db")}");
        await database.MigrateAsync();
        const int owners = 16, rounds = 2500;
        var shared = 0;
        var connections = new System.Data.Common.DbConnection[owners];
        // Each round ends when every owner holds its connection: the handles are compared, the connections closed and
        // the pool emptied, and all owners are let go at once into the next round.
        using var roundEnd = new Barrier(owners, _ =>
        {
            var handles = connections.Select(c => ((Microsoft.Data.Sqlite.SqliteConnection)c).Handle!.DangerousGetHandle()).ToArray();
            if (handles.Distinct().Count() != owners) shared++;
            foreach (var c in connections) c.Dispose();
            using var any = new Microsoft.Data.Sqlite.SqliteConnection(database.ConnectionString);
            Microsoft.Data.Sqlite.SqliteConnection.ClearPool(any);
        });
        var threads = Enumerable.Range(0, owners).Select(i => new Thread(() =>
        {
            for (var round = 0; round < rounds; round++)
            {
                // Opened, handed back and opened again: the second open meets the pool while others are taking theirs.
                database.OpenAsync().GetAwaiter().GetResult().Dispose();
                connections[i] = database.OpenAsync().GetAwaiter().GetResult();
                roundEnd.SignalAndWait();
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Equal(0, shared);
    }
}
