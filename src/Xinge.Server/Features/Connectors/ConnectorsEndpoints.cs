using Xinge.Server.Features.Accounts;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Connectors;

public sealed record CreateConnector(string? Name, string? Host, int? Port, string? SystemId, string? Password, string? SystemType,
    string? BindMode, int? WindowSize, int? MaxTps, List<string>? Prefixes, int? Binds, int? OutbindPort, string? OutbindAddress);

/// <summary>A connector as the operator sees it: where it binds, where it comes from, whether it is bound, and its lane.</summary>
public sealed record ConnectorView(string Name, string Host, int Port, string SystemId, string BindMode, int WindowSize, int MaxTps,
    IReadOnlyList<string> Prefixes, int Binds, string Source, bool Bound, int OutbindPort, int InFlight, long SubmittedParts);

public sealed record ConnectorCreated(string Name);

/// <summary>The operator's SMSC connectors (CONTRACT.md §1 lists the same fields for configuration).</summary>
public static partial class ConnectorsEndpoints
{
    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,31}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^\+?[1-9][0-9]{0,14}$")]
    private static partial Regex PrefixPattern();

    public static IEndpointRouteBuilder MapConnectors(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin/connectors").RequireAuthorization(Rights.ConnectorsManage).WithTags("Operator");
        admin.MapGet("", (ConnectorRegistry registry, Messaging.Dispatcher dispatcher) => TypedResults.Ok(registry.Connectors.Select(c => new ConnectorView(
            c.Name, c.Options.Host, c.Options.Port, c.Options.SystemId, c.Options.BindMode, c.Options.WindowSize, c.Options.MaxTps,
            c.Options.Prefixes.Select(p => "+" + p).ToList(), c.Options.Binds, registry.SourceOf(c), c.IsBound, c.OutbindPort, dispatcher.InFlightOf(c.Name), c.SubmittedParts)).ToList()));
        admin.MapPost("", CreateAsync);
        admin.MapPut("/{name}", UpdateAsync);
        admin.MapDelete("/{name}", DeleteAsync);
        return app;
    }

    private static string? Validate(CreateConnector b)
    {
        if (b.Name is null || !NamePattern().IsMatch(b.Name)) return "name is 1 to 32 lower-case letters, digits, '-' or '_'";
        if (string.IsNullOrWhiteSpace(b.Host) || b.Host.Length > 253) return "host is required";
        if (b.Port is not (>= 1 and <= 65535)) return "port is 1 to 65535";
        if (string.IsNullOrEmpty(b.SystemId) || b.SystemId.Length > 15) return "systemId is 1 to 15 characters (SMPP 3.4)";
        if (b.Password is null || b.Password.Length > 8) return "password is at most 8 characters (SMPP 3.4)";
        if (b.SystemType is { Length: > 12 }) return "systemType is at most 12 characters";
        if (b.BindMode is not (null or "transceiver" or "transmitter+receiver")) return "bindMode is transceiver or transmitter+receiver";
        if (b.WindowSize is < 1 or > 10_000) return "windowSize is 1 to 10000";
        if (b.MaxTps is < 0 or > 1_000_000) return "maxTps is 0 (unlimited) to 1000000";
        if (b.Binds is < 1 or > 32) return "binds is 1 to 32";
        if (b.OutbindPort is < 0 or > 65535) return "outbindPort is 0 (no outbind) to 65535";
        if (b.OutbindAddress is not null && !System.Net.IPAddress.TryParse(b.OutbindAddress, out _)) return "outbindAddress is an IP address";
        if (b.Prefixes?.FirstOrDefault(p => p is null || !PrefixPattern().IsMatch(p)) is { } bad) return $"prefix '{bad}' is not the start of an E.164 number";
        return null;
    }

    private static async Task<Results<Created<ConnectorCreated>, ProblemHttpResult>> CreateAsync(CreateConnector body, ConnectorRegistry registry, Database database, TimeProvider time,
        AuditLog audit, HttpContext http)
    {
        if (Validate(body) is { } error) return Problems.Validation(error);
        if (registry.Connectors.Any(c => c.Name == body.Name)) return Problems.Conflict("connector-exists", $"a connector named {body.Name} exists");
        await using (var c = await database.OpenAsync())
        {
            var inserted = await c.ExecuteAsync(
                "INSERT INTO connectors (name, host, port, system_id, password, system_type, bind_mode, window_size, max_tps, prefixes, binds, outbind_port, outbind_address, created_at) " +
                "VALUES (@Name, @Host, @Port, @SystemId, @Password, @SystemType, @BindMode, @WindowSize, @MaxTps, @Prefixes, @Binds, @OutbindPort, @OutbindAddress, @now) ON CONFLICT DO NOTHING",
                Columns(body, name: body.Name!, ("now", time.GetUtcNow().ToUnixTimeMilliseconds())));
            if (inserted == 0) return Problems.Conflict("connector-exists", $"a connector named {body.Name} exists");
        }
        await registry.RefreshAsync(default);
        await audit.RecordAsync(http, "connector.created", "connector:" + body.Name, detail: $"{body.Host!.Trim()}:{body.Port}");
        return TypedResults.Created($"/api/v1/admin/connectors/{body.Name}", new ConnectorCreated(body.Name!));
    }

    /// <summary>
    /// Changes a connector the operator added: what the body gives changes, what it leaves out stays (the password
    /// too, which is never shown). Every node rebinds it with the new terms within ten seconds, this one at once.
    /// </summary>
    private static async Task<Results<Ok<ConnectorCreated>, ProblemHttpResult>> UpdateAsync(string name, CreateConnector body, ConnectorRegistry registry, Database database,
        AuditLog audit, HttpContext http)
    {
        if (body.Name is not null && body.Name != name) return Problems.Validation("name cannot change; remove the connector and add another");
        var connector = registry.Connectors.FirstOrDefault(c => c.Name == name);
        if (connector is not null && registry.SourceOf(connector) != "api")
            return Problems.Conflict("connector-not-editable", $"{name} comes from {registry.SourceOf(connector)}; change the configuration to change it");
        await using var c = await database.OpenAsync();
        var stored = await c.QuerySingleOrDefaultAsync<ConnectorDefinition>(
            "SELECT name AS Name, host AS Host, port AS Port, system_id AS SystemId, password AS Password, system_type AS SystemType, bind_mode AS BindMode, " +
            "window_size AS WindowSize, max_tps AS MaxTps, prefixes AS Prefixes, binds AS Binds, outbind_port AS OutbindPort, outbind_address AS OutbindAddress " +
            "FROM connectors WHERE name = @name", new { name });
        if (stored is null) return Problems.NotFound("connector");
        var merged = new CreateConnector(name, body.Host ?? stored.Host, body.Port ?? stored.Port, body.SystemId ?? stored.SystemId,
            string.IsNullOrEmpty(body.Password) ? stored.Password : body.Password, body.SystemType ?? stored.SystemType, body.BindMode ?? stored.BindMode,
            body.WindowSize ?? stored.WindowSize, body.MaxTps ?? stored.MaxTps,
            body.Prefixes ?? stored.Prefixes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => "+" + p).ToList(),
            body.Binds ?? stored.Binds, body.OutbindPort ?? stored.OutbindPort, body.OutbindAddress ?? stored.OutbindAddress);
        if (Validate(merged) is { } error) return Problems.Validation(error);
        await c.ExecuteAsync(
            "UPDATE connectors SET host = @Host, port = @Port, system_id = @SystemId, password = @Password, system_type = @SystemType, bind_mode = @BindMode, " +
            "window_size = @WindowSize, max_tps = @MaxTps, prefixes = @Prefixes, binds = @Binds, outbind_port = @OutbindPort, outbind_address = @OutbindAddress WHERE name = @Name",
            Columns(merged, name));
        await registry.RefreshAsync(default);
        await audit.RecordAsync(http, "connector.updated", "connector:" + name, detail: $"{merged.Host!.Trim()}:{merged.Port}");
        return TypedResults.Ok(new ConnectorCreated(name));
    }

    /// <summary>A definition's columns as the connectors table keeps them, with the defaults of what was left out.</summary>
    private static DynamicParameters Columns(CreateConnector body, string name, params (string Name, object Value)[] more)
    {
        var p = new DynamicParameters(new
        {
            Name = name,
            Host = body.Host!.Trim(),
            body.Port,
            body.SystemId,
            Password = body.Password ?? "",
            SystemType = body.SystemType ?? "",
            BindMode = body.BindMode ?? "transceiver",
            WindowSize = body.WindowSize ?? 100,
            MaxTps = body.MaxTps ?? 0,
            Prefixes = string.Join(",", (body.Prefixes ?? []).Select(x => x.TrimStart('+'))),
            Binds = body.Binds ?? 1,
            OutbindPort = body.OutbindPort ?? 0,
            OutbindAddress = body.OutbindAddress ?? "127.0.0.1",
        });
        foreach (var (n, v) in more) p.Add(n, v);
        return p;
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string name, ConnectorRegistry registry, Database database, AuditLog audit, HttpContext http)
    {
        var connector = registry.Connectors.FirstOrDefault(c => c.Name == name);
        if (connector is not null && registry.SourceOf(connector) != "api")
            return Problems.Conflict("connector-not-removable", $"{name} comes from {registry.SourceOf(connector)}; change the configuration to remove it");
        await using (var c = await database.OpenAsync())
        {
            if (await c.ExecuteAsync("DELETE FROM connectors WHERE name = @name", new { name }) == 0) return Problems.NotFound("connector");
        }
        await registry.RefreshAsync(default);
        await audit.RecordAsync(http, "connector.deleted", "connector:" + name);
        return TypedResults.NoContent();
    }
}
