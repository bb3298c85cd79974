using System.Net;
using System.Net.Sockets;

namespace Xinge.Smpp;

/// <summary>Accepts SMPP connections and gives each a session with the handler the factory makes.</summary>
public sealed class SmppListener : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<ISmppRequestHandler> _handlerFactory;
    private readonly SmppSessionOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<SmppSession> _sessions = [];
    private Task? _acceptLoop;

    public SmppListener(IPAddress address, int port, Func<ISmppRequestHandler> handlerFactory, SmppSessionOptions? options = null)
    {
        _listener = new TcpListener(address, port);
        _handlerFactory = handlerFactory;
        _options = options ?? new SmppSessionOptions();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>True while connections are being accepted: false before Start, after Dispose, and once the socket has failed.</summary>
    public bool IsListening => _acceptLoop is { IsCompleted: false };

    public IReadOnlyList<SmppSession> Sessions
    {
        get
        {
            lock (_sessions) return _sessions.ToList();
        }
    }

    public void Start()
    {
        _listener.Start(512);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException) when (_listener.Server.IsBound)
            {
                // One connection failed while being accepted (reset, too many files): the listener goes on.
                await Task.Delay(10);
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The listening socket itself is gone: stop, so health checks see it.
                return;
            }
            client.NoDelay = true;
            var session = new SmppSession(client.GetStream(), _handlerFactory(), _options)
            {
                RemoteEndPoint = client.Client.RemoteEndPoint?.ToString() ?? "",
                RemoteAddress = (client.Client.RemoteEndPoint as IPEndPoint)?.Address,
            };
            lock (_sessions) _sessions.Add(session);
            _ = session.Closed.ContinueWith(_ =>
            {
                lock (_sessions) _sessions.Remove(session);
                client.Dispose();
            }, TaskScheduler.Default);
            session.Start();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        if (_acceptLoop is not null) await _acceptLoop;
        foreach (var s in Sessions) await s.CloseAsync(graceful: true);
    }
}
