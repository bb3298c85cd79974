using Microsoft.Extensions.Options;
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
public sealed class ConnectorRegistry(IConfiguration config, StatusWriter writer, TimeProvider time, ILoggerFactory loggers) : IHostedService
{
    public const string SimulatorConnector = "simulator";
    private readonly List<SmppConnector> _connectors = [];
    private readonly ILogger _logger = loggers.CreateLogger<ConnectorRegistry>();

    public SmscSimulator? Simulator { get; private set; }
    public IReadOnlyList<SmppConnector> Connectors => _connectors;

    public Task StartAsync(CancellationToken ct)
    {
        var simulator = config.GetSection("Xinge:Simulator").Get<SimulatorSettings>() ?? new SimulatorSettings();
        foreach (var section in config.GetSection("Xinge:Connectors").GetChildren())
        {
            var options = section.Get<ConnectorOptions>() ?? new ConnectorOptions();
            if (string.IsNullOrEmpty(options.Name)) options.Name = "connector-" + section.Key;
            options.Prefixes = options.Prefixes.Select(p => p.Trim().TrimStart('+')).Where(p => p.Length > 0).ToList();
            _connectors.Add(new SmppConnector(options, writer, time, loggers.CreateLogger("Xinge.Connectors." + options.Name)));
        }
        if (simulator.Enabled)
        {
            Simulator = new SmscSimulator(new SimulatorOptions { Port = simulator.Port, KeepMessages = config.GetValue("Xinge:Simulator:KeepMessages", true) }, time);
            Simulator.Start();
            _logger.LogInformation("SMSC simulator listening on 127.0.0.1:{Port}", Simulator.Port);
            _connectors.Add(new SmppConnector(new ConnectorOptions
            {
                Name = SimulatorConnector,
                Host = "127.0.0.1",
                Port = Simulator.Port,
                SystemId = "xinge",
                Password = "xinge",
                WindowSize = config.GetValue("Xinge:Simulator:WindowSize", 1000),
                Binds = config.GetValue("Xinge:Simulator:Binds", 2),
            }, writer, time, loggers.CreateLogger("Xinge.Connectors.simulator")));
        }
        foreach (var c in _connectors) c.Start();
        return Task.CompletedTask;
    }

    /// <summary>The connector for an E.164 number: the longest matching prefix; a catch-all configured connector before the simulator.</summary>
    public SmppConnector? Route(string e164)
    {
        var digits = e164.TrimStart('+');
        SmppConnector? best = null;
        var bestLength = -1;
        foreach (var c in _connectors)
        {
            var length = c.Options.Prefixes.Count == 0 ? 0 : c.Options.Prefixes.Where(p => digits.StartsWith(p, StringComparison.Ordinal)).Select(p => p.Length).DefaultIfEmpty(-1).Max();
            if (length > bestLength || (length == bestLength && best is not null && !best.IsBound && c.IsBound))
            {
                best = c;
                bestLength = length;
            }
        }
        return best;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        foreach (var c in _connectors) await c.DisposeAsync();
        if (Simulator is not null) await Simulator.DisposeAsync();
    }
}
