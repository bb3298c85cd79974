using System.Data.Common;
using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public sealed record FlowLimitView(string Name, int Value, int Platform, bool Own, string Scope, int WindowSeconds);
public sealed record TestNumbersAdd(List<string>? Numbers);
public sealed record TestNumberView(string Msisdn, DateTimeOffset AddedAt);
public sealed record TestNumbersAdded(int Added, List<ListProblem> Invalid);

/// <summary>R-S1-14: the limits in force (the operator sets them per enterprise) and an enterprise's test numbers, which they spare.</summary>
public static class FlowControlEndpoints
{
    public const int MaxTestNumbers = 300;

    public static IServiceCollection AddFlowControl(this IServiceCollection services)
    {
        services.AddSingleton<FlowSettings>();
        services.AddHostedService(sp => sp.GetRequiredService<FlowSettings>());
        services.AddSingleton<FlowBook>();
        services.AddHostedService(sp => sp.GetRequiredService<FlowBook>());
        services.AddSingleton<IStoreGuard, FlowStoreGuard>();
        services.AddSingleton<FlowGate>();
        services.AddHostedService(sp => sp.GetRequiredService<FlowGate>());
        services.AddSingleton<IAdmissionRule, FlowControlRule>();
        return services;
    }

    public static IEndpointRouteBuilder MapFlowControl(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin/enterprises/{id:long}/limits").RequireAuthorization(Rights.EnterprisesManage).WithTags("Operator");
        admin.MapGet("", async (long id, FlowSettings settings, Database database) => await ExistsAsync(database, id) ? await ViewAsync(id, settings) : Problems.NotFound("enterprise"));
        admin.MapPut("", SetAsync);
        var enterprise = app.MapGroup("/api/v1").RequireAuthorization("enterprise").WithTags("Enterprise");
        enterprise.MapGet("/limits", (ClaimsPrincipal user, FlowSettings settings) => ViewAsync(Caller.From(user).Enterprise, settings)).RequireAuthorization(Rights.MessagesRead);
        enterprise.MapGet("/test-numbers", ListTestNumbersAsync).RequireAuthorization(Rights.MessagesRead);
        enterprise.MapPost("/test-numbers", AddTestNumbersAsync).RequireAuthorization(Rights.SignaturesManage);
        enterprise.MapDelete("/test-numbers/{msisdn}", RemoveTestNumberAsync).RequireAuthorization(Rights.SignaturesManage);
        return app;
    }

    private static async Task<bool> ExistsAsync(Database database, long id)
    {
        await using var c = await database.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM enterprises WHERE id = @id", new { id }) > 0;
    }

    /// <summary>
    /// In the transaction of a change to an enterprise's lists: on PostgreSQL its row is locked first, so two changes at
    /// once take turns and a cap is checked against what the other wrote. SQLite writes one at a time anyway.
    /// </summary>
    public static Task LockEnterpriseAsync(DbConnection c, DbTransaction tx, long enterpriseId) =>
        c is Npgsql.NpgsqlConnection ? c.ExecuteAsync("SELECT id FROM enterprises WHERE id = @enterpriseId FOR UPDATE", new { enterpriseId }, tx) : Task.CompletedTask;

    private static async Task<IResult> ViewAsync(long enterpriseId, FlowSettings settings)
    {
        var values = (await settings.ForAsync(enterpriseId, CancellationToken.None)).Limits;
        return Results.Ok(new Page<FlowLimitView>(FlowLimits.All.Select(l => new FlowLimitView(l.Name, values[l.Name], settings.Platform(l), values[l.Name] != settings.Platform(l),
            l.Scope, (int)l.Window.TotalSeconds)).ToList(), null));
    }

    /// <summary>PUT: <c>{name: value}</c> sets the enterprise's own value (0 switches the limit off), <c>{name: null}</c> returns it to the platform's.</summary>
    private static async Task<IResult> SetAsync(long id, Dictionary<string, int?>? body, Database database, FlowSettings settings, Revocations revocations, AuditLog audit, HttpContext http)
    {
        if (body is not { Count: > 0 }) return Problems.Validation("give {name: value} for each limit to set, or null to use the platform's");
        foreach (var (name, value) in body)
        {
            if (FlowLimits.Named(name) is not { } limit || limit == FlowLimits.OtpPlatformPerDay)
                return Problems.Validation($"the limits an enterprise may have of its own are {string.Join(", ", FlowLimits.All.Where(l => l != FlowLimits.OtpPlatformPerDay).Select(l => l.Name))}");
            if (value is < 0 or > 100_000) return Problems.Validation($"{name} is 0 (off) to 100000");
        }
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM enterprises WHERE id = @id", new { id }, tx) == 0) return Problems.NotFound("enterprise");
        foreach (var (name, value) in body)
        {
            if (value is null) await c.ExecuteAsync("DELETE FROM flow_limit_overrides WHERE enterprise_id = @id AND name = @name", new { id, name }, tx);
            else await c.ExecuteAsync("INSERT INTO flow_limit_overrides (enterprise_id, name, value) VALUES (@id, @name, @value) ON CONFLICT (enterprise_id, name) DO UPDATE SET value = excluded.value",
                new { id, name, value }, tx);
        }
        await revocations.CommitAsync(c, tx, RevocationKind.Limits, id.ToString());
        await audit.RecordAsync(http, "limits.changed", $"enterprise:{id}", detail: string.Join(", ", body.Select(kv => $"{kv.Key}={kv.Value?.ToString() ?? "platform"}")), enterpriseId: id);
        return await ViewAsync(id, settings);
    }

    private static async Task<IResult> ListTestNumbersAsync(ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        var rows = await c.QueryAsync<(string Msisdn, long AddedAt)>("SELECT msisdn, added_at FROM test_numbers WHERE enterprise_id = @e ORDER BY msisdn",
            new { e = Caller.From(user).Enterprise });
        return Results.Ok(new Page<TestNumberView>(rows.Select(r => new TestNumberView(r.Msisdn, DateTimeOffset.FromUnixTimeMilliseconds(r.AddedAt))).ToList(), null));
    }

    private static async Task<IResult> AddTestNumbersAsync(TestNumbersAdd body, ClaimsPrincipal user, Database database, Revocations revocations, AuditLog audit, TimeProvider time,
        HttpContext http)
    {
        if (body.Numbers is not { Count: > 0 and <= MaxTestNumbers } numbers) return Problems.Validation($"numbers: 1 to {MaxTestNumbers} phone numbers");
        var invalid = new List<ListProblem>();
        var valid = new HashSet<string>();
        for (var i = 0; i < numbers.Count; i++)
        {
            if (numbers[i] is { Length: <= 32 } raw && Messaging.PhoneNumbers.ToE164(raw) is { } e164) valid.Add(e164);
            else invalid.Add(new ListProblem(i + 1, numbers[i] is { Length: > 40 } s ? s[..40] : numbers[i] ?? "", "invalid_number"));
        }
        var enterpriseId = Caller.From(user).Enterprise;
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await LockEnterpriseAsync(c, tx, enterpriseId);
        foreach (var msisdn in valid)
        {
            await c.ExecuteAsync("INSERT INTO test_numbers (enterprise_id, msisdn, added_at) VALUES (@enterpriseId, @msisdn, @at) ON CONFLICT (enterprise_id, msisdn) DO NOTHING",
                new { enterpriseId, msisdn, at }, tx);
        }
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM test_numbers WHERE enterprise_id = @enterpriseId", new { enterpriseId }, tx) > MaxTestNumbers)
        {
            await tx.RollbackAsync();
            return Problems.Conflict("too-many-test-numbers", $"an enterprise has at most {MaxTestNumbers} test numbers");
        }
        await revocations.CommitAsync(c, tx, RevocationKind.Limits, enterpriseId.ToString());
        await audit.RecordAsync(http, "test_numbers.added", $"{valid.Count} numbers", enterpriseId: enterpriseId);
        return Results.Ok(new TestNumbersAdded(valid.Count, invalid));
    }

    private static async Task<IResult> RemoveTestNumberAsync(string msisdn, ClaimsPrincipal user, Database database, Revocations revocations, AuditLog audit,
        HttpContext http)
    {
        if (Messaging.PhoneNumbers.ToE164(msisdn) is not { } e164) return Problems.NotFound("test number");
        var enterpriseId = Caller.From(user).Enterprise;
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteAsync("DELETE FROM test_numbers WHERE enterprise_id = @enterpriseId AND msisdn = @e164", new { enterpriseId, e164 }, tx) == 0)
            return Problems.NotFound("test number");
        await revocations.CommitAsync(c, tx, RevocationKind.Limits, enterpriseId.ToString());
        await audit.RecordAsync(http, "test_numbers.removed", e164, enterpriseId: enterpriseId);
        return Results.NoContent();
    }
}
