namespace Xinge.Server.Features.Messaging;

/// <summary>Wakes a worker when there is work, so it does not have to poll fast.</summary>
public sealed class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Set()
    {
        try
        {
            if (_signal.CurrentCount == 0) _signal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            await _signal.WaitAsync(timeout, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
    }
}

/// <summary>The wake-up signal of one worker type (<typeparamref name="T"/>), registered once in DI.</summary>
public sealed class WakeSignalFor<T>
{
    private readonly WakeSignal _signal = new();
    public void Set() => _signal.Set();
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}
