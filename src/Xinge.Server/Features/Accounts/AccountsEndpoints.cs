using Dapper;
using Microsoft.EntityFrameworkCore;
using Xinge.Server.Data;
using Xinge.Server.Features.Billing;

namespace Xinge.Server.Features.Accounts;

public sealed record TokenRequest(string? Username, string? Password);
public sealed record CreateEnterprise(string? Name, string? LicenceNumber, string[]? Hotlines, int? MaxHotlines, int? UnitPrice);
public sealed record CreditRequest(long? Amount);
public sealed record CreateUser(string? Username, string? Password, string? Role);
public sealed record CreateSmppAccount(string? SystemId, string? Password, List<string>? AllowedIps, int? MaxBinds, int? MaxTps);
public sealed record CreateIntegrationKey(string? Name);

public static class AccountsEndpoints
{
    public static IServiceCollection AddAccounts(this IServiceCollection services)
    {
        services.AddSingleton<TokenService>();
        services.AddSingleton<ApiKeyCache>();
        services.AddAuthentication(BearerAuthentication.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, BearerAuthentication>(BearerAuthentication.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy("operator", p => p.RequireRole(Roles.Operator))
            // CONTRACT.md: /metrics is anonymous from loopback (the node's own scraper), an operator's otherwise.
            .AddPolicy("metrics", p => p.RequireAssertion(ctx =>
                ctx.User.IsInRole(Roles.Operator) || (ctx.Resource is HttpContext http && http.Connection.RemoteIpAddress is { } ip && System.Net.IPAddress.IsLoopback(ip))))
            .AddPolicy("enterprise", p => p.RequireClaim(Caller.EnterpriseClaim))
            .AddPolicy("integration", p => p.RequireRole(Roles.Integration, Roles.Operator));
        services.AddHostedService<OperatorBootstrap>();
        return services;
    }

    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapPost("/auth/token", IssueToken).AllowAnonymous().WithTags("Auth");

        var admin = api.MapGroup("/admin").RequireAuthorization("operator").WithTags("Operator");
        admin.MapPost("/enterprises", CreateEnterpriseAsync);
        admin.MapGet("/enterprises", async (XingeDb db) =>
            Results.Ok((await db.Enterprises.OrderBy(e => e.Id).ToListAsync()).Select(View)));
        admin.MapGet("/enterprises/{id:long}", async (long id, XingeDb db) =>
            await db.Enterprises.FindAsync(id) is { } e ? Results.Ok(View(e)) : Problems.NotFound("enterprise"));
        admin.MapPost("/enterprises/{id:long}/verify", async (long id, XingeDb db) =>
            await db.Enterprises.Where(e => e.Id == id).ExecuteUpdateAsync(s => s.SetProperty(e => e.Verified, true)) == 1
                ? Results.Ok(new { id, verified = true })
                : Problems.NotFound("enterprise"));
        admin.MapPost("/enterprises/{id:long}/credit", CreditAsync);
        admin.MapPost("/enterprises/{id:long}/api-keys", CreateApiKeyAsync);
        admin.MapPost("/enterprises/{id:long}/users", CreateUserAsync);
        admin.MapPost("/enterprises/{id:long}/smpp-accounts", CreateSmppAccountAsync);
        admin.MapPost("/integration-keys", CreateIntegrationKeyAsync);
        return app;
    }

    private static object View(Enterprise e) => new
    {
        id = e.Id,
        name = e.Name,
        licenceNumber = e.LicenceNumber,
        verified = e.Verified,
        balance = e.Balance,
        reserved = e.Reserved,
        unitPrice = e.UnitPrice,
        extension = e.Extension,
    };

    private static async Task<IResult> IssueToken(TokenRequest body, XingeDb db, TokenService tokens)
    {
        if (string.IsNullOrEmpty(body.Username) || string.IsNullOrEmpty(body.Password)) return Problems.Validation("username and password are required");
        var user = await db.Users.SingleOrDefaultAsync(u => u.Username == body.Username);
        if (user is null || !Secrets.VerifyPassword(body.Password, user.PasswordHash))
            return Problems.Of(401, "invalid-credentials", "Unauthorized", "the username or password is wrong");
        var (token, expiresAt) = tokens.Issue(user);
        return Results.Ok(new { token, expiresAt, role = user.Role, enterpriseId = user.EnterpriseId });
    }

    private static async Task<IResult> CreateEnterpriseAsync(CreateEnterprise body, XingeDb db, Database database, TimeProvider time, IConfiguration config)
    {
        var name = body.Name?.Trim();
        var licence = body.LicenceNumber?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100) return Problems.Validation("name is required (at most 100 characters)");
        if (string.IsNullOrEmpty(licence) || licence.Length > 64 || !licence.All(char.IsAsciiLetterOrDigit))
            return Problems.Validation("licenceNumber is required: letters and digits, at most 64");
        if (body.UnitPrice is < 0 or > 100_000) return Problems.Validation("unitPrice is fen per billing unit, 0 to 100000");
        var enterprise = new Enterprise
        {
            Name = name,
            LicenceNumber = licence,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            UnitPrice = body.UnitPrice ?? config.GetValue("Xinge:Billing:DefaultUnitPrice", 5),
            Extension = "new-" + Guid.NewGuid().ToString("N"),
        };
        db.Enterprises.Add(enterprise);
        await db.SaveChangesAsync();
        // R-S1-12: the enterprise's extension to the platform's 106 number is its id, four digits or more.
        var extension = enterprise.Id.ToString("D4");
        await db.Enterprises.Where(e => e.Id == enterprise.Id).ExecuteUpdateAsync(s => s.SetProperty(e => e.Extension, extension));
        return Results.Created($"/api/v1/admin/enterprises/{enterprise.Id}", new { id = enterprise.Id, extension });
    }

    private static async Task<IResult> CreditAsync(long id, CreditRequest body, Database database, BillingService billing, TimeProvider time)
    {
        if (body.Amount is not > 0 || body.Amount > 1_000_000_000_00) return Problems.Validation("amount is a positive integer in fen");
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var balance = await billing.CreditAsync(c, tx, id, body.Amount.Value, time.GetUtcNow().ToUnixTimeMilliseconds());
        if (balance is null) return Problems.NotFound("enterprise");
        await tx.CommitAsync();
        return Results.Ok(new { balance });
    }

    private static async Task<IResult> CreateApiKeyAsync(long id, XingeDb db, TimeProvider time)
    {
        if (!await db.Enterprises.AnyAsync(e => e.Id == id)) return Problems.NotFound("enterprise");
        var key = Secrets.NewKey("xk_");
        db.ApiKeys.Add(new ApiKey { EnterpriseId = id, Name = "api", KeyHash = Secrets.Sha256(key), Prefix = key[..7], CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() });
        await db.SaveChangesAsync();
        return Results.Created($"/api/v1/admin/enterprises/{id}/api-keys", new { key });
    }

    private static async Task<IResult> CreateIntegrationKeyAsync(CreateIntegrationKey body, XingeDb db, TimeProvider time)
    {
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 100) return Problems.Validation("name is required (at most 100 characters)");
        var key = Secrets.NewKey("xi_");
        db.ApiKeys.Add(new ApiKey { Name = body.Name.Trim(), KeyHash = Secrets.Sha256(key), Prefix = key[..7], CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() });
        await db.SaveChangesAsync();
        return Results.Created("/api/v1/admin/integration-keys", new { key });
    }

    private static async Task<IResult> CreateUserAsync(long id, CreateUser body, XingeDb db, TimeProvider time)
    {
        var username = body.Username?.Trim();
        if (string.IsNullOrEmpty(username) || username.Length > 64) return Problems.Validation("username is required (at most 64 characters)");
        if (string.IsNullOrEmpty(body.Password) || body.Password.Length < 8) return Problems.Validation("password needs at least 8 characters");
        var role = body.Role switch
        {
            null or "" or "admin" or Roles.EnterpriseAdmin => Roles.EnterpriseAdmin,
            "user" or Roles.EnterpriseUser => Roles.EnterpriseUser,
            _ => null,
        };
        if (role is null) return Problems.Validation("role is enterprise_admin or enterprise_user");
        if (!await db.Enterprises.AnyAsync(e => e.Id == id)) return Problems.NotFound("enterprise");
        if (await db.Users.AnyAsync(u => u.Username == username)) return Problems.Conflict("username-taken", "that username is taken");
        var user = new User { EnterpriseId = id, Username = username, PasswordHash = Secrets.HashPassword(body.Password), Role = role, CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() };
        db.Users.Add(user);
        await db.SaveChangesAsync();
        return Results.Created($"/api/v1/admin/enterprises/{id}/users/{user.Id}", new { id = user.Id });
    }

    private static async Task<IResult> CreateSmppAccountAsync(long id, CreateSmppAccount body, XingeDb db, TimeProvider time)
    {
        // SMPP 3.4 §4.1.1: system_id is at most 15 octets, password at most 8.
        if (string.IsNullOrEmpty(body.SystemId) || body.SystemId.Length > 15 || !body.SystemId.All(c => c is > ' ' and < '\x7f'))
            return Problems.Validation("systemId is 1 to 15 printable ASCII characters");
        if (string.IsNullOrEmpty(body.Password) || body.Password.Length > 8 || !body.Password.All(c => c is > ' ' and < '\x7f'))
            return Problems.Validation("password is 1 to 8 printable ASCII characters (SMPP 3.4 limit)");
        if (body.AllowedIps?.FirstOrDefault(a => !System.Net.IPNetwork.TryParse(a.Contains('/') ? a : a + (a.Contains(':') ? "/128" : "/32"), out _)) is { } badIp)
            return Problems.Validation($"allowedIps: '{badIp}' is not an IP address or CIDR range");
        if (body.MaxBinds is < 0 or > 1000) return Problems.Validation("maxBinds is 0 (no limit) to 1000");
        if (body.MaxTps is < 0 or > 1_000_000) return Problems.Validation("maxTps is 0 (no limit) to 1000000");
        if (!await db.Enterprises.AnyAsync(e => e.Id == id)) return Problems.NotFound("enterprise");
        if (await db.SmppAccounts.AnyAsync(a => a.SystemId == body.SystemId)) return Problems.Conflict("system-id-taken", "that systemId is taken");
        var account = new SmppAccount
        {
            EnterpriseId = id,
            SystemId = body.SystemId,
            PasswordHash = Secrets.HashPassword(body.Password),
            AllowedIps = string.Join(",", body.AllowedIps ?? []),
            MaxBinds = body.MaxBinds ?? 0,
            MaxTps = body.MaxTps ?? 0,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        db.SmppAccounts.Add(account);
        await db.SaveChangesAsync();
        return Results.Created($"/api/v1/admin/enterprises/{id}/smpp-accounts/{account.Id}",
            new { id = account.Id, systemId = account.SystemId, allowedIps = body.AllowedIps ?? [], maxBinds = account.MaxBinds, maxTps = account.MaxTps });
    }
}

/// <summary>On an empty database, creates the operator account <c>admin</c> (CONTRACT.md §1).</summary>
public sealed class OperatorBootstrap(Database database, TokenService tokens, IConfiguration config, TimeProvider time, ILogger<OperatorBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        await database.MigrateAsync(ct);
        await tokens.InitializeAsync(database, ct);
        await using var c = await database.OpenAsync(ct);
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM users WHERE role = @role", new { role = Roles.Operator }) > 0) return;
        var password = config["Xinge:Bootstrap:AdminPassword"];
        var generated = string.IsNullOrEmpty(password);
        if (generated) password = Secrets.Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        await c.ExecuteAsync("INSERT INTO users (enterprise_id, username, password_hash, role, created_at) VALUES (NULL, 'admin', @hash, @role, @at) ON CONFLICT DO NOTHING",
            new { hash = Secrets.HashPassword(password!), role = Roles.Operator, at = time.GetUtcNow().ToUnixTimeMilliseconds() });
        if (generated)
        {
            // Printed once, on purpose: there is no other way to learn it.
            Console.WriteLine($"Operator account created: username admin, password {password}");
        }
        logger.LogInformation("Operator account admin created");
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
