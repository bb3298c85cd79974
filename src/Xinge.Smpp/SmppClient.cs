namespace Xinge.Smpp;

public static class SmppClient
{
    /// <summary>Connects and binds; throws <see cref="SmppRequestFailedException"/> when the SMSC refuses the bind.</summary>
    public static async Task<SmppSession> BindAsync(string host, int port, BindType type, string systemId, string password,
        string systemType, ISmppRequestHandler handler, SmppSessionOptions? options, CancellationToken ct)
    {
        var session = await SmppSession.ConnectAsync(host, port, handler, options, ct);
        try
        {
            var bind = new Bind(type) { SystemId = systemId, Password = password, SystemType = systemType };
            var response = await session.SendRequestAsync(bind, ct);
            if (response.Status != CommandStatus.EsmeRok) throw new SmppRequestFailedException(bind.CommandId, response.Status);
            session.BoundAs = type;
            session.SystemId = systemId;
            return session;
        }
        catch
        {
            await session.CloseAsync(graceful: false);
            throw;
        }
    }
}
