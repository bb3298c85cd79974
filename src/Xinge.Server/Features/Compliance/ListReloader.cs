namespace Xinge.Server.Features.Compliance;

/// <summary>
/// Reads a list held in memory again when it changed: one load at a time, and a change that lands during a load is
/// read by another right after, so the last change is never missed. A failed load keeps the previous copy and is tried again.
/// </summary>
public sealed class ListReloader(Func<CancellationToken, Task> load, ILogger logger, string what)
{
    private readonly SemaphoreSlim _loading = new(1, 1);
    private int _pending;

    public void Changed() => _ = ReloadAsync();

    private async Task ReloadAsync()
    {
        Interlocked.Exchange(ref _pending, 1);
        if (!await _loading.WaitAsync(0)) return;
        try
        {
            while (Interlocked.Exchange(ref _pending, 0) == 1) await load(CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Reading the {List} failed; the previous copy stays, and it is read again in five seconds", what);
            _ = Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(_ => Changed(), TaskScheduler.Default);
        }
        finally
        {
            _loading.Release();
        }
        if (Volatile.Read(ref _pending) == 1) await ReloadAsync();
    }
}
