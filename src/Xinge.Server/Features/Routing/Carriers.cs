using System.Collections.Frozen;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Features.Routing;

/// <summary>The networks a Chinese number may belong to (R-S1-15); <see cref="Other"/> for a number no segment knows.</summary>
public static class Carrier
{
    public const string Mobile = "mobile";
    public const string Unicom = "unicom";
    public const string Telecom = "telecom";
    public const string Broadnet = "broadnet";
    /// <summary>Virtual operators (MVNOs, 170/171/162/165/167): their host network carries the SMS.</summary>
    public const string Virtual = "virtual";
    public const string Other = "other";

    public static readonly string[] All = [Mobile, Unicom, Telecom, Broadnet, Virtual];

    public static bool IsValid(string? c) => c is Mobile or Unicom or Telecom or Broadnet or Virtual;
}

/// <summary>A number segment (号段): the leading digits of numbers (E.164 without +, e.g. 86139) and their network.</summary>
public sealed class NumberSegment
{
    public string Prefix { get; set; } = "";
    public string Carrier { get; set; } = "";
}

/// <summary>A number that moved to another network (携号转网): its network beats its segment's.</summary>
public sealed class PortedNumber
{
    public string Msisdn { get; set; } = "";
    public string Carrier { get; set; } = "";
    public long At { get; set; }
}

/// <summary>Which connector carries a network's messages; a network without one is routed by the connectors' prefixes.</summary>
public sealed class CarrierRoute
{
    public string Carrier { get; set; } = "";
    public string Connector { get; set; } = "";
}

/// <summary>
/// The segments, ported numbers and routes as every node holds them in memory: read at start (a new database gets the
/// segments as allocated in 2026), and again within a second of any change (a revocation of kind <c>routing</c>).
/// Finding a number's network is two dictionary lookups per digit of its longest segment, no database.
/// </summary>
public sealed class NumberCarriers(Database database, Revocations revocations, ILogger<NumberCarriers> logger) : IHostedService
{
    private sealed record Tables(FrozenDictionary<string, string> Segments, int Longest, FrozenDictionary<string, string> Ported, FrozenDictionary<string, string> Routes);

    private volatile Tables _tables = new(FrozenDictionary<string, string>.Empty, 0, FrozenDictionary<string, string>.Empty, FrozenDictionary<string, string>.Empty);
    private Action? _changed;

    /// <summary>China's mobile segments as allocated in 2026 (MIIT), the data a new platform starts with; the operator imports its own.</summary>
    public static readonly (string Prefix, string Carrier)[] DefaultSegments =
    [
        .. new[] { "134", "135", "136", "137", "138", "139", "147", "148", "150", "151", "152", "157", "158", "159", "172", "178", "182", "183", "184", "187", "188", "195", "197", "198" }
            .Select(p => ("86" + p, Carrier.Mobile)),
        .. new[] { "130", "131", "132", "145", "146", "155", "156", "166", "175", "176", "185", "186", "196" }.Select(p => ("86" + p, Carrier.Unicom)),
        .. new[] { "133", "149", "153", "173", "174", "177", "180", "181", "189", "190", "191", "193", "199", "1349" }.Select(p => ("86" + p, Carrier.Telecom)),
        ("86192", Carrier.Broadnet),
        .. new[] { "170", "171", "162", "165", "167" }.Select(p => ("86" + p, Carrier.Virtual)),
    ];

    public int SegmentCount => _tables.Segments.Count;

    public async Task StartAsync(CancellationToken ct)
    {
        _changed = new Compliance.ListReloader(LoadAsync, logger, "number segments and routes").Changed;
        revocations.RoutingChanged += _changed;
        await SeedAsync(ct);
        await LoadAsync(ct);
    }

    public Task StopAsync(CancellationToken ct)
    {
        revocations.RoutingChanged -= _changed;
        return Task.CompletedTask;
    }

    /// <summary>An empty segment table gets the defaults, once: a node racing another inserts nothing twice.</summary>
    private async Task SeedAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM number_segments") > 0) return;
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM settings WHERE key = 'routing.seeded'") > 0) return;
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync("INSERT INTO number_segments (prefix, carrier) VALUES (@Prefix, @Carrier) ON CONFLICT (prefix) DO NOTHING",
            DefaultSegments.Select(s => new { s.Prefix, s.Carrier }), tx);
        await c.ExecuteAsync("INSERT INTO settings (key, value) VALUES ('routing.seeded', '1') ON CONFLICT (key) DO NOTHING", transaction: tx);
        await tx.CommitAsync(ct);
    }

    public async Task LoadAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var segments = (await c.QueryAsync<(string Prefix, string Carrier)>("SELECT prefix, carrier FROM number_segments")).ToFrozenDictionary(r => r.Prefix, r => r.Carrier);
        var ported = (await c.QueryAsync<(string Msisdn, string Carrier)>("SELECT msisdn, carrier FROM ported_numbers")).ToFrozenDictionary(r => r.Msisdn, r => r.Carrier);
        var routes = (await c.QueryAsync<(string Carrier, string Connector)>("SELECT carrier, connector FROM carrier_routes")).ToFrozenDictionary(r => r.Carrier, r => r.Connector);
        _tables = new Tables(segments, segments.Count == 0 ? 0 : segments.Keys.Max(k => k.Length), ported, routes);
    }

    /// <summary>A number's network, and how it was found: <c>ported</c>, <c>segment</c>, or <c>unknown</c> (then <see cref="Carrier.Other"/>).</summary>
    public (string Carrier, string Source) Find(string e164)
    {
        var t = _tables;
        if (t.Ported.TryGetValue(e164, out var ported)) return (ported, "ported");
        var digits = e164.AsSpan().TrimStart('+');
        var lookup = t.Segments.GetAlternateLookup<ReadOnlySpan<char>>();
        for (var n = Math.Min(t.Longest, digits.Length); n > 0; n--)
        {
            if (lookup.TryGetValue(digits[..n], out var carrier)) return (carrier, "segment");
        }
        return (Carrier.Other, "unknown");
    }

    public string CarrierOf(string e164) => Find(e164).Carrier;

    /// <summary>The connector the operator routes this number's network to, if any.</summary>
    public string? ConnectorFor(string e164)
    {
        var t = _tables;
        if (t.Routes.Count == 0) return null;
        return t.Routes.TryGetValue(CarrierOf(e164), out var connector) ? connector : null;
    }

    public IReadOnlyDictionary<string, string> Routes => _tables.Routes;
}
