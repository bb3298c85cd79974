using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Compliance;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Routing;

public sealed record SegmentItem(string? Prefix, string? Carrier);
public sealed record SegmentsAdd(List<SegmentItem>? Segments);
public sealed record SegmentView(string Prefix, string Carrier);
public sealed record PortedItem(string? Msisdn, string? Carrier);
public sealed record PortedAdd(List<PortedItem>? Numbers);
public sealed record PortedView(string Msisdn, string Carrier, DateTimeOffset At);
public sealed record RoutingChange(int Added, IReadOnlyList<ListProblem> Invalid);
public sealed record NetworkRoute(string Carrier, string? Connector);
public sealed record CarrierLookup(string Msisdn, string Carrier, string Source, string? Connector);

/// <summary>R-S1-15: the operator's number segments (号段), ported numbers (携号转网) and routes from network to connector.</summary>
public static class RoutingEndpoints
{
    public const int MaxRows = 1_000_000;

    public static IServiceCollection AddCarrierRouting(this IServiceCollection services)
    {
        services.AddSingleton<NumberCarriers>();
        services.AddHostedService(sp => sp.GetRequiredService<NumberCarriers>());
        return services;
    }

    public static IEndpointRouteBuilder MapCarrierRouting(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin").RequireAuthorization(Rights.ConnectorsManage).WithTags("Operator");
        admin.MapGet("/number-segments", ListSegmentsAsync);
        admin.MapPost("/number-segments", AddSegmentsAsync);
        admin.MapPut("/number-segments/import", ImportSegmentsAsync).DisableAntiforgery();
        admin.MapGet("/number-segments/export", (Database database) => Results.Stream(body => Spreadsheet.WriteCsvAsync(body, ["prefix", "carrier"],
            AllAsync(database, "SELECT prefix, carrier FROM number_segments ORDER BY prefix")), "text/csv; charset=utf-8", "number-segments.csv"));
        admin.MapDelete("/number-segments/{prefix}", RemoveSegmentAsync);
        admin.MapGet("/ported-numbers", ListPortedAsync);
        admin.MapPost("/ported-numbers", AddPortedAsync);
        admin.MapPut("/ported-numbers/import", ImportPortedAsync).DisableAntiforgery();
        admin.MapDelete("/ported-numbers/{msisdn}", RemovePortedAsync);
        admin.MapGet("/routes", (NumberCarriers carriers) => Results.Ok(new Page<NetworkRoute>(
            Carrier.All.Select(c => new NetworkRoute(c, carriers.Routes.GetValueOrDefault(c))).ToList(), null)));
        admin.MapPut("/routes", SetRoutesAsync);
        admin.MapGet("/carrier-of/{msisdn}", (string msisdn, NumberCarriers carriers, Connectors.ConnectorRegistry connectors) =>
            Messaging.PhoneNumbers.ToE164(msisdn) is { } e164 && carriers.Find(e164) is var (carrier, source)
                ? Results.Ok(new CarrierLookup(e164, carrier, source, connectors.Route(e164)?.Name))
                : Problems.Validation("msisdn is a phone number"));
        return app;
    }

    /// <summary>A segment as E.164 digits: "139", "+86139" and "86139" are all 86139 (a national Chinese segment starts with 1; "+1…" is North America's).</summary>
    public static string? PrefixOf(string? raw)
    {
        var t = raw?.Trim() ?? "";
        var p = t.TrimStart('+');
        if (p.Length == t.Length && p.StartsWith('1')) p = "86" + p;
        return p.Length is >= 3 and <= 15 && p.All(char.IsAsciiDigit) ? p : null;
    }

    private static async IAsyncEnumerable<string?[]> AllAsync(Database database, string sql)
    {
        await using var c = await database.OpenAsync();
        await using var reader = await c.ExecuteReaderAsync(sql);
        while (await reader.ReadAsync()) yield return [reader.GetString(0), reader.GetString(1)];
    }

    private static async Task<IResult> ListSegmentsAsync(Database database, string? q, string? after, int? limit)
    {
        if (limit is < 1 or > 1000) return Problems.Validation("limit is 1 to 1000");
        var take = limit ?? 100;
        var prefix = q is { Length: > 0 } ? PrefixOf(q) : null;
        if (q is { Length: > 0 } && prefix is null) return Problems.Validation("q is the digits a segment starts with");
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<SegmentView>(
            $"SELECT prefix AS Prefix, carrier AS Carrier FROM number_segments WHERE prefix > @after{(prefix is null ? "" : " AND prefix LIKE @like")} ORDER BY prefix LIMIT @take",
            new { after = after ?? "", like = prefix + "%", take = take + 1 })).ToList();
        var more = rows.Count > take;
        if (more) rows.RemoveAt(take);
        return Results.Ok(new Page<SegmentView>(rows, more ? rows[^1].Prefix : null));
    }

    private static async Task<IResult> AddSegmentsAsync(SegmentsAdd body, Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        if (body.Segments is not { Count: > 0 and <= 10_000 } segments) return Problems.Validation("segments: 1 to 10,000 of {prefix, carrier}");
        var (rows, invalid) = Segments(segments.Select((s, i) => (i + 1, s?.Prefix, s?.Carrier)));
        var added = await StoreAsync(database, revocations, "INSERT INTO number_segments (prefix, carrier) VALUES", "ON CONFLICT (prefix) DO UPDATE SET carrier = excluded.carrier",
            rows, r => [r.Key, r.Value]);
        await audit.RecordAsync(http, "routing.segments_added", $"{added} segments");
        return Results.Ok(new RoutingChange(added, invalid));
    }

    private static (Dictionary<string, string> Rows, List<ListProblem> Invalid) Segments(IEnumerable<(int Line, string? Prefix, string? Carrier)> items)
    {
        var rows = new Dictionary<string, string>();
        var invalid = new List<ListProblem>();
        foreach (var (line, raw, carrier) in items)
        {
            var c = carrier?.Trim().ToLowerInvariant();
            if (PrefixOf(raw) is not { } prefix) invalid.Add(new ListProblem(line, Clip(raw), "a segment is 3 to 15 digits"));
            else if (!Carrier.IsValid(c)) invalid.Add(new ListProblem(line, Clip(carrier), $"carrier is one of {string.Join(", ", Carrier.All)}"));
            else rows[prefix] = c!;
        }
        return (rows, invalid);
    }

    private static string Clip(string? s) => s is null ? "" : s.Length > 40 ? s[..40] : s;

    private static async Task<int> StoreAsync<T>(Database database, Revocations revocations, string insert, string conflict, IReadOnlyCollection<T> rows,
        Func<T, object?[]> values)
    {
        if (rows.Count == 0) return 0;
        using var turn = await database.WriteTurnAsync();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await ManyRows.InsertAsync(c, tx, insert, conflict, rows, values);
        await revocations.CommitAsync(c, tx, RevocationKind.Routing, "");
        return rows.Count;
    }

    private static async Task<IResult> ImportSegmentsAsync(Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        var (file, problem) = await ListFile.ReadAsync(http, value => PrefixOf(value) is null);
        if (file is null) return problem!;
        var (rows, invalid) = Segments(file.Select(r => (r.Line, (string?)r.Value, r.Rest.FirstOrDefault())));
        var added = await StoreAsync(database, revocations, "INSERT INTO number_segments (prefix, carrier) VALUES", "ON CONFLICT (prefix) DO UPDATE SET carrier = excluded.carrier",
            rows, r => [r.Key, r.Value]);
        await audit.RecordAsync(http, "routing.segments_imported", $"{added} segments", detail: $"{invalid.Count} rows refused");
        return Results.Ok(new RoutingChange(added, invalid.Take(1000).ToList()));
    }

    private static async Task<IResult> RemoveSegmentAsync(string prefix, Database database, Revocations revocations, AuditLog audit, HttpContext http) =>
        await RemoveAsync(database, revocations, "DELETE FROM number_segments WHERE prefix = @key", PrefixOf(prefix), "number segment") is { } missing
            ? missing
            : await AuditedAsync(audit, http, "routing.segment_removed", PrefixOf(prefix)!);

    private static async Task<IResult> AuditedAsync(AuditLog audit, HttpContext http, string action, string target)
    {
        await audit.RecordAsync(http, action, target);
        return Results.NoContent();
    }

    /// <summary>Null when removed; a 404 when there was nothing to remove.</summary>
    private static async Task<IResult?> RemoveAsync(Database database, Revocations revocations, string sql, string? key, string what)
    {
        if (key is null) return Problems.NotFound(what);
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteAsync(sql, new { key }, tx) == 0) return Problems.NotFound(what);
        await revocations.CommitAsync(c, tx, RevocationKind.Routing, "");
        return null;
    }

    private const string PortedSelect = "SELECT msisdn AS Msisdn, carrier AS Carrier, at AS At FROM ported_numbers WHERE 1 = 1";

    private static Task<IResult> ListPortedAsync(string? q, string? after, int? limit, Database database) =>
        NumberListQueries.PageAsync<PortedNumber, PortedView>(database, PortedSelect, new { }, q, after, limit, p => p.Msisdn,
            p => new PortedView(p.Msisdn, p.Carrier, DateTimeOffset.FromUnixTimeMilliseconds(p.At)));

    private static (List<(string Msisdn, string Carrier)> Rows, List<ListProblem> Invalid) Ported(IEnumerable<(int Line, string? Msisdn, string? Carrier)> items)
    {
        var invalid = new List<ListProblem>();
        var rows = new List<(int, string, string)>();
        foreach (var (line, msisdn, carrier) in items)
        {
            var c = carrier?.Trim().ToLowerInvariant();
            if (!Carrier.IsValid(c)) invalid.Add(new ListProblem(line, Clip(carrier), $"carrier is one of {string.Join(", ", Carrier.All)}"));
            else rows.Add((line, msisdn ?? "", c!));
        }
        return (ListFile.ValidNumbers(rows, invalid).Select(v => (v.Msisdn, v.Row)).ToList(), invalid);
    }

    private const string PortedInsert = "INSERT INTO ported_numbers (msisdn, carrier, at) VALUES";
    private const string PortedConflict = "ON CONFLICT (msisdn) DO UPDATE SET carrier = excluded.carrier, at = excluded.at";

    private static async Task<IResult> AddPortedAsync(PortedAdd body, Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http)
    {
        if (body.Numbers is not { Count: > 0 and <= 10_000 } numbers) return Problems.Validation("numbers: 1 to 10,000 of {msisdn, carrier}");
        var (rows, invalid) = Ported(numbers.Select((n, i) => (i + 1, n?.Msisdn, n?.Carrier)));
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        var added = await StoreAsync(database, revocations, PortedInsert, PortedConflict, rows, r => [r.Msisdn, r.Carrier, at]);
        await audit.RecordAsync(http, "routing.ported_added", $"{added} numbers");
        return Results.Ok(new RoutingChange(added, invalid));
    }

    private static async Task<IResult> ImportPortedAsync(Database database, Revocations revocations, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var (file, problem) = await ListFile.ReadAsync(http);
        if (file is null) return problem!;
        var (rows, invalid) = Ported(file.Select(r => (r.Line, (string?)r.Value, r.Rest.FirstOrDefault())));
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        var added = await StoreAsync(database, revocations, PortedInsert, PortedConflict, rows, r => [r.Msisdn, r.Carrier, at]);
        await audit.RecordAsync(http, "routing.ported_imported", $"{added} numbers", detail: $"{invalid.Count} rows refused");
        return Results.Ok(new RoutingChange(added, invalid.OrderBy(p => p.Line).Take(1000).ToList()));
    }

    private static async Task<IResult> RemovePortedAsync(string msisdn, Database database, Revocations revocations, AuditLog audit, HttpContext http)
    {
        var e164 = Messaging.PhoneNumbers.ToE164(msisdn);
        return await RemoveAsync(database, revocations, "DELETE FROM ported_numbers WHERE msisdn = @key", e164, "ported number") is { } missing
            ? missing
            : await AuditedAsync(audit, http, "routing.ported_removed", e164!);
    }

    /// <summary>PUT /routes: <c>{carrier: connector}</c> routes a network to a connector; <c>{carrier: null}</c> leaves it to the connectors' prefixes.</summary>
    private static async Task<IResult> SetRoutesAsync(Dictionary<string, string?>? body, Database database, Revocations revocations, NumberCarriers carriers,
        Connectors.ConnectorRegistry connectors, AuditLog audit, HttpContext http)
    {
        if (body is not { Count: > 0 }) return Problems.Validation("give {carrier: connector} for each network to route, or null to route it by prefix");
        foreach (var (carrier, connector) in body)
        {
            if (!Carrier.IsValid(carrier)) return Problems.Validation($"carrier is one of {string.Join(", ", Carrier.All)}");
            if (connector is not null && connectors.Connectors.All(c => c.Name != connector)) return Problems.Validation($"there is no connector named '{Clip(connector)}'");
        }
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var (carrier, connector) in body)
        {
            if (connector is null) await c.ExecuteAsync("DELETE FROM carrier_routes WHERE carrier = @carrier", new { carrier }, tx);
            else await c.ExecuteAsync("INSERT INTO carrier_routes (carrier, connector) VALUES (@carrier, @connector) ON CONFLICT (carrier) DO UPDATE SET connector = excluded.connector",
                new { carrier, connector }, tx);
        }
        await revocations.CommitAsync(c, tx, RevocationKind.Routing, "");
        await carriers.LoadAsync(CancellationToken.None);
        await audit.RecordAsync(http, "routing.routes_changed", "routes", detail: string.Join(", ", body.Select(kv => $"{kv.Key}→{kv.Value ?? "prefix"}")));
        return Results.Ok(new Page<NetworkRoute>(Carrier.All.Select(x => new NetworkRoute(x, carriers.Routes.GetValueOrDefault(x))).ToList(), null));
    }
}
