using Microsoft.Data.Sqlite;

namespace Xinge.Server.Data;

/// <summary>
/// SQLite's write-ahead log is copied back into the database file here, beside the writers, not by them. By default the
/// commit that fills the log past 1000 pages runs that checkpoint (copy and fsync) inside its own transaction, while
/// every other writer waits for the one write lock. The connections' automatic checkpoints are off
/// (<see cref="Database"/>), and this loop runs a passive checkpoint, which never blocks a writer, several times a
/// second. Should readers keep the log from ever being checkpointed whole, it restarts the log in a write turn once
/// it passes <see cref="RestartAbovePages"/>.
/// </summary>
public sealed class SqliteCheckpointer(Database database, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);
    private const long RestartAbovePages = 65_536;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.IsPostgres) return;
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var (log, _) = await CheckpointAsync("PASSIVE", stoppingToken);
                if (log < RestartAbovePages) continue;
                using var turn = await database.WriteTurnAsync(stoppingToken);
                await CheckpointAsync("RESTART", stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Checkpointing the SQLite log failed; retrying");
            }
        }
    }

    /// <summary>Runs a checkpoint; answers the log's size and how much of it is in the database file now, in pages.</summary>
    private async Task<(long Log, long Checkpointed)> CheckpointAsync(string mode, CancellationToken ct)
    {
        await using var c = (SqliteConnection)await database.OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"PRAGMA wal_checkpoint({mode})";
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetInt64(1), r.GetInt64(2)) : (0, 0);
    }
}
