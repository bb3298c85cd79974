using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;
using Xinge.Simulator;

namespace Xinge.Server.Features.Connectors;

public sealed class SimulatorSettings
{
    public bool Enabled { get; set; } = true;
    public int Port { get; set; } = 2776;
}

/// <summary>
/// The SMSC connectors: those configured under <c>Xinge:Connectors</c>, and the built-in simulator's when it is on.
/// Routes a number to the connector with the longest matching prefix.
/// </summary>
public sealed class ConnectorRegistry(IConfiguration config, Database database, StatusWriter writer, TimeProvider time, ILoggerFactory loggers, Routing.NumberCarriers carriers)
    : BackgroundService
{
    public const string SimulatorConnector = "simulator";
    private readonly ILogger _logger = loggers.CreateLogger<ConnectorRegistry>();
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly HashSet<string> _fromApi = [];
    // Copy on write: routing reads the array without a lock.
    private volatile SmppConnector[] _connectors = [];

    public SmscSimulator? Simulator { get; private set; }
    public IReadOnlyList<SmppConnector> Connectors => _connectors;

    /// <summary>Where a connector comes from: configuration, the operator API, or the built-in simulator.</summary>
    public string SourceOf(SmppConnector c) => c.Name == SimulatorConnector && Simulator is not null ? "simulator" : _fromApi.Contains(c.Name) ? "api" : "config";

    public override async Task StartAsync(CancellationToken ct)
    {
        var simulator = config.GetSection("Xinge:Simulator").Get<SimulatorSettings>() ?? new SimulatorSettings();
        var list = new List<SmppConnector>();
        foreach (var section in config.GetSection("Xinge:Connectors").GetChildren())
        {
            var options = section.Get<ConnectorOptions>() ?? new ConnectorOptions();
            if (string.IsNullOrEmpty(options.Name)) options.Name = "connector-" + section.Key;
            list.Add(Create(options));
        }
        if (simulator.Enabled)
        {
            Simulator = new SmscSimulator(new SimulatorOptions { Port = simulator.Port, KeepMessages = config.GetValue("Xinge:Simulator:KeepMessages", true) }, time);
            Simulator.Start();
            _logger.LogInformation("SMSC simulator listening on 127.0.0.1:{Port}", Simulator.Port);
            list.Add(Create(new ConnectorOptions
            {
                Name = SimulatorConnector,
                Host = "127.0.0.1",
                Port = Simulator.Port,
                SystemId = "xinge",
                Password = "xinge",
                WindowSize = config.GetValue("Xinge:Simulator:WindowSize", 1000),
                Binds = config.GetValue("Xinge:Simulator:Binds", 2),
            }));
        }
        foreach (var c in list) c.Start();
        _connectors = list.ToArray();
        await RefreshAsync(ct);
        await base.StartAsync(ct);
    }

    /// <summary>What a connector binds and sends with: a change of any of it needs a new connector.</summary>
    private static string Terms(ConnectorOptions o) => string.Join("|", o.Host, o.Port, o.SystemId, o.Password, o.SystemType, o.BindMode, o.WindowSize, o.MaxTps, o.Binds,
        o.OutbindPort, o.OutbindAddress, string.Join(",", o.Prefixes.Select(p => p.Trim().TrimStart('+')).Where(p => p.Length > 0)));

    private SmppConnector Create(ConnectorOptions options)
    {
        options.Prefixes = options.Prefixes.Select(p => p.Trim().TrimStart('+')).Where(p => p.Length > 0).ToList();
        return new SmppConnector(options, writer, time, loggers.CreateLogger("Xinge.Connectors." + options.Name));
    }

    /// <summary>Every node follows the connectors table: what the operator added anywhere binds here too.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), time, stoppingToken);
                await RefreshAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Reading the connectors table failed");
            }
        }
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        await _changes.WaitAsync(ct);
        try
        {
            List<ConnectorDefinition> stored;
            await using (var c = await database.OpenAsync(ct))
            {
                stored = (await c.QueryAsync<ConnectorDefinition>(
                    "SELECT name AS Name, host AS Host, port AS Port, system_id AS SystemId, password AS Password, system_type AS SystemType, " +
                    "bind_mode AS BindMode, window_size AS WindowSize, max_tps AS MaxTps, prefixes AS Prefixes, binds AS Binds, outbind_port AS OutbindPort, outbind_address AS OutbindAddress FROM connectors")).ToList();
            }
            var current = _connectors;
            var wanted = stored.ToDictionary(d => d.Name);
            // An edited connector is replaced: the old one unbinds, the new one binds with the new terms.
            var removed = current.Where(c => _fromApi.Contains(c.Name) && (!wanted.TryGetValue(c.Name, out var d) || Terms(d.ToOptions()) != Terms(c.Options))).ToList();
            var added = stored.Where(d => current.All(c => c.Name != d.Name) || removed.Any(r => r.Name == d.Name)).Select(d => Create(d.ToOptions())).ToList();
            if (removed.Count == 0 && added.Count == 0) return;
            // One swap: an edited connector's prefixes never route elsewhere meanwhile. Its new self binds once the old
            // one has unbound (an SMSC may allow the account one bind); a submit in between waits as for any unbound one.
            _connectors = current.Except(removed).Concat(added).ToArray();
            foreach (var r in removed)
            {
                _fromApi.Remove(r.Name);
                // Graceful: unbind, then close.
                await r.DisposeAsync();
                _logger.LogInformation("Connector {Connector} removed", r.Name);
            }
            foreach (var a in added)
            {
                _fromApi.Add(a.Name);
                a.Start();
                _logger.LogInformation("Connector {Connector} added", a.Name);
            }
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>
    /// The connector for an E.164 number: the one the operator routes its network to (R-S1-15), when it exists; else
    /// the longest matching prefix, a bound connector before an unbound one.
    /// </summary>
    public SmppConnector? Route(string e164)
    {
        if (carriers.ConnectorFor(e164) is { } routed)
        {
            foreach (var c in _connectors)
            {
                if (c.Name == routed) return c;
            }
        }
        var digits = e164.AsSpan().TrimStart('+');
        SmppConnector? best = null;
        var bestLength = -1;
        foreach (var c in _connectors)
        {
            var length = c.Options.Prefixes.Count == 0 ? 0 : -1;
            foreach (var p in c.Options.Prefixes)
            {
                if (p.Length > length && digits.StartsWith(p, StringComparison.Ordinal)) length = p.Length;
            }
            if (length > bestLength || (length == bestLength && best is not null && !best.IsBound && c.IsBound))
            {
                best = c;
                bestLength = length;
            }
        }
        return best;
    }

    public override async Task StopAsync(CancellationToken ct)
    {
        await base.StopAsync(ct);
        foreach (var c in _connectors) await c.DisposeAsync();
        if (Simulator is not null) await Simulator.DisposeAsync();
    }
}
