using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Accounts;

public static class RevocationKind
{
    public const string Session = "session";
    public const string User = "user";
    public const string ApiKey = "api_key";
    /// <summary>Not a credential: a role's rights changed, and every node reloads them.</summary>
    public const string Rights = "rights";
    /// <summary>Not a credential: an enterprise's terms changed (suspended, its price), and every node forgets what it cached of it.</summary>
    public const string Enterprise = "enterprise";
    /// <summary>An enterprise's SMPP account was removed: every node closes the sessions bound with it.</summary>
    public const string SmppAccount = "smpp_account";
    /// <summary>Not a credential: the platform blacklist changed, and every node reads it again.</summary>
    public const string Blacklist = "blacklist";
    /// <summary>Not a credential: the sensitive-word list changed, and every node compiles it again.</summary>
    public const string Words = "words";
    /// <summary>An enterprise's templates changed (approved, rejected, removed): every node reads them again. Subject: the enterprise id.</summary>
    public const string Templates = "templates";
    /// <summary>An enterprise's flow limits changed: every node reads them again. Subject: the enterprise id.</summary>
    public const string Limits = "limits";
    /// <summary>Number segments, ported numbers or routes changed: every node reads them again.</summary>
    public const string Routing = "routing";
}

/// <summary>
/// Credentials ended before their time, as this node knows them. Each revocation is a row in <c>revocations</c>
/// (written in the transaction of the change that causes it); every node reads the new rows every second
/// (<see cref="RevocationWatcher"/>), so a sign-out, a disabled user or a revoked key is refused everywhere within
/// about a second, and at once on the node that did it.
/// </summary>
public sealed class Revocations(TimeProvider time)
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<string, long> _sessions = new();
    /// <summary>Per user: sessions issued before this moment (Unix ms) are ended.</summary>
    private readonly ConcurrentDictionary<long, long> _usersBefore = new();
    private ApiKeyCache? _keys;
    private long _last;

    public long Last => Volatile.Read(ref _last);

    /// <summary>An enterprise's terms changed: those who cache them forget that enterprise.</summary>
    public event Action<long>? EnterpriseChanged;

    /// <summary>An SMPP account (by system_id) was removed: the SMPP server closes its sessions.</summary>
    public event Action<string>? SmppAccountRemoved;

    /// <summary>The platform blacklist changed: the nodes' copies are read again.</summary>
    public event Action? BlacklistChanged;

    /// <summary>The sensitive-word list changed.</summary>
    public event Action? WordsChanged;

    public event Action<long>? TemplatesChanged;

    public event Action<long>? LimitsChanged;

    public event Action? RoutingChanged;

    /// <summary>Set when a role's rights changed since the watcher last reloaded them.</summary>
    public volatile bool RightsChanged;

    public void Attach(ApiKeyCache keys) => _keys = keys;

    /// <summary>True when the session, or every session of its user issued at <paramref name="issuedAt"/>, was ended.</summary>
    public bool Ended(string session, long user, long issuedAt) =>
        _sessions.ContainsKey(session) || (_usersBefore.TryGetValue(user, out var before) && issuedAt < before);

    /// <summary>Writes a revocation in the caller's transaction; <see cref="Apply"/> it after the commit.</summary>
    public static async Task<Revocation> WriteAsync(DbConnection c, DbTransaction tx, string kind, string subject, long at)
    {
        var id = await c.ExecuteScalarAsync<long>("INSERT INTO revocations (kind, subject, at) VALUES (@kind, @subject, @at) RETURNING id", new { kind, subject, at }, tx);
        return new Revocation { Id = id, Kind = kind, Subject = subject, At = at };
    }

    /// <summary>Writes a revocation in the caller's transaction, commits it, and applies it here: this node follows at once, the others within a second.</summary>
    public async Task CommitAsync(DbConnection c, DbTransaction tx, string kind, string subject)
    {
        var r = await WriteAsync(c, tx, kind, subject, time.GetUtcNow().ToUnixTimeMilliseconds());
        await tx.CommitAsync();
        Apply(r);
    }

    /// <summary>The ids applied lately: the watcher reads the last ones again each second, and a change is followed once.</summary>
    private readonly ConcurrentDictionary<long, byte> _applied = new();

    public void Apply(Revocation r)
    {
        long seen;
        while ((seen = Volatile.Read(ref _last)) < r.Id && Interlocked.CompareExchange(ref _last, r.Id, seen) != seen)
        {
        }
        if (r.Kind.Length == 0 || !_applied.TryAdd(r.Id, 0)) return;
        if (_applied.Count > 10_000)
        {
            var keep = Volatile.Read(ref _last) - 1_000;
            foreach (var id in _applied.Keys.Where(id => id < keep)) _applied.TryRemove(id, out _);
        }
        switch (r.Kind)
        {
            case RevocationKind.Session:
                _sessions[r.Subject] = r.At;
                break;
            case RevocationKind.User when long.TryParse(r.Subject, out var user):
                _usersBefore.AddOrUpdate(user, r.At, (_, old) => Math.Max(old, r.At));
                break;
            case RevocationKind.ApiKey:
                _keys?.Forget(r.Subject);
                break;
            case RevocationKind.Rights:
                RightsChanged = true;
                break;
            case RevocationKind.Enterprise when long.TryParse(r.Subject, out var enterprise):
                EnterpriseChanged?.Invoke(enterprise);
                break;
            case RevocationKind.SmppAccount:
                SmppAccountRemoved?.Invoke(r.Subject);
                break;
            case RevocationKind.Blacklist:
                BlacklistChanged?.Invoke();
                break;
            case RevocationKind.Words:
                WordsChanged?.Invoke();
                break;
            case RevocationKind.Templates when long.TryParse(r.Subject, out var owner):
                TemplatesChanged?.Invoke(owner);
                break;
            case RevocationKind.Limits when long.TryParse(r.Subject, out var limited):
                LimitsChanged?.Invoke(limited);
                break;
            case RevocationKind.Routing:
                RoutingChanged?.Invoke();
                break;
        }
    }

    /// <summary>Forgets what no token can outlive: every token issued before then has expired.</summary>
    public void Prune()
    {
        var horizon = (time.GetUtcNow() - TokenService.Lifetime).ToUnixTimeMilliseconds();
        foreach (var (k, at) in _sessions)
        {
            if (at < horizon) _sessions.TryRemove(k, out _);
        }
        foreach (var (k, at) in _usersBefore)
        {
            if (at < horizon) _usersBefore.TryRemove(k, out _);
        }
    }
}

/// <summary>Reads the revocations other nodes wrote: those a live token may still carry at start, then every new one each second.</summary>
public sealed class RevocationWatcher(Database database, Revocations revocations, ApiKeyCache keys, RoleRights rights, TimeProvider time, ILogger<RevocationWatcher> logger)
    : BackgroundService
{
    /// <summary>
    /// Ids are taken at insert and rows become visible at commit, so a row may appear below the highest id seen: the
    /// last ones are read again (applying one twice changes nothing).
    /// </summary>
    private const long Lookback = 100;

    public override async Task StartAsync(CancellationToken ct)
    {
        revocations.Attach(keys);
        // Before the first request: a token ended before this node started must not work here either.
        var horizon = (time.GetUtcNow() - TokenService.Lifetime).ToUnixTimeMilliseconds();
        await using (var c = await database.OpenAsync(ct))
        {
            foreach (var r in await c.QueryAsync<Revocation>("SELECT id AS Id, kind AS Kind, subject AS Subject, at AS At FROM revocations WHERE at >= @horizon ORDER BY id", new { horizon }))
                revocations.Apply(r);
            var last = await c.ExecuteScalarAsync<long?>("SELECT MAX(id) FROM revocations") ?? 0;
            revocations.Apply(new Revocation { Id = last, Kind = "", Subject = "" });
        }
        await base.StartAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pruned = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // The poll's pace is the machine's, not the domain's clock.
                await Task.Delay(Revocations.PollEvery, stoppingToken);
                await using var c = await database.OpenAsync(stoppingToken);
                foreach (var r in await c.QueryAsync<Revocation>("SELECT id AS Id, kind AS Kind, subject AS Subject, at AS At FROM revocations WHERE id > @after ORDER BY id",
                    new { after = revocations.Last - Lookback }))
                    revocations.Apply(r);
                if (revocations.RightsChanged)
                {
                    revocations.RightsChanged = false;
                    await rights.LoadAsync(stoppingToken);
                }
                if (time.GetUtcNow() - pruned > TimeSpan.FromMinutes(10))
                {
                    revocations.Prune();
                    // A row older than any token is of no more use to any node (every node has read it long since).
                    var horizon = (time.GetUtcNow() - TokenService.Lifetime - TimeSpan.FromHours(1)).ToUnixTimeMilliseconds();
                    await c.ExecuteAsync("DELETE FROM revocations WHERE at < @horizon", new { horizon });
                    pruned = time.GetUtcNow();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Reading revocations failed; trying again");
            }
        }
    }
}
