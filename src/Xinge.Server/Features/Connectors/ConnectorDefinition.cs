namespace Xinge.Server.Features.Connectors;

/// <summary>
/// An SMSC connector the operator added through the API (those in configuration are not stored). The password is
/// the SMSC's, which Xinge must present when it binds, so it is kept as given and never shown again.
/// </summary>
public sealed class ConnectorDefinition
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    public string Host { get; set; } = "";
    public int Port { get; set; }
    public string SystemId { get; set; } = "";
    public string Password { get; set; } = "";
    public string SystemType { get; set; } = "";
    public string BindMode { get; set; } = "transceiver";
    public int WindowSize { get; set; }
    public int MaxTps { get; set; }
    /// <summary>E.164 prefixes without '+', comma-separated; empty serves every number.</summary>
    public string Prefixes { get; set; } = "";
    public int Binds { get; set; }
    public int OutbindPort { get; set; }
    public string OutbindAddress { get; set; } = "127.0.0.1";
    public long CreatedAt { get; set; }

    public ConnectorOptions ToOptions() => new()
    {
        Name = Name,
        Host = Host,
        Port = Port,
        SystemId = SystemId,
        Password = Password,
        SystemType = SystemType,
        BindMode = BindMode,
        WindowSize = WindowSize,
        MaxTps = MaxTps,
        Binds = Binds,
        OutbindPort = OutbindPort,
        OutbindAddress = OutbindAddress,
        Prefixes = Prefixes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
    };
}
