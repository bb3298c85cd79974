using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Xinge.Smpp;

public sealed class SmppSessionOptions
{
    /// <summary>Outstanding requests this side may have unanswered at once.</summary>
    public int WindowSize { get; set; } = 100;
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Idle time after which this side sends enquire_link; zero turns keep-alive off.</summary>
    public TimeSpan EnquireLinkInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Receives the requests the peer sends. The session answers enquire_link and unbind itself.</summary>
public interface ISmppRequestHandler
{
    ValueTask HandleAsync(SmppSession session, Pdu request);
    void OnClosed(SmppSession session) { }
}

public sealed class SmppRequestFailedException(CommandId command, CommandStatus status)
    : Exception($"{command} answered {status}")
{
    public CommandStatus Status { get; } = status;
}

/// <summary>
/// One SMPP connection: a read loop that parses as many complete PDUs as the pipe holds (Kestrel's pattern),
/// a write loop that flushes whatever has queued in one go, sequence numbers, a window of outstanding requests,
/// response time-outs and enquire_link keep-alive.
/// </summary>
public sealed class SmppSession : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SmppSessionOptions _options;
    private readonly ISmppRequestHandler _handler;
    private readonly TimeProvider _time;
    private readonly Channel<(byte[] Buffer, int Length)> _outbox = Channel.CreateUnbounded<(byte[], int)>(new() { SingleReader = true });
    private readonly ConcurrentDictionary<uint, Pending> _pending = new();
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _sequence;
    private long _lastActivity;
    private ITimer? _timer;
    private int _closeStarted;
    private long _enquireLinks;

    private sealed class Pending(TaskCompletionSource<Pdu> completion, long deadline)
    {
        public TaskCompletionSource<Pdu> Completion { get; } = completion;
        public long Deadline { get; } = deadline;
    }

    public SmppSession(Stream stream, ISmppRequestHandler handler, SmppSessionOptions? options = null, TimeProvider? time = null)
    {
        _stream = stream;
        _options = options ?? new SmppSessionOptions();
        _handler = handler;
        _time = time ?? TimeProvider.System;
        _window = new SemaphoreSlim(Math.Max(1, _options.WindowSize));
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 65536));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 65536));
    }

    public string RemoteEndPoint { get; init; } = "";
    /// <summary>The peer's address, for allow-lists (set by the listener).</summary>
    public System.Net.IPAddress? RemoteAddress { get; init; }
    /// <summary>Set by the application once a bind succeeded; null while open but unbound.</summary>
    public BindType? BoundAs { get; set; }
    public string SystemId { get; set; } = "";
    /// <summary>Application state attached to the session (the account, the connector).</summary>
    public object? Tag { get; set; }
    public Task Closed => _closed.Task;
    public bool IsOpen => _closeStarted == 0;
    public int Outstanding => _pending.Count;
    /// <summary>enquire_link PDUs the peer sent (and this session answered).</summary>
    public long EnquireLinksReceived => Interlocked.Read(ref _enquireLinks);

    public bool CanTransmit => BoundAs is BindType.Transmitter or BindType.Transceiver;
    public bool CanReceive => BoundAs is BindType.Receiver or BindType.Transceiver;

    public static async Task<SmppSession> ConnectAsync(string host, int port, ISmppRequestHandler handler, SmppSessionOptions? options, CancellationToken ct)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, port, ct);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        var session = new SmppSession(client.GetStream(), handler, options) { RemoteEndPoint = $"{host}:{port}" };
        session.Start();
        return session;
    }

    public void Start()
    {
        Touch();
        _ = Task.Run(ReadLoopAsync);
        _ = Task.Run(WriteLoopAsync);
        _timer = _time.CreateTimer(_ => OnTick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public uint NextSequence()
    {
        // SMPP 3.4 §5.1.4: sequence numbers run 0x00000001..0x7FFFFFFF.
        var s = (uint)Interlocked.Increment(ref _sequence) & 0x7FFFFFFF;
        return s == 0 ? NextSequence() : s;
    }

    /// <summary>Sends a request and awaits its response; waits for room in the window first.</summary>
    public async Task<Pdu> SendRequestAsync(Pdu request, CancellationToken ct = default)
    {
        await _window.WaitAsync(ct);
        try
        {
            var response = await SendRequestInWindowAsync(request);
            return response;
        }
        finally
        {
            _window.Release();
        }
    }

    private Task<Pdu> SendRequestInWindowAsync(Pdu request)
    {
        if (!IsOpen) return Task.FromException<Pdu>(new IOException("SMPP session is closed"));
        request.Sequence = NextSequence();
        var completion = new TaskCompletionSource<Pdu>(TaskCreationOptions.RunContinuationsAsynchronously);
        var deadline = _time.GetTimestamp() + (long)(_options.ResponseTimeout.TotalSeconds * _time.TimestampFrequency);
        _pending[request.Sequence] = new Pending(completion, deadline);
        if (!Enqueue(request))
        {
            _pending.TryRemove(request.Sequence, out _);
            completion.TrySetException(new IOException("SMPP session is closed"));
        }
        return completion.Task;
    }

    /// <summary>Sends a response (or any PDU that expects none).</summary>
    public bool Send(Pdu pdu) => Enqueue(pdu);

    private bool Enqueue(Pdu pdu)
    {
        if (!IsOpen) return false;
        var encoded = PduCodec.Encode(pdu);
        if (_outbox.Writer.TryWrite(encoded)) return true;
        ArrayPool<byte>.Shared.Return(encoded.Buffer);
        return false;
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivity, _time.GetTimestamp());

    private void OnTick()
    {
        var now = _time.GetTimestamp();
        foreach (var (sequence, pending) in _pending)
        {
            if (pending.Deadline <= now && _pending.TryRemove(sequence, out var expired))
            {
                expired.Completion.TrySetException(new TimeoutException($"no response to sequence {sequence}"));
            }
        }
        var interval = _options.EnquireLinkInterval;
        if (interval > TimeSpan.Zero && BoundAs is not null && _time.GetElapsedTime(Interlocked.Read(ref _lastActivity)) >= interval)
        {
            Touch();
            _ = KeepAliveAsync();
        }
    }

    private async Task KeepAliveAsync()
    {
        try
        {
            await SendRequestInWindowAsync(new EnquireLink());
        }
        catch (TimeoutException)
        {
            // The peer stopped answering: the link is dead even if TCP has not noticed.
            await CloseAsync(graceful: false);
        }
        catch (Exception)
        {
            // Closed meanwhile.
        }
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            var reader = _outbox.Reader;
            while (await reader.WaitToReadAsync(_closing.Token))
            {
                while (reader.TryRead(out var item))
                {
                    _writer.Write(item.Buffer.AsSpan(0, item.Length));
                    ArrayPool<byte>.Shared.Return(item.Buffer);
                }
                var result = await _writer.FlushAsync(_closing.Token);
                if (result.IsCompleted) break;
            }
        }
        catch (Exception)
        {
            // Socket gone or session closing: the read loop notices and ends the session.
        }
        finally
        {
            _ = CloseAsync(graceful: false);
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(_closing.Token);
                var buffer = result.Buffer;
                var ok = ProcessFrames(ref buffer);
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (!ok || result.IsCompleted) break;
            }
        }
        catch (Exception)
        {
            // Connection reset or session closing.
        }
        finally
        {
            await CloseAsync(graceful: false);
        }
    }

    /// <summary>Parses every complete frame in the buffer; false when the stream cannot be trusted any more.</summary>
    private bool ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        Span<byte> lengthBytes = stackalloc byte[4];
        while (buffer.Length >= 4)
        {
            buffer.Slice(0, 4).CopyTo(lengthBytes);
            var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(lengthBytes);
            if (length < PduCodec.HeaderLength || length > PduCodec.MaxPduLength)
            {
                // The framing is lost: answer once and hang up (SMPP 3.4 §2.9 leaves the connection to us).
                Send(new GenericNack { Status = CommandStatus.EsmeRinvcmdlen });
                return false;
            }
            if (buffer.Length < length) return true;
            var frame = buffer.Slice(0, length);
            buffer = buffer.Slice(length);
            Touch();
            HandleFrame(frame);
        }
        return true;
    }

    private void HandleFrame(ReadOnlySequence<byte> frame)
    {
        byte[]? rented = null;
        ReadOnlySpan<byte> span;
        if (frame.IsSingleSegment)
        {
            span = frame.FirstSpan;
        }
        else
        {
            rented = ArrayPool<byte>.Shared.Rent((int)frame.Length);
            frame.CopyTo(rented);
            span = rented.AsSpan(0, (int)frame.Length);
        }
        Pdu pdu;
        try
        {
            pdu = PduCodec.Decode(span);
        }
        catch (SmppFormatException e)
        {
            var (_, commandId, _, sequence) = PduCodec.ReadHeader(span);
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            if ((commandId & 0x80000000) != 0 && _pending.TryRemove(sequence, out var p))
            {
                p.Completion.TrySetException(new SmppFormatException(e.Status, e.Message));
                return;
            }
            Send(new GenericNack { Sequence = sequence, Status = e.Status });
            return;
        }
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        Dispatch(pdu);
    }

    private void Dispatch(Pdu pdu)
    {
        if (pdu.IsResponse)
        {
            if (_pending.TryRemove(pdu.Sequence, out var pending)) pending.Completion.TrySetResult(pdu);
            return;
        }
        switch (pdu)
        {
            case EnquireLink:
                Interlocked.Increment(ref _enquireLinks);
                Send(pdu.CreateResponse());
                return;
            case Unbind:
                Send(pdu.CreateResponse());
                _ = CloseSoonAsync();
                return;
        }
        try
        {
            var task = _handler.HandleAsync(this, pdu);
            if (!task.IsCompletedSuccessfully) _ = ObserveAsync(task, pdu);
        }
        catch (Exception)
        {
            AnswerFailure(pdu);
        }
    }

    private async Task ObserveAsync(ValueTask task, Pdu pdu)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            AnswerFailure(pdu);
        }
    }

    private void AnswerFailure(Pdu request)
    {
        // A handler bug must still answer the peer, or its window would leak.
        try
        {
            Send(request.CreateResponse(CommandStatus.EsmeRsyserr));
        }
        catch (InvalidOperationException)
        {
            Send(new GenericNack { Sequence = request.Sequence, Status = CommandStatus.EsmeRsyserr });
        }
    }

    private async Task CloseSoonAsync()
    {
        // Let the unbind_resp reach the wire before the socket goes.
        await Task.Delay(50);
        await CloseAsync(graceful: false);
    }

    /// <summary>Ends the session; graceful sends unbind and waits briefly for unbind_resp first.</summary>
    public async Task CloseAsync(bool graceful = true)
    {
        if (graceful && IsOpen && BoundAs is not null)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await SendRequestInWindowAsync(new Unbind()).WaitAsync(cts.Token);
            }
            catch (Exception)
            {
                // Unbind is a courtesy; the socket closes regardless.
            }
        }
        if (Interlocked.Exchange(ref _closeStarted, 1) != 0)
        {
            await _closed.Task;
            return;
        }
        _timer?.Dispose();
        _outbox.Writer.TryComplete();
        try
        {
            // Give queued PDUs (responses, unbind_resp) a moment to go out.
            await Task.Delay(10);
            _closing.Cancel();
            _stream.Dispose();
        }
        catch (Exception)
        {
        }
        foreach (var (sequence, _) in _pending)
        {
            if (_pending.TryRemove(sequence, out var p)) p.Completion.TrySetException(new IOException("SMPP session closed"));
        }
        try
        {
            _handler.OnClosed(this);
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync() => await CloseAsync(graceful: false);
}
