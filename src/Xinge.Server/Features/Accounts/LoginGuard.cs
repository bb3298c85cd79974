using Microsoft.Extensions.Caching.Memory;

namespace Xinge.Server.Features.Accounts;

/// <summary>
/// Slows and stops password guessing, for people (HTTP sign-in) and ESMEs (SMPP bind) alike, without handing the
/// attacker a way to lock the owner out:
/// <list type="bullet">
/// <item>one account from one address: five failures free, then locked for a minute, doubling with each further lock
/// up to a quarter of an hour; a success clears it. Other addresses are not affected.</item>
/// <item>one address against any accounts (spraying): fifty failures in ten minutes lock that address for a quarter of
/// an hour, except for the accounts that signed in from it before.</item>
/// <item>one account from many addresses: twenty failures in a quarter of an hour shut the account to addresses it
/// has not signed in from before, while the attack lasts; addresses it signed in from still get in.</item>
/// </list>
/// Nothing locks forever. State is per node and in memory, bounded: at most <see cref="MaxEntries"/> entries, the
/// least recently used going first.
/// </summary>
public sealed class LoginGuard(TimeProvider time) : IDisposable
{
    public const int FreeFailures = 5;
    public const int SourceFailures = 50;
    public const int AccountFailures = 20;
    public const int MaxEntries = 100_000;
    private static readonly TimeSpan FirstLock = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan LongestLock = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan SourceWindow = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan AccountWindow = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan Remembered = TimeSpan.FromDays(30);

    private sealed class Pair
    {
        public int Failures;
        public int Locks;
        public DateTimeOffset LockedUntil;
    }

    private sealed class Window
    {
        public int Failures;
        public DateTimeOffset Started;
        public DateTimeOffset LockedUntil;
    }

    private readonly MemoryCache _state = new(new MemoryCacheOptions { SizeLimit = MaxEntries, Clock = new Clock(time), CompactionPercentage = 0.1 });
    private readonly Lock _lock = new();

    /// <summary>
    /// An attempt about to check a password: how long it must wait instead, or null when it may go ahead. It counts
    /// against its account and address at once, before its password is checked, so attempts sent together cannot all
    /// slip through while the first are still being checked; a success clears the count.
    /// </summary>
    public TimeSpan? Attempt(string account, string source) => Attempt(account, source, out _);

    /// <param name="firstRefusal">True for the first attempt refused in this lock (the one worth an audit record), false for the rest.</param>
    public TimeSpan? Attempt(string account, string source, out bool firstRefusal)
    {
        var now = time.GetUtcNow();
        source = Network(source);
        firstRefusal = false;
        lock (_lock)
        {
            var wait = TimeSpan.Zero;
            var pairKey = PairKey(account, source);
            if (_state.TryGetValue(pairKey, out Pair? pair) && pair!.LockedUntil > now) wait = Max(wait, pair.LockedUntil - now);
            // The address's and the account's locks do not apply where this account signed in from before: its owner.
            var known = _state.TryGetValue(KnownKey(account, source), out _);
            if (!known && _state.TryGetValue(SourceKey(source), out Window? bySource) && bySource!.LockedUntil > now) wait = Max(wait, bySource.LockedUntil - now);
            if (!known && _state.TryGetValue(AccountKey(account), out Window? byAccount) && byAccount!.LockedUntil > now) wait = Max(wait, byAccount.LockedUntil - now);
            if (wait > TimeSpan.Zero)
            {
                var refusedKey = "r\n" + account.ToLowerInvariant() + "\n" + source;
                if (!_state.TryGetValue(refusedKey, out _))
                {
                    firstRefusal = true;
                    _state.Set(refusedKey, true, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = wait });
                }
                return wait;
            }
            pair ??= Get(pairKey, () => new Pair(), LongestLock * 4);
            if (++pair.Failures >= FreeFailures)
            {
                var lockFor = FirstLock * Math.Pow(2, Math.Min(pair.Locks, 10));
                pair.LockedUntil = now + (lockFor > LongestLock ? LongestLock : lockFor);
                pair.Locks++;
                pair.Failures = 0;
                // A running lock is never evicted to make room.
                _state.Set(pairKey, pair, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = LongestLock * 4, Priority = CacheItemPriority.NeverRemove });
            }
            return null;
        }
    }

    /// <summary>The attempt's password was wrong (or its account unknown): it counts toward the address's and the account's limits.</summary>
    public void Failed(string account, string source)
    {
        var now = time.GetUtcNow();
        source = Network(source);
        lock (_lock)
        {
            Count(SourceKey(source), SourceWindow, SourceFailures, now);
            Count(AccountKey(account), AccountWindow, AccountFailures, now);
        }
    }

    /// <summary>IPv6 addresses count per /64, what one subscriber line gets: a new address in it is not a new attacker.</summary>
    private static string Network(string source)
    {
        if (!System.Net.IPAddress.TryParse(source, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return source;
        if (ip.IsIPv4MappedToIPv6) return ip.MapToIPv4().ToString();
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new System.Net.IPAddress(bytes) + "/64";
    }

    public void Succeeded(string account, string source)
    {
        source = Network(source);
        lock (_lock)
        {
            _state.Remove(PairKey(account, source));
            _state.Set(KnownKey(account, source), true, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = Remembered, Priority = CacheItemPriority.High });
        }
    }

    private void Count(string key, TimeSpan window, int limit, DateTimeOffset now)
    {
        var w = Get(key, () => new Window { Started = now }, window + LongestLock);
        if (now - w.Started > window)
        {
            w.Started = now;
            w.Failures = 0;
        }
        if (++w.Failures >= limit)
        {
            w.LockedUntil = now + (key[0] == 's' ? LongestLock : AccountWindow);
            _state.Set(key, w, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = window + LongestLock, Priority = CacheItemPriority.NeverRemove });
        }
    }

    private T Get<T>(string key, Func<T> create, TimeSpan keep) where T : class
    {
        if (_state.TryGetValue(key, out T? found)) return found!;
        var value = create();
        _state.Set(key, value, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = keep });
        return value;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    private static string PairKey(string account, string source) => "p\n" + account.ToLowerInvariant() + "\n" + source;
    private static string SourceKey(string source) => "s\n" + source;
    private static string AccountKey(string account) => "a\n" + account.ToLowerInvariant();
    private static string KnownKey(string account, string source) => "k\n" + account.ToLowerInvariant() + "\n" + source;

    public void Dispose() => _state.Dispose();

    private sealed class Clock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
