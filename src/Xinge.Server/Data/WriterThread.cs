using System.Collections.Concurrent;

namespace Xinge.Server.Data;

/// <summary>
/// Runs a writer's async loop on a thread of its own: every await in it resumes there, not in the thread pool's queue.
/// On SQLite the engine's writers take turns at the one write lock (<see cref="Database.WriteTurnAsync"/>); the
/// message store, granted its turn while its continuation waited behind a few dozen request handlers in the pool's
/// queue, held the lock idle for that long, and the requests waiting for their commit waited with it.
/// </summary>
public sealed class WriterThread : SynchronizationContext
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = new();

    private WriterThread()
    {
    }

    /// <summary>Starts <paramref name="loop"/> on a new thread; the task ends when the loop does.</summary>
    public static Task Run(string name, Func<Task> loop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var context = new WriterThread();
        var thread = new Thread(() =>
        {
            SetSynchronizationContext(context);
            Task task;
            try
            {
                task = loop();
            }
            catch (Exception e)
            {
                task = Task.FromException(e);
            }
            task.ContinueWith(_ => context._queue.CompleteAdding(), TaskScheduler.Default);
            foreach (var (callback, state) in context._queue.GetConsumingEnumerable()) callback(state);
            if (task.IsCanceled) done.TrySetCanceled();
            else if (task.Exception is { } e) done.TrySetException(e.InnerExceptions);
            else done.TrySetResult();
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    public override void Post(SendOrPostCallback d, object? state)
    {
        try
        {
            _queue.Add((d, state));
        }
        catch (InvalidOperationException)
        {
            // The loop has ended: whatever still completes runs in the pool.
            ThreadPool.QueueUserWorkItem(_ => d(state));
        }
    }

    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("a writer thread takes posts only");

    public override SynchronizationContext CreateCopy() => this;
}
