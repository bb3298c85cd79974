using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Accounts;

/// <summary>
/// Who is calling: a role, the enterprise for enterprise callers, and a name for the audit log (<c>user:NAME</c>,
/// <c>key:PREFIX</c>). A signed-in person also has a session, and may have to change the password first.
/// </summary>
public sealed record Caller(string Role, long? EnterpriseId, long? UserId, string Name = "", string? SessionId = null, bool MustChangePassword = false)
{
    public const string EnterpriseClaim = "xinge:enterprise";
    public const string SessionClaim = "xinge:session";
    public const string MustChangeClaim = "xinge:must-change-password";

    public static Caller From(ClaimsPrincipal user) => new(
        user.FindFirstValue(ClaimTypes.Role) ?? "",
        long.TryParse(user.FindFirstValue(EnterpriseClaim), out var e) ? e : null,
        long.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), out var u) ? u : null,
        user.FindFirstValue(ClaimTypes.Name) ?? "",
        user.FindFirstValue(SessionClaim),
        user.HasClaim(MustChangeClaim, "true"));

    public long Enterprise => EnterpriseId ?? throw new InvalidOperationException("not an enterprise caller");

    public IEnumerable<Claim> Claims()
    {
        yield return new Claim(ClaimTypes.Role, Role);
        yield return new Claim(ClaimTypes.Name, Name);
        if (EnterpriseId is { } e) yield return new Claim(EnterpriseClaim, e.ToString());
        if (UserId is { } u) yield return new Claim(ClaimTypes.NameIdentifier, u.ToString());
        if (SessionId is { } s) yield return new Claim(SessionClaim, s);
        if (MustChangePassword) yield return new Claim(MustChangeClaim, "true");
    }
}

/// <summary>
/// Session tokens are self-contained and HMAC-signed with a key kept in the database, so every node accepts them
/// and a restart does not log anyone out. Each names its session and when it was issued, so a sign-out, a password
/// change or a disabled user ends it on every node (<see cref="Revocations"/>).
/// </summary>
public sealed class TokenService(TimeProvider time, Revocations revocations)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);
    private byte[] _key = [];

    private sealed record Payload(long U, string R, long? E, string N, string S, long Iat, long Exp, bool Pc);

    public async Task InitializeAsync(Database database, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var stored = await c.QuerySingleOrDefaultAsync<string>("SELECT value FROM settings WHERE key = 'token_key'");
        if (stored is null)
        {
            stored = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            await c.ExecuteAsync("INSERT INTO settings (key, value) VALUES ('token_key', @stored) ON CONFLICT DO NOTHING", new { stored });
            stored = await c.QuerySingleAsync<string>("SELECT value FROM settings WHERE key = 'token_key'");
        }
        _key = Convert.FromBase64String(stored);
    }

    /// <param name="issuedAt">When the sign-in began (before the user was read); now by default.</param>
    public (string Token, DateTimeOffset ExpiresAt) Issue(User user, DateTimeOffset? issuedAt = null)
    {
        var now = issuedAt ?? time.GetUtcNow();
        var expires = now + Lifetime;
        var payload = new Payload(user.Id, user.Role, user.EnterpriseId, user.Username, Secrets.Base64Url(RandomNumberGenerator.GetBytes(12)), now.ToUnixTimeMilliseconds(),
            expires.ToUnixTimeSeconds(), user.MustChangePassword);
        var body = Secrets.Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload));
        return ($"{body}.{Sign(body)}", expires);
    }

    public Caller? Validate(string token)
    {
        var dot = token.IndexOf('.');
        if (dot <= 0 || _key.Length == 0 || token.Length > 2048) return null;
        var body = token[..dot];
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(body)), Encoding.ASCII.GetBytes(token[(dot + 1)..]))) return null;
        Payload? p;
        try
        {
            p = JsonSerializer.Deserialize<Payload>(Secrets.FromBase64Url(body));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
        if (p is null || p.Exp < time.GetUtcNow().ToUnixTimeSeconds() || revocations.Ended(p.S, p.U, p.Iat)) return null;
        return new Caller(p.R, p.E, p.U, "user:" + p.N, p.S, p.Pc);
    }

    private string Sign(string body) => Secrets.Base64Url(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(body)));
}

/// <summary>
/// API keys and integration keys by their SHA-256, cached: the hot path touches the database for a key at most once
/// every <see cref="Recheck"/>. A key revoked through the API leaves the cache of every node within a second
/// (<see cref="Revocations"/>); one revoked in the database by hand, within <see cref="Recheck"/>.
/// </summary>
public sealed class ApiKeyCache(Database database, TimeProvider time)
{
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (Caller Caller, long Until)> _byHash = new();
    /// <summary>Bumped by every revocation: a lookup that read the key before the revocation does not cache it after.</summary>
    private long _generation;

    public async ValueTask<Caller?> FindAsync(string key)
    {
        var hash = Secrets.Sha256(key);
        var now = time.GetTimestamp();
        if (_byHash.TryGetValue(hash, out var cached) && cached.Until > now) return cached.Caller;
        var generation = Interlocked.Read(ref _generation);
        await using var c = await database.OpenAsync();
        var row = await c.QuerySingleOrDefaultAsync<ApiKey>(
            "SELECT enterprise_id AS EnterpriseId, prefix AS Prefix, revoked AS Revoked FROM api_keys WHERE key_hash = @hash", new { hash });
        Caller? caller = row is { Revoked: false } r
            ? new Caller(r.EnterpriseId is null ? Roles.Integration : Roles.EnterpriseAdmin, r.EnterpriseId, null, "key:" + r.Prefix)
            : null;
        // Unknown keys are not cached, so a flood of random keys cannot grow memory.
        if (caller is not null && Interlocked.Read(ref _generation) == generation) _byHash[hash] = (caller, now + (long)(Recheck.TotalSeconds * time.TimestampFrequency));
        else _byHash.TryRemove(hash, out _);
        return caller;
    }

    public void Forget(string hash)
    {
        Interlocked.Increment(ref _generation);
        _byHash.TryRemove(hash, out _);
    }
}

public sealed class BearerAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    TokenService tokens, ApiKeyCache keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.NoResult();
        var secret = header[7..].Trim();
        var caller = secret.StartsWith("xk_", StringComparison.Ordinal) || secret.StartsWith("xi_", StringComparison.Ordinal)
            ? await keys.FindAsync(secret)
            : tokens.Validate(secret);
        if (caller is null) return AuthenticateResult.Fail("invalid credentials");
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(caller.Claims(), SchemeName)), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        await Problems.Of(401, "unauthorized", "Unauthorized", "a valid bearer token or API key is required").ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 403;
        await Problems.Forbidden("this credential may not call this endpoint").ExecuteAsync(Context);
    }
}
