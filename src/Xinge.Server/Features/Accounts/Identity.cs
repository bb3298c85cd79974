using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Dapper;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Accounts;

/// <summary>Who is calling: a role, and the enterprise for enterprise callers.</summary>
public sealed record Caller(string Role, long? EnterpriseId, long? UserId)
{
    public const string EnterpriseClaim = "xinge:enterprise";

    public static Caller From(ClaimsPrincipal user) => new(
        user.FindFirstValue(ClaimTypes.Role) ?? "",
        long.TryParse(user.FindFirstValue(EnterpriseClaim), out var e) ? e : null,
        long.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), out var u) ? u : null);

    public long Enterprise => EnterpriseId ?? throw new InvalidOperationException("not an enterprise caller");
}

/// <summary>
/// Session tokens are self-contained and HMAC-signed with a key kept in the database, so every node accepts them
/// and a restart does not log anyone out.
/// </summary>
public sealed class TokenService(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);
    private byte[] _key = [];

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

    public (string Token, DateTimeOffset ExpiresAt) Issue(User user)
    {
        var expires = time.GetUtcNow() + Lifetime;
        var payload = $"{user.Id}|{user.Role}|{user.EnterpriseId}|{expires.ToUnixTimeSeconds()}";
        var body = Secrets.Base64Url(Encoding.UTF8.GetBytes(payload));
        return ($"{body}.{Sign(body)}", expires);
    }

    public Caller? Validate(string token)
    {
        var dot = token.IndexOf('.');
        if (dot <= 0 || _key.Length == 0) return null;
        var body = token[..dot];
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(body)), Encoding.ASCII.GetBytes(token[(dot + 1)..]))) return null;
        string[] parts;
        try
        {
            parts = Encoding.UTF8.GetString(Secrets.FromBase64Url(body)).Split('|');
        }
        catch (FormatException)
        {
            return null;
        }
        if (parts.Length != 4 || !long.TryParse(parts[3], out var exp) || exp < time.GetUtcNow().ToUnixTimeSeconds()) return null;
        return new Caller(parts[1], long.TryParse(parts[2], out var e) ? e : null, long.TryParse(parts[0], out var u) ? u : null);
    }

    private string Sign(string body) => Secrets.Base64Url(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(body)));
}

/// <summary>API keys and integration keys by their SHA-256, cached: the hot path never touches the database for auth.</summary>
public sealed class ApiKeyCache(Database database)
{
    private readonly ConcurrentDictionary<string, Caller?> _byHash = new();

    public async ValueTask<Caller?> FindAsync(string key)
    {
        var hash = Secrets.Sha256(key);
        if (_byHash.TryGetValue(hash, out var cached)) return cached;
        await using var c = await database.OpenAsync();
        var row = await c.QuerySingleOrDefaultAsync<ApiKey>(
            "SELECT enterprise_id AS EnterpriseId, revoked AS Revoked FROM api_keys WHERE key_hash = @hash", new { hash });
        Caller? caller = row is { Revoked: false } r
            ? new Caller(r.EnterpriseId is null ? Roles.Integration : Roles.EnterpriseAdmin, r.EnterpriseId, null)
            : null;
        // Unknown keys are not cached, so a flood of random keys cannot grow memory.
        if (caller is not null) _byHash[hash] = caller;
        return caller;
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
        var claims = new List<Claim> { new(ClaimTypes.Role, caller.Role) };
        if (caller.EnterpriseId is { } e) claims.Add(new Claim(Caller.EnterpriseClaim, e.ToString()));
        if (caller.UserId is { } u) claims.Add(new Claim(ClaimTypes.NameIdentifier, u.ToString()));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
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
