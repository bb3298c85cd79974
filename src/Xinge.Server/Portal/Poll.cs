namespace Xinge.Server.Portal;

/// <summary>
/// A page's live figures: <c>tick</c> runs every period, one at a time (a slow one delays the next rather than
/// overlapping it), until the page is disposed. A tick that fails is tried again at the next.
/// </summary>
public sealed class Poll : IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private Poll()
    {
    }

    public static Poll Every(TimeSpan period, Func<Task> tick)
    {
        var poll = new Poll();
        _ = poll.RunAsync(period, tick);
        return poll;
    }

    private async Task RunAsync(TimeSpan period, Func<Task> tick)
    {
        using var timer = new PeriodicTimer(period);
        var stop = _stop.Token;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await tick();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The page went away mid-tick, or the platform did not answer: the next tick tries again.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
