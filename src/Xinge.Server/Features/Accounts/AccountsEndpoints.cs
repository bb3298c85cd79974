using System.Security.Claims;
using Dapper;
using Microsoft.EntityFrameworkCore;
using Xinge.Server.Data;
using Xinge.Server.Features.Billing;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Accounts;

public sealed record TokenRequest(string? Username, string? Password);
public sealed record ChangePassword(string? CurrentPassword, string? NewPassword);
public sealed record ResetPassword(string? Password);
public sealed record RoleRightsRequest(string[]? Rights);

public sealed record TokenView(string Token, DateTimeOffset ExpiresAt, string Role, long? EnterpriseId, bool MustChangePassword, string? Language = null);
public sealed record LanguageRequest(string? Language);
public sealed record LanguageView(string Language);
public sealed record EnterpriseView(long Id, string Name, string LicenceNumber, bool Verified, long Balance, long Reserved, int UnitPrice, string Extension, bool Suspended,
    string? VerificationNote = null, bool ReviewExempt = false, int MaxHotlines = 1);
public sealed record UpdateEnterprise(bool? Suspended, int? UnitPrice, bool? ReviewExempt, int? MaxHotlines);
public sealed record VerificationRejection(string? Reason);
public sealed record EnterpriseCreated(long Id, string Extension);
public sealed record EnterpriseVerified(long Id, bool Verified);
public sealed record CreditView(long Balance);
public sealed record KeyCreated(long Id, string Key);
public sealed record ApiKeyView(long Id, string Prefix, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);
public sealed record UserView(long Id, long? EnterpriseId, string Username, string Role, bool Disabled, bool MustChangePassword, DateTimeOffset CreatedAt);
public sealed record UserCreated(long Id);
public sealed record UserDisabled(long Id, bool Disabled);
public sealed record PasswordReset(long Id, bool MustChangePassword);
public sealed record SmppAccountCreated(long Id, string SystemId, IReadOnlyList<string> AllowedIps, int MaxBinds, int MaxTps);
public sealed record SmppAccountView(long Id, string SystemId, IReadOnlyList<string> AllowedIps, int MaxBinds, int MaxTps, DateTimeOffset CreatedAt);
public sealed record RoleView(string Role, string Scope, IReadOnlyList<string> Rights);
public sealed record RightView(string Name, string Scope, string Description);
public sealed record RolesView(IReadOnlyList<RoleView> Items, IReadOnlyList<RightView> Rights);
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
        services.AddSingleton<Revocations>();
        services.AddSingleton<LoginGuard>();
        services.AddSingleton<AuditLog>();
        services.AddAuthentication(BearerAuthentication.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, BearerAuthentication>(BearerAuthentication.SchemeName, null);
        services.AddSingleton<RoleRights>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, RightHandler>();
        var authorization = services.AddAuthorizationBuilder()
            // CONTRACT.md: /metrics is anonymous from loopback (the node's own scraper), needs the right otherwise.
            .AddPolicy("metrics", p => p.AddRequirements(new Microsoft.AspNetCore.Authorization.Infrastructure.AssertionRequirement(ctx =>
                ctx.Resource is HttpContext http && http.Connection.RemoteIpAddress is { } ip && System.Net.IPAddress.IsLoopback(ip)
                || ctx.User.Identity?.IsAuthenticated == true && ctx.Resource is HttpContext h && h.RequestServices.GetRequiredService<RoleRights>().Has(Caller.From(ctx.User).Role, Rights.MetricsRead))))
            // The caller acts for an enterprise (an enterprise user or API key); each endpoint names its right besides.
            .AddPolicy("enterprise", p => p.RequireClaim(Caller.EnterpriseClaim))
            .AddPolicy("integration", p => p.RequireRole(Roles.Integration));
        foreach (var right in Rights.All) authorization.AddPolicy(right.Name, p => p.RequireAuthenticatedUser().AddRequirements(new RightRequirement(right.Name)));
        services.AddHostedService<OperatorBootstrap>();
        // After the bootstrap: the schema is there.
        services.AddHostedService<RevocationWatcher>();
        return services;
    }

    /// <summary>
    /// A person whose password an operator set signs in to change it and nothing else: until then their token opens
    /// only <c>/auth/password</c> and <c>/auth/logout</c>.
    /// </summary>
    public static IApplicationBuilder UsePasswordChangeGate(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (http.User.HasClaim(Caller.MustChangeClaim, "true") && http.Request.Path is var path
            && !path.Equals("/api/v1/auth/password", StringComparison.OrdinalIgnoreCase) && !path.Equals("/api/v1/auth/logout", StringComparison.OrdinalIgnoreCase)
            && !path.Equals("/api/v1/auth/language", StringComparison.OrdinalIgnoreCase))
        {
            if (path.StartsWithSegments("/api"))
            {
                await Problems.Of(403, "password-change-required", "Forbidden", "change the password first: POST /api/v1/auth/password").ExecuteAsync(http);
                return;
            }
            // In the portal: the password page, its style sheet and sign-out; every other page leads there.
            if (!path.Equals("/account/password", StringComparison.OrdinalIgnoreCase) && !path.Equals("/signout", StringComparison.OrdinalIgnoreCase)
                && !path.Equals("/portal.css", StringComparison.OrdinalIgnoreCase) && !path.StartsWithSegments("/_framework"))
            {
                http.Response.Redirect("/account/password");
                return;
            }
        }
        await next(http);
    });

    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapPost("/auth/token", IssueTokenAsync).AllowAnonymous().WithTags("Auth").Produces<TokenView>().ProducesProblem(400).ProducesProblem(401).ProducesProblem(429);
        api.MapPost("/auth/logout", LogoutAsync).RequireAuthorization().WithTags("Auth").Produces(204).ProducesProblem(400);
        api.MapPut("/auth/language", SetLanguageAsync).RequireAuthorization().WithTags("Auth").Produces<LanguageView>().ProducesProblem(400);
        api.MapPost("/auth/password", ChangePasswordAsync).RequireAuthorization().WithTags("Auth").Produces<TokenView>().ProducesProblem(400).ProducesProblem(422).ProducesProblem(429);

        // Platform staff: each call names its right (RoleRights), the role decides nothing by itself.
        var admin = api.MapGroup("/admin").RequireAuthorization().WithTags("Operator");
        admin.MapPost("/enterprises", CreateEnterpriseAsync).RequireAuthorization(Rights.EnterprisesManage).Produces<EnterpriseCreated>(201).ProducesProblem(400).ProducesProblem(409);
        admin.MapGet("/enterprises", ListEnterprisesAsync).RequireAuthorization(Rights.EnterprisesRead).Produces<Page<EnterpriseView>>().ProducesProblem(400);
        admin.MapGet("/enterprises/{id:long}", async (long id, XingeDb db) =>
            await db.Enterprises.FindAsync(id) is { } e ? Results.Ok(View(e)) : Problems.NotFound("enterprise")).RequireAuthorization(Rights.EnterprisesRead)
            .Produces<EnterpriseView>().ProducesProblem(404);
        admin.MapPatch("/enterprises/{id:long}", UpdateEnterpriseAsync).RequireAuthorization(Rights.EnterprisesManage).Produces<EnterpriseView>().ProducesProblem(400).ProducesProblem(404);
        admin.MapPost("/enterprises/{id:long}/verify", async (long id, XingeDb db, AuditLog audit, HttpContext http) =>
        {
            if (await db.Enterprises.Where(e => e.Id == id).ExecuteUpdateAsync(s => s.SetProperty(e => e.Verified, true).SetProperty(e => e.VerificationNote, (string?)null)) != 1)
                return Problems.NotFound("enterprise");
            await audit.RecordAsync(http, "enterprise.verified", $"enterprise:{id}", enterpriseId: id);
            return Results.Ok(new EnterpriseVerified(id, true));
        }).RequireAuthorization(Rights.EnterprisesManage).Produces<EnterpriseVerified>().ProducesProblem(404);
        admin.MapPost("/enterprises/{id:long}/reject-verification", RejectVerificationAsync).RequireAuthorization(Rights.EnterprisesManage)
            .Produces<EnterpriseVerified>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        admin.MapPost("/enterprises/{id:long}/credit", CreditAsync).RequireAuthorization(Rights.BillingCredit).Produces<CreditView>().ProducesProblem(400).ProducesProblem(404);
        admin.MapPost("/enterprises/{id:long}/api-keys", CreateApiKeyAsync).RequireAuthorization(Rights.KeysManage).Produces<KeyCreated>(201).ProducesProblem(404);
        admin.MapGet("/enterprises/{id:long}/api-keys", async (long id, XingeDb db) =>
            await db.Enterprises.AnyAsync(e => e.Id == id) ? Results.Ok(await ListKeysAsync(db, id)) : Problems.NotFound("enterprise")).RequireAuthorization(Rights.KeysManage)
            .Produces<Page<ApiKeyView>>().ProducesProblem(404);
        admin.MapDelete("/enterprises/{id:long}/api-keys/{keyId:long}", (long id, long keyId, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http) =>
            RevokeKeyAsync(id, keyId, database, revocations, audit, time, http)).RequireAuthorization(Rights.KeysManage).Produces(204).ProducesProblem(404);
        admin.MapPost("/enterprises/{id:long}/users", CreateUserAsync).RequireAuthorization(Rights.UsersManage).Produces<UserCreated>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        admin.MapGet("/enterprises/{id:long}/users", async (long id, XingeDb db) =>
            await db.Enterprises.AnyAsync(e => e.Id == id) ? Results.Ok(await UsersOfAsync(db, id)) : Problems.NotFound("enterprise"))
            .RequireAuthorization(Rights.UsersManage).Produces<Page<UserView>>().ProducesProblem(404);
        admin.MapGet("/users", async (XingeDb db) => Results.Ok(await UsersOfAsync(db, null))).RequireAuthorization(Rights.UsersManage).Produces<Page<UserView>>();
        admin.MapPost("/users", CreateStaffAsync).RequireAuthorization(Rights.UsersManage).Produces<UserCreated>(201).ProducesProblem(400).ProducesProblem(409);
        admin.MapGet("/users/{userId:long}", async (long userId, XingeDb db) =>
            await db.Users.FindAsync(userId) is { } u ? Results.Ok(ViewOf(u)) : Problems.NotFound("user")).RequireAuthorization(Rights.UsersManage)
            .Produces<UserView>().ProducesProblem(404);
        admin.MapPost("/users/{userId:long}/disable", (long userId, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http) =>
            SetDisabledAsync(userId, true, database, revocations, audit, time, http)).RequireAuthorization(Rights.UsersManage).Produces<UserDisabled>().ProducesProblem(404).ProducesProblem(422);
        admin.MapPost("/users/{userId:long}/enable", (long userId, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http) =>
            SetDisabledAsync(userId, false, database, revocations, audit, time, http)).RequireAuthorization(Rights.UsersManage).Produces<UserDisabled>().ProducesProblem(404).ProducesProblem(422);
        admin.MapPost("/users/{userId:long}/password", (long userId, ResetPassword body, XingeDb db, Database database, Revocations revocations, AuditLog audit,
            TimeProvider time, HttpContext http) => ResetPasswordAsync(null, userId, body, db, database, revocations, audit, time, http)).RequireAuthorization(Rights.UsersManage)
            .Produces<PasswordReset>().ProducesProblem(400).ProducesProblem(404);
        admin.MapPost("/enterprises/{id:long}/smpp-accounts", CreateSmppAccountAsync).RequireAuthorization(Rights.SmppManage)
            .Produces<SmppAccountCreated>(201).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        admin.MapGet("/enterprises/{id:long}/smpp-accounts", async (long id, XingeDb db) => await db.Enterprises.AnyAsync(e => e.Id == id)
                ? Results.Ok(new Page<SmppAccountView>((await db.SmppAccounts.AsNoTracking().Where(a => a.EnterpriseId == id).OrderBy(a => a.Id).ToListAsync())
                    .Select(a => new SmppAccountView(a.Id, a.SystemId, a.AllowedIps.Split(',', StringSplitOptions.RemoveEmptyEntries), a.MaxBinds, a.MaxTps,
                        DateTimeOffset.FromUnixTimeMilliseconds(a.CreatedAt))).ToList(), null))
                : Problems.NotFound("enterprise"))
            .RequireAuthorization(Rights.SmppManage).Produces<Page<SmppAccountView>>().ProducesProblem(404);
        admin.MapDelete("/enterprises/{id:long}/smpp-accounts/{accountId:long}", RemoveSmppAccountAsync).RequireAuthorization(Rights.SmppManage).Produces(204).ProducesProblem(404);
        admin.MapPost("/integration-keys", CreateIntegrationKeyAsync).RequireAuthorization(Rights.KeysManage).Produces<KeyCreated>(201).ProducesProblem(400);
        admin.MapGet("/integration-keys", async (XingeDb db) => Results.Ok(await ListKeysAsync(db, null))).RequireAuthorization(Rights.KeysManage).Produces<Page<ApiKeyView>>();
        admin.MapDelete("/integration-keys/{keyId:long}", (long keyId, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http) =>
            RevokeKeyAsync(null, keyId, database, revocations, audit, time, http)).RequireAuthorization(Rights.KeysManage).Produces(204).ProducesProblem(404);
        admin.MapGet("/audit", QueryAuditAsync).RequireAuthorization(Rights.AuditRead).Produces<Page<AuditView>>().ProducesProblem(400);
        admin.MapGet("/roles", GetRoles).RequireAuthorization(Rights.RolesManage).Produces<RolesView>();
        admin.MapPut("/roles/{role}", SetRoleAsync).RequireAuthorization(Rights.RolesManage).Produces<RoleView>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(422);

        var enterprise = api.MapGroup("").RequireAuthorization("enterprise").WithTags("Enterprise");
        enterprise.MapGet("/api-keys", async (ClaimsPrincipal user, XingeDb db) => Results.Ok(await ListKeysAsync(db, Caller.From(user).Enterprise)))
            .RequireAuthorization(Rights.KeysOwn).Produces<Page<ApiKeyView>>();
        enterprise.MapDelete("/api-keys/{keyId:long}", (long keyId, ClaimsPrincipal user, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http) =>
            RevokeKeyAsync(Caller.From(user).Enterprise, keyId, database, revocations, audit, time, http)).RequireAuthorization(Rights.KeysOwn).Produces(204).ProducesProblem(404);
        // An enterprise administrator's own people.
        enterprise.MapGet("/users", async (ClaimsPrincipal user, XingeDb db) => Results.Ok(await UsersOfAsync(db, Caller.From(user).Enterprise)))
            .RequireAuthorization(Rights.UsersOwn).Produces<Page<UserView>>();
        enterprise.MapPost("/users", (CreateUser body, ClaimsPrincipal user, XingeDb db, TimeProvider time, AuditLog audit, HttpContext http) =>
            CreateUserAsync(Caller.From(user).Enterprise, body, db, time, audit, http)).RequireAuthorization(Rights.UsersOwn)
            .Produces<UserCreated>(201).ProducesProblem(400).ProducesProblem(409);
        enterprise.MapPost("/users/{userId:long}/disable", (long userId, ClaimsPrincipal user, Database database, Revocations revocations, AuditLog audit, TimeProvider time,
            HttpContext http) => SetDisabledAsync(userId, true, database, revocations, audit, time, http, Caller.From(user).Enterprise)).RequireAuthorization(Rights.UsersOwn)
            .Produces<UserDisabled>().ProducesProblem(404).ProducesProblem(422);
        enterprise.MapPost("/users/{userId:long}/enable", (long userId, ClaimsPrincipal user, Database database, Revocations revocations, AuditLog audit, TimeProvider time,
            HttpContext http) => SetDisabledAsync(userId, false, database, revocations, audit, time, http, Caller.From(user).Enterprise)).RequireAuthorization(Rights.UsersOwn)
            .Produces<UserDisabled>().ProducesProblem(404).ProducesProblem(422);
        enterprise.MapPost("/users/{userId:long}/password", (long userId, ResetPassword body, ClaimsPrincipal user, XingeDb db, Database database, Revocations revocations,
            AuditLog audit, TimeProvider time, HttpContext http) =>
            ResetPasswordAsync(Caller.From(user).Enterprise, userId, body, db, database, revocations, audit, time, http)).RequireAuthorization(Rights.UsersOwn)
            .Produces<PasswordReset>().ProducesProblem(400).ProducesProblem(404);
        return app;
    }

    /// <summary>The operator does not verify the enterprise yet, and says why; it sends a better document and asks again.</summary>
    private static async Task<IResult> RejectVerificationAsync(long id, VerificationRejection? body, XingeDb db, AuditLog audit, HttpContext http)
    {
        var reason = body?.Reason?.Trim();
        if (string.IsNullOrEmpty(reason) || reason.Length > 500 || Input.HasHiddenCharacters(reason, lineBreaks: true))
            return Problems.Validation("reason is required: at most 500 characters, no control characters");
        if (await db.Enterprises.Where(e => e.Id == id && !e.Verified).ExecuteUpdateAsync(s => s.SetProperty(e => e.VerificationNote, reason)) == 0)
        {
            return await db.Enterprises.AnyAsync(e => e.Id == id)
                ? Problems.Conflict("already-verified", "the enterprise is verified already")
                : Problems.NotFound("enterprise");
        }
        await audit.RecordAsync(http, "enterprise.verification_rejected", $"enterprise:{id}", detail: reason, enterpriseId: id);
        return Results.Ok(new EnterpriseVerified(id, false));
    }

    /// <summary>Removes an SMPP account: it binds no more, and its sessions close on every node within a second.</summary>
    private static async Task<IResult> RemoveSmppAccountAsync(long id, long accountId, Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var systemId = await c.QuerySingleOrDefaultAsync<string>(
            "DELETE FROM smpp_accounts WHERE id = @accountId AND enterprise_id = @id RETURNING system_id", new { id, accountId }, tx);
        if (systemId is null) return Problems.NotFound("SMPP account");
        await revocations.CommitAsync(c, tx, RevocationKind.SmppAccount, systemId);
        await audit.RecordAsync(http, "smpp_account.removed", "smpp:" + systemId, enterpriseId: id);
        return Results.NoContent();
    }

    /// <summary>A page of enterprises, newest first, optionally those whose name or licence number contains <paramref name="q"/>.</summary>
    private static async Task<IResult> ListEnterprisesAsync(string? q, string? cursor, int? limit, XingeDb db)
    {
        if (!Cursor.TryRead(cursor, out var before)) return Problems.Validation("cursor is not one this API gave");
        if (limit is < 1 or > 1000) return Problems.Validation("limit is 1 to 1000");
        if (q is { Length: > 100 }) return Problems.Validation("q is at most 100 characters");
        var take = limit ?? 100;
        var query = db.Enterprises.AsNoTracking();
        if (before is { } b) query = query.Where(e => e.Id < b);
        if (!string.IsNullOrWhiteSpace(q)) query = query.Where(e => e.Name.Contains(q.Trim()) || e.LicenceNumber.Contains(q.Trim()));
        var rows = await query.OrderByDescending(e => e.Id).Take(take + 1).ToListAsync();
        var more = rows.Count > take;
        if (more) rows.RemoveAt(take);
        return Results.Ok(new Page<EnterpriseView>(rows.Select(View).ToList(), more ? Cursor.Of(rows[^1].Id) : null));
    }

    private static string Clip(string? s) => s is null ? "null" : s.Length > 40 ? s[..40] + "…" : s;

    private static EnterpriseView View(Enterprise e) =>
        new(e.Id, e.Name, e.LicenceNumber, e.Verified, e.Balance, e.Reserved, e.UnitPrice, e.Extension, e.Suspended, e.VerificationNote, e.ReviewExempt, e.MaxHotlines);

    /// <summary>
    /// The operator changes an enterprise's terms: suspends or resumes its sending, sets its price per billing unit.
    /// Every node forgets what it cached of the enterprise within a second (a revocation of kind enterprise).
    /// </summary>
    private static async Task<IResult> UpdateEnterpriseAsync(long id, UpdateEnterprise body, Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        if (body is { Suspended: null, UnitPrice: null, ReviewExempt: null, MaxHotlines: null }) return Problems.Validation("give any of suspended, unitPrice, reviewExempt, maxHotlines");
        if (body.UnitPrice is < 0 or > 100_000) return Problems.Validation("unitPrice is fen per billing unit, 0 to 100000");
        if (body.MaxHotlines is < 0 or > 1000) return Problems.Validation("maxHotlines is 0 to 1000");
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var changed = await c.ExecuteAsync(
            "UPDATE enterprises SET suspended = COALESCE(@suspended, suspended), unit_price = COALESCE(@unitPrice, unit_price), " +
            "review_exempt = COALESCE(@reviewExempt, review_exempt), max_hotlines = COALESCE(@maxHotlines, max_hotlines) WHERE id = @id",
            new { id, suspended = body.Suspended, unitPrice = body.UnitPrice, reviewExempt = body.ReviewExempt, maxHotlines = body.MaxHotlines }, tx);
        if (changed == 0) return Problems.NotFound("enterprise");
        await revocations.CommitAsync(c, tx, RevocationKind.Enterprise, id.ToString());
        var what = string.Join(", ", new[]
        {
            body.Suspended is { } s ? (s ? "suspended" : "resumed") : null,
            body.UnitPrice is { } p ? $"unit price {p} fen" : null,
            body.ReviewExempt is { } x ? (x ? "review-exempt" : "reviewed") : null,
            body.MaxHotlines is { } h ? $"{h} hotlines" : null,
        }.OfType<string>());
        await audit.RecordAsync(http, "enterprise.updated", $"enterprise:{id}", detail: what, enterpriseId: id);
        var e = await c.QuerySingleAsync<Enterprise>(
            "SELECT id AS Id, name AS Name, licence_number AS LicenceNumber, verified AS Verified, balance AS Balance, reserved AS Reserved, unit_price AS UnitPrice, " +
            "extension AS Extension, suspended AS Suspended, verification_note AS VerificationNote, review_exempt AS ReviewExempt, max_hotlines AS MaxHotlines FROM enterprises WHERE id = @id", new { id });
        return Results.Ok(View(e));
    }

    private static UserView ViewOf(User u) =>
        new(u.Id, u.EnterpriseId, u.Username, u.Role, u.Disabled, u.MustChangePassword, DateTimeOffset.FromUnixTimeMilliseconds(u.CreatedAt));

    /// <summary>An enterprise's people, or with no enterprise the platform's staff.</summary>
    private static async Task<Page<UserView>> UsersOfAsync(XingeDb db, long? enterpriseId) =>
        new((await db.Users.AsNoTracking().Where(u => u.EnterpriseId == enterpriseId && u.Role != Roles.Subscriber).OrderBy(u => u.Id).Take(1000).ToListAsync()).Select(ViewOf).ToList(), null);

    /// <summary>
    /// Sign-in. Throttled per account and address (<see cref="LoginGuard"/>); an unknown user costs the same password
    /// check as a known one; every outcome is in the audit log, the answer never says which part was wrong.
    /// </summary>
    private static async Task<IResult> IssueTokenAsync(TokenRequest body, XingeDb db, TokenService tokens, LoginGuard guard, AuditLog audit, TimeProvider time, HttpContext http)
    {
        if (string.IsNullOrEmpty(body.Username) || string.IsNullOrEmpty(body.Password)) return Problems.Validation("username and password are required");
        if (body.Username.Length > 64 || body.Password.Length > 256) return Problems.Of(401, "invalid-credentials", "Unauthorized", "the username or password is wrong");
        var source = AuditLog.SourceOf(http);
        var actor = "user:" + body.Username;
        // Issued as of now, before the user is read: a password change or a disable that commits while this sign-in
        // runs is later than the token, so it ends it.
        var issuedAt = time.GetUtcNow();
        if (guard.Attempt(actor, source, out var firstRefusal) is { } wait)
        {
            // Once per lock: refused attempts cost nothing, so they must not each cost a row.
            if (firstRefusal) await audit.RecordAsync(actor, "auth.login", actor, source, Outcome.Denied, "too many failed attempts");
            return TooManyAttempts(http, wait);
        }
        var user = await db.Users.SingleOrDefaultAsync(u => u.Username == body.Username);
        string? failure = null;
        if (user is null)
        {
            await Secrets.VerifyDecoyAsync(body.Password);
            failure = "unknown user";
        }
        else if (!await Secrets.VerifyPasswordAsync(body.Password, user.PasswordHash)) failure = "wrong password";
        else if (user.Disabled) failure = "user disabled";
        if (failure is not null)
        {
            guard.Failed(actor, source);
            await audit.RecordAsync(actor, "auth.login", actor, source, Outcome.Failure, failure, user?.EnterpriseId);
            return Problems.Of(401, "invalid-credentials", "Unauthorized", "the username or password is wrong");
        }
        guard.Succeeded(actor, source);
        if (Secrets.NeedsRehash(user!.PasswordHash))
        {
            var rehashed = await Secrets.HashPasswordAsync(body.Password);
            await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.PasswordHash, rehashed));
        }
        var (token, expiresAt) = tokens.Issue(user, issuedAt);
        await audit.RecordAsync(actor, "auth.login", actor, source, Outcome.Success, null, user.EnterpriseId);
        return Results.Ok(new TokenView(token, expiresAt, user.Role, user.EnterpriseId, user.MustChangePassword, user.Language));
    }

    /// <summary>A person's language in the portal (zh-CN or en), kept with them so that it follows them to any browser.</summary>
    private static async Task<IResult> SetLanguageAsync(LanguageRequest body, ClaimsPrincipal principal, Database database)
    {
        if (Caller.From(principal).UserId is not { } userId) return Problems.Validation("an API key has no language; sign in as a person");
        if (body.Language is not ("zh-CN" or "en")) return Problems.Validation("language is zh-CN or en");
        await using var c = await database.OpenAsync();
        await c.ExecuteAsync("UPDATE users SET language = @language WHERE id = @userId", new { language = body.Language, userId });
        return Results.Ok(new LanguageView(body.Language));
    }

    /// <summary>Ends the session of the token presented, on every node.</summary>
    private static async Task<IResult> LogoutAsync(ClaimsPrincipal principal, Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        var caller = Caller.From(principal);
        if (caller.SessionId is not { } session) return Problems.Validation("only a session token signs out; an API key is revoked with DELETE /api-keys/{id}");
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await revocations.CommitAsync(c, tx, RevocationKind.Session, session);
        await audit.RecordAsync(http, "auth.logout", caller.Name);
        return Results.NoContent();
    }

    /// <summary>A signed-in person changes their own password: every session of theirs ends, and this answer carries a new one.</summary>
    private static async Task<IResult> ChangePasswordAsync(ChangePassword body, ClaimsPrincipal principal, XingeDb db, Database database, TokenService tokens, Revocations revocations,
        LoginGuard guard, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var caller = Caller.From(principal);
        if (caller.UserId is not { } userId || caller.SessionId is null) return Problems.Validation("an API key has no password; sign in as a person");
        if (string.IsNullOrEmpty(body.CurrentPassword) || body.NewPassword is not { } next) return Problems.Validation("currentPassword and newPassword are required");
        if (PasswordProblem(next) is { } problem) return Problems.Validation(problem);
        var source = AuditLog.SourceOf(http);
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId);
        if (user is null || user.Disabled) return Problems.Of(401, "unauthorized", "Unauthorized", "a valid bearer token or API key is required");
        if (guard.Attempt(caller.Name, source) is { } wait)
        {
            return TooManyAttempts(http, wait);
        }
        if (!await Secrets.VerifyPasswordAsync(body.CurrentPassword, user.PasswordHash))
        {
            guard.Failed(caller.Name, source);
            await audit.RecordAsync(http, "auth.password_changed", caller.Name, Outcome.Failure, "wrong current password");
            return Problems.Unprocessable("wrong-password", "currentPassword is wrong");
        }
        guard.Succeeded(caller.Name, source);
        if (body.CurrentPassword == next) return Problems.Validation("the new password must differ from the current one");
        var revoked = await SetPasswordAsync(database, userId, await Secrets.HashPasswordAsync(next), mustChange: false, time);
        revocations.Apply(revoked);
        user.MustChangePassword = false;
        var (token, expiresAt) = tokens.Issue(user);
        await audit.RecordAsync(http, "auth.password_changed", caller.Name);
        return Results.Ok(new TokenView(token, expiresAt, user.Role, user.EnterpriseId, false, user.Language));
    }

    /// <summary>An operator sets a user's password: the user must change it at the next sign-in, and their sessions end.</summary>
    /// <summary>
    /// Someone else sets a user's password (an operator; an enterprise admin for its own enterprise's users, given by
    /// <paramref name="enterpriseId"/>): the user must change it at the next sign-in, and their sessions end.
    /// </summary>
    private static async Task<IResult> ResetPasswordAsync(long? enterpriseId, long userId, ResetPassword body, XingeDb db, Database database, Revocations revocations, AuditLog audit,
        TimeProvider time, HttpContext http)
    {
        if (PasswordProblem(body.Password) is { } weak) return Problems.Validation(weak);
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId);
        if (user is null || (enterpriseId is not null && user.EnterpriseId != enterpriseId)) return Problems.NotFound("user");
        if (!MayActOn(http, user.Role)) return Problems.Forbidden($"only someone above a {user.Role} may reset its password");
        revocations.Apply(await SetPasswordAsync(database, userId, await Secrets.HashPasswordAsync(body.Password!), mustChange: true, time));
        await audit.RecordAsync(http, "user.password_reset", "user:" + user.Username, enterpriseId: user.EnterpriseId);
        return Results.Ok(new PasswordReset(userId, true));
    }

    private static async Task<Revocation> SetPasswordAsync(Database database, long userId, string hash, bool mustChange, TimeProvider time)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("UPDATE users SET password_hash = @hash, must_change_password = @mustChange WHERE id = @userId", new { hash, mustChange, userId }, tx);
        var r = await Revocations.WriteAsync(c, tx, RevocationKind.User, userId.ToString(), now);
        await tx.CommitAsync();
        return r;
    }

    private static async Task<IResult> SetDisabledAsync(long userId, bool disabled, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http,
        long? enterpriseId = null)
    {
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var user = await c.QuerySingleOrDefaultAsync<(string Username, long? EnterpriseId, string Role, string? DisabledBy)>(
            "SELECT username, enterprise_id, role, disabled_by FROM users WHERE id = @userId", new { userId }, tx);
        if (user.Username is null || (enterpriseId is not null && user.EnterpriseId != enterpriseId)) return Problems.NotFound("user");
        if (!MayActOn(http, user.Role)) return Problems.Forbidden($"only someone above a {user.Role} may disable or enable it");
        if (disabled && Caller.From(http.User).UserId == userId) return Problems.Unprocessable("own-account", "nobody disables their own account");
        if (!disabled && enterpriseId is not null && user.DisabledBy == "platform")
            return Problems.Forbidden("the operator disabled this user; only the operator enables it again");
        await c.ExecuteAsync("UPDATE users SET disabled = @disabled, disabled_by = @by WHERE id = @userId",
            new { disabled, by = disabled ? (enterpriseId is null ? "platform" : "enterprise") : null, userId }, tx);
        Revocation? r = disabled ? await Revocations.WriteAsync(c, tx, RevocationKind.User, userId.ToString(), time.GetUtcNow().ToUnixTimeMilliseconds()) : null;
        await tx.CommitAsync();
        if (r is not null) revocations.Apply(r);
        await audit.RecordAsync(http, disabled ? "user.disabled" : "user.enabled", "user:" + user.Username, enterpriseId: user.EnterpriseId);
        return Results.Ok(new UserDisabled(userId, disabled));
    }

    /// <summary>False when a unique name was taken between the check and the insert (two requests at once).</summary>
    private static async Task<bool> SavedUniqueAsync(XingeDb db)
    {
        try
        {
            await db.SaveChangesAsync();
            return true;
        }
        catch (DbUpdateException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether the caller may create or act on a person with this role: only someone who may decide rights acts on an
    /// operator, and only an enterprise administrator on an enterprise administrator. Nobody raises anyone above themselves.
    /// </summary>
    private static bool MayActOn(HttpContext http, string targetRole)
    {
        var caller = Caller.From(http.User);
        return targetRole switch
        {
            Roles.Operator => http.RequestServices.GetRequiredService<RoleRights>().Has(caller.Role, Rights.RolesManage),
            Roles.EnterpriseAdmin => caller.EnterpriseId is null || caller.Role == Roles.EnterpriseAdmin,
            _ => true,
        };
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult TooManyAttempts(HttpContext http, TimeSpan wait)
    {
        var seconds = Math.Ceiling(wait.TotalSeconds);
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Of(429, "too-many-attempts", "Too many attempts", $"too many failed attempts; try again in {seconds} s");
    }

    /// <summary>A new person's login name (visible characters, no spaces; a hotline number may be one) and first password.</summary>
    private static string? PersonProblem(string? username, string? password) =>
        Input.NameProblem(username, "username", 64)
        ?? (username!.Any(char.IsWhiteSpace) ? "username has no spaces (a hotline number may be one)" : null)
        ?? PasswordProblem(password);

    /// <summary>A password a person chooses: long enough, not absurdly long, no control characters.</summary>
    public static string? PasswordProblem(string? password) =>
        password is null ? "password is required"
        : password.Length < 8 ? "a password needs at least 8 characters"
        : password.Length > 256 ? "a password has at most 256 characters"
        : password.Any(char.IsControl) ? "a password may not contain control characters"
        : null;

    /// <summary>An enterprise's API keys, or (no enterprise) the switch's integration keys.</summary>
    private static async Task<Page<ApiKeyView>> ListKeysAsync(XingeDb db, long? enterpriseId)
    {
        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.EnterpriseId == enterpriseId).OrderBy(k => k.Id).ToListAsync();
        return new Page<ApiKeyView>(keys.Select(k => new ApiKeyView(k.Id, k.Prefix, k.Name, DateTimeOffset.FromUnixTimeMilliseconds(k.CreatedAt),
            k.RevokedAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null)).ToList(), null);
    }

    /// <summary>Revokes one of the enterprise's keys (no enterprise: an integration key); a key of another enterprise is not found.</summary>
    private static async Task<IResult> RevokeKeyAsync(long? enterpriseId, long keyId, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var key = await c.QuerySingleOrDefaultAsync<(string Hash, string Prefix, bool Revoked)>(
            "SELECT key_hash, prefix, revoked FROM api_keys WHERE id = @keyId AND " + (enterpriseId is null ? "enterprise_id IS NULL" : "enterprise_id = @enterpriseId"),
            new { keyId, enterpriseId }, tx);
        if (key.Hash is null) return Problems.NotFound("api key");
        if (key.Revoked) return Results.NoContent();
        await c.ExecuteAsync("UPDATE api_keys SET revoked = @yes, revoked_at = @now WHERE id = @keyId", new { yes = true, now, keyId }, tx);
        var r = await Revocations.WriteAsync(c, tx, RevocationKind.ApiKey, key.Hash, now);
        await tx.CommitAsync();
        revocations.Apply(r);
        await audit.RecordAsync(http, "api_key.revoked", "key:" + key.Prefix, enterpriseId: enterpriseId);
        return Results.NoContent();
    }

    private static IResult GetRoles(RoleRights rights) => Results.Ok(new RolesView(
        Rights.RoleScopes.Select(r => new RoleView(r.Key, r.Value, (rights.Current.TryGetValue(r.Key, out var granted) ? granted : []).Order().ToArray())).ToList(),
        Rights.All.Select(r => new RightView(r.Name, r.Scope, r.Description)).ToList()));

    /// <summary>
    /// The operator decides a role's rights, whole: only rights of the role's scope, and the operator role keeps the
    /// right to decide (nobody locks the platform out of its own settings). Every node follows within a second.
    /// </summary>
    private static async Task<IResult> SetRoleAsync(string role, RoleRightsRequest body, Database database, RoleRights rights, Revocations revocations, AuditLog audit,
        TimeProvider time, HttpContext http)
    {
        if (!Rights.RoleScopes.TryGetValue(role, out var scope)) return Problems.NotFound("role");
        if (body.Rights is null || body.Rights.Length > 100) return Problems.Validation("rights is the list of the role's rights");
        var wanted = body.Rights.Distinct().ToList();
        if (wanted.Any(r => r is null || !Rights.ByName.ContainsKey(r)))
            return Problems.Validation($"unknown right '{Clip(wanted.First(r => r is null || !Rights.ByName.ContainsKey(r)))}'; GET /admin/roles lists them");
        if (wanted.FirstOrDefault(r => Rights.ByName[r].Scope != scope) is { } foreign)
            return Problems.Unprocessable("right-out-of-scope", $"{foreign} is a {Rights.ByName[foreign].Scope} right; {role} may have {scope} rights only");
        if (role == Roles.Operator && !wanted.Contains(Rights.RolesManage))
            return Problems.Unprocessable("locks-out-operator", $"the operator role keeps {Rights.RolesManage}");
        await using (var c = await database.OpenAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync("DELETE FROM role_rights WHERE role = @role", new { role }, tx);
            foreach (var right in wanted) await c.ExecuteAsync("INSERT INTO role_rights (role, right_name) VALUES (@role, @right) ON CONFLICT DO NOTHING", new { role, right }, tx);
            revocations.Apply(await Revocations.WriteAsync(c, tx, RevocationKind.Rights, role, time.GetUtcNow().ToUnixTimeMilliseconds()));
            await tx.CommitAsync();
        }
        await rights.LoadAsync();
        await audit.RecordAsync(http, "role.rights_set", "role:" + role, detail: string.Join(",", wanted.Order()));
        return Results.Ok(new RoleView(role, scope, wanted.Order().ToArray()));
    }

    /// <summary>Platform staff: another operator or a customer-service agent, who changes the password at the first sign-in.</summary>
    private static async Task<IResult> CreateStaffAsync(CreateUser body, XingeDb db, TimeProvider time, AuditLog audit, HttpContext http)
    {
        var username = body.Username?.Trim();
        if (PersonProblem(username, body.Password) is { } problem) return Problems.Validation(problem);
        if (body.Role is not (Roles.Operator or Roles.CustomerService)) return Problems.Validation("role is operator or customer_service (enterprise users are created under their enterprise)");
        if (!MayActOn(http, body.Role)) return Problems.Forbidden($"creating an {body.Role} takes the right {Rights.RolesManage}");
        if (await db.Users.AnyAsync(u => u.Username == username)) return Problems.Conflict("username-taken", "that username is taken");
        var user = new User
        {
            Username = username!,
            PasswordHash = await Secrets.HashPasswordAsync(body.Password!),
            Role = body.Role,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            MustChangePassword = true,
        };
        db.Users.Add(user);
        if (!await SavedUniqueAsync(db)) return Problems.Conflict("username-taken", "that username is taken");
        await audit.RecordAsync(http, "user.created", "user:" + username, detail: body.Role);
        return Results.Created($"/api/v1/admin/users/{user.Id}", new UserCreated(user.Id));
    }

    private static async Task<IResult> QueryAuditAsync(AuditLog audit, string? actor, string? action, DateTimeOffset? since, DateTimeOffset? until, string? cursor, int? limit)
    {
        if (!Messaging.Cursor.TryRead(cursor, out var before)) return Problems.Validation("cursor is the next value of a previous page");
        if (limit is < 1 or > 1000) return Problems.Validation("limit is 1 to 1000");
        if (actor?.Length > 200 || action?.Length > 100) return Problems.Validation("actor and action are at most 200 and 100 characters");
        return Results.Ok(await audit.QueryAsync(actor, action, since?.ToUnixTimeMilliseconds(), until?.ToUnixTimeMilliseconds(), before, limit ?? 100));
    }

    private static async Task<IResult> CreateEnterpriseAsync(CreateEnterprise body, XingeDb db, Database database, TimeProvider time, IConfiguration config, AuditLog audit,
        IEnterpriseHotlines hotlineBook, HttpContext http)
    {
        var name = body.Name?.Trim();
        if (Input.NameProblem(name, "name", 100) is { } nameProblem) return Problems.Validation(nameProblem);
        var licence = body.LicenceNumber?.Trim().ToUpperInvariant();
        if (string.IsNullOrEmpty(licence) || !Input.IsUnifiedSocialCreditCode(licence))
            return Problems.Validation("licenceNumber is the enterprise's 18-character unified social credit code (统一社会信用代码), with its check character");
        if (body.UnitPrice is < 0 or > 100_000) return Problems.Validation("unitPrice is fen per billing unit, 0 to 100000");
        if (body.MaxHotlines is < 0 or > 1000) return Problems.Validation("maxHotlines is 0 to 1000");
        var hotlines = new List<string>();
        foreach (var raw in body.Hotlines ?? [])
        {
            if (raw is not { Length: <= 32 } || Messaging.PhoneNumbers.ToE164(raw) is not { } hotline) return Problems.Validation($"hotlines: '{Clip(raw)}' is not a phone number");
            hotlines.Add(hotline);
        }
        if (hotlines.Count > (body.MaxHotlines ?? 1000)) return Problems.Validation("more hotlines than maxHotlines");
        if (await db.Enterprises.AnyAsync(e => e.LicenceNumber == licence)) return Problems.Conflict("licence-number-taken", "an enterprise with that licence number exists");
        if (hotlines.Count > 0 && await hotlineBook.TakenAsync(hotlines) is { } taken) return Problems.Conflict("hotline-taken", $"{taken} is a hotline of another enterprise");
        var enterprise = new Enterprise
        {
            Name = name!,
            LicenceNumber = licence,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            UnitPrice = body.UnitPrice ?? config.GetValue("Xinge:Billing:DefaultUnitPrice", 5),
            Extension = "new-" + Guid.NewGuid().ToString("N"),
            MaxHotlines = body.MaxHotlines ?? Math.Max(1, hotlines.Count),
        };
        db.Enterprises.Add(enterprise);
        await db.SaveChangesAsync();
        // R-S1-12: the enterprise's extension to the platform's 106 number is its id, four digits or more.
        var extension = enterprise.Id.ToString("D4");
        await db.Enterprises.Where(e => e.Id == enterprise.Id).ExecuteUpdateAsync(s => s.SetProperty(e => e.Extension, extension));
        await audit.RecordAsync(http, "enterprise.created", $"enterprise:{enterprise.Id}", detail: name, enterpriseId: enterprise.Id);
        if (hotlines.Count > 0 && (await hotlineBook.AddAsync(enterprise.Id, hotlines)).Problem is { } problem) return problem;
        return Results.Created($"/api/v1/admin/enterprises/{enterprise.Id}", new EnterpriseCreated(enterprise.Id, extension));
    }

    private static async Task<IResult> CreditAsync(long id, CreditRequest body, Database database, BillingService billing, TimeProvider time, AuditLog audit, HttpContext http)
    {
        if (body.Amount is not > 0 || body.Amount > 1_000_000_000_00) return Problems.Validation("amount is a positive integer in fen");
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var balance = await billing.CreditAsync(c, tx, id, body.Amount.Value, time.GetUtcNow().ToUnixTimeMilliseconds());
        if (balance is null) return Problems.NotFound("enterprise");
        await tx.CommitAsync();
        await audit.RecordAsync(http, "enterprise.credited", $"enterprise:{id}", detail: $"{body.Amount} fen", enterpriseId: id);
        return Results.Ok(new CreditView(balance.Value));
    }

    private static async Task<IResult> CreateApiKeyAsync(long id, XingeDb db, TimeProvider time, AuditLog audit, HttpContext http)
    {
        if (!await db.Enterprises.AnyAsync(e => e.Id == id)) return Problems.NotFound("enterprise");
        var key = Secrets.NewKey("xk_");
        var row = new ApiKey { EnterpriseId = id, Name = "api", KeyHash = Secrets.Sha256(key), Prefix = key[..7], CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() };
        db.ApiKeys.Add(row);
        await db.SaveChangesAsync();
        await audit.RecordAsync(http, "api_key.created", "key:" + row.Prefix, enterpriseId: id);
        return Results.Created($"/api/v1/admin/enterprises/{id}/api-keys/{row.Id}", new KeyCreated(row.Id, key));
    }

    private static async Task<IResult> CreateIntegrationKeyAsync(CreateIntegrationKey body, XingeDb db, TimeProvider time, AuditLog audit, HttpContext http)
    {
        if (Input.NameProblem(body.Name, "name", 100) is { } nameProblem) return Problems.Validation(nameProblem);
        var key = Secrets.NewKey("xi_");
        var row = new ApiKey { Name = body.Name!.Trim(), KeyHash = Secrets.Sha256(key), Prefix = key[..7], CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() };
        db.ApiKeys.Add(row);
        await db.SaveChangesAsync();
        await audit.RecordAsync(http, "integration_key.created", "key:" + row.Prefix, detail: row.Name);
        return Results.Created("/api/v1/admin/integration-keys", new KeyCreated(row.Id, key));
    }

    private static async Task<IResult> CreateUserAsync(long id, CreateUser body, XingeDb db, TimeProvider time, AuditLog audit, HttpContext http)
    {
        var username = body.Username?.Trim();
        if (PersonProblem(username, body.Password) is { } problem) return Problems.Validation(problem);
        var role = body.Role switch
        {
            null or "" or "admin" or Roles.EnterpriseAdmin => Roles.EnterpriseAdmin,
            "user" or Roles.EnterpriseUser => Roles.EnterpriseUser,
            _ => null,
        };
        if (role is null) return Problems.Validation("role is enterprise_admin or enterprise_user");
        if (!MayActOn(http, role)) return Problems.Forbidden("only an enterprise administrator creates another");
        var (userId, refused) = await IssueLoginAsync(db, id, username!, body.Password!, role, time);
        if (refused is not null) return refused;
        await audit.RecordAsync(http, "user.created", "user:" + username, detail: role, enterpriseId: id);
        return Results.Created($"/api/v1/admin/enterprises/{id}/users/{userId}", new UserCreated(userId));
    }

    /// <summary>What is wrong with a new login's name and first password, if anything.</summary>
    public static string? LoginProblem(string? username, string? password) => PersonProblem(username, password);

    /// <summary>
    /// A person of an enterprise with a password someone else chose (the operator, an administrator, the opening of a
    /// service): they change it at the first sign-in.
    /// </summary>
    public static async Task<(long Id, IResult? Problem)> IssueLoginAsync(XingeDb db, long enterpriseId, string username, string password, string role, TimeProvider time)
    {
        if (!await db.Enterprises.AnyAsync(e => e.Id == enterpriseId)) return (0, Problems.NotFound("enterprise"));
        if (await db.Users.AnyAsync(u => u.Username == username)) return (0, Problems.Conflict("username-taken", $"the username {username} is taken"));
        var user = new User
        {
            EnterpriseId = enterpriseId,
            Username = username,
            PasswordHash = await Secrets.HashPasswordAsync(password),
            Role = role,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            MustChangePassword = true,
        };
        db.Users.Add(user);
        if (!await SavedUniqueAsync(db)) return (0, Problems.Conflict("username-taken", $"the username {username} is taken"));
        return (user.Id, null);
    }

    private static async Task<IResult> CreateSmppAccountAsync(long id, CreateSmppAccount body, XingeDb db, TimeProvider time, AuditLog audit, HttpContext http)
    {
        // SMPP 3.4 §4.1.1: system_id is at most 15 octets, password at most 8.
        if (string.IsNullOrEmpty(body.SystemId) || body.SystemId.Length > 15 || !body.SystemId.All(c => c is > ' ' and < '\x7f'))
            return Problems.Validation("systemId is 1 to 15 printable ASCII characters");
        if (string.IsNullOrEmpty(body.Password) || body.Password.Length > 8 || !body.Password.All(c => c is > ' ' and < '\x7f'))
            return Problems.Validation("password is 1 to 8 printable ASCII characters (SMPP 3.4 limit)");
        if (body.AllowedIps is { Count: > 100 }) return Problems.Validation("allowedIps has at most 100 entries");
        static bool IsRange(string? a) => Input.TryParseAddressRange(a, out _);
        if (body.AllowedIps?.Any(a => !IsRange(a)) == true)
            return Problems.Validation($"allowedIps: '{Clip(body.AllowedIps.First(a => !IsRange(a)))}' is not an IP address or CIDR range");
        if (body.MaxBinds is < 0 or > 1000) return Problems.Validation("maxBinds is 0 (no limit) to 1000");
        if (body.MaxTps is < 0 or > 1_000_000) return Problems.Validation("maxTps is 0 (no limit) to 1000000");
        if (!await db.Enterprises.AnyAsync(e => e.Id == id)) return Problems.NotFound("enterprise");
        if (await db.SmppAccounts.AnyAsync(a => a.SystemId == body.SystemId)) return Problems.Conflict("system-id-taken", "that systemId is taken");
        var account = new SmppAccount
        {
            EnterpriseId = id,
            SystemId = body.SystemId,
            PasswordHash = await Secrets.HashPasswordAsync(body.Password),
            AllowedIps = string.Join(",", body.AllowedIps ?? []),
            MaxBinds = body.MaxBinds ?? 0,
            MaxTps = body.MaxTps ?? 0,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        db.SmppAccounts.Add(account);
        if (!await SavedUniqueAsync(db)) return Problems.Conflict("system-id-taken", "that systemId is taken");
        await audit.RecordAsync(http, "smpp_account.created", "smpp:" + account.SystemId, enterpriseId: id);
        return Results.Created($"/api/v1/admin/enterprises/{id}/smpp-accounts/{account.Id}",
            new SmppAccountCreated(account.Id, account.SystemId, body.AllowedIps ?? [], account.MaxBinds, account.MaxTps));
    }
}

/// <summary>On an empty database, creates the operator account <c>admin</c> (CONTRACT.md §1). The schema is there (<see cref="DatabaseMigrator"/>).</summary>
public sealed class OperatorBootstrap(Database database, TokenService tokens, RoleRights rights, IConfiguration config, TimeProvider time, ILogger<OperatorBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        await tokens.InitializeAsync(database, ct);
        await rights.InitializeAsync(ct);
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
