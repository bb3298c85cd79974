using System.Collections.Concurrent;

namespace Xinge.Server;

/// <summary>
/// What a feature keeps in memory per enterprise (its templates, its limits): read on first use, forgotten when it
/// changes. A read that began before a change is not kept, so the next use reads again.
/// </summary>
public sealed class EnterpriseCache<T>(Func<long, CancellationToken, Task<T>> load)
{
    private readonly ConcurrentDictionary<long, T> _items = new();
    private long _generation;

    public void Forget(long enterpriseId)
    {
        Interlocked.Increment(ref _generation);
        _items.TryRemove(enterpriseId, out _);
    }

    public async ValueTask<T> GetAsync(long enterpriseId, CancellationToken ct)
    {
        if (_items.TryGetValue(enterpriseId, out var known)) return known;
        var generation = Interlocked.Read(ref _generation);
        var item = await load(enterpriseId, ct);
        _items[enterpriseId] = item;
        // A change while it was read (or between the check and the store): not kept.
        if (Interlocked.Read(ref _generation) != generation) _items.TryRemove(enterpriseId, out _);
        return item;
    }
}
