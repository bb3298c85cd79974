using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Xinge.Bench;

/// <summary>
/// The bare SMSC of the Kannel comparison (FIELD-NOTES.md): answers binds, enquire_link and unbind, and every
/// submit_sm at once with a submit_sm_resp; sends no receipts. It parses nothing but the header (and, for watched
/// numbers, destination_addr), so neither side of the comparison waits on it. Counts submits and notes when the
/// N-th arrives.
/// </summary>
public sealed class SmppAcker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private long _submits;
    private long _target = long.MaxValue;
    private long _lastSubmitTicks;
    private TaskCompletionSource<long> _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>destination_addr prefix whose arrival times are noted (the OTPs of the latency test).</summary>
    public string? WatchPrefix { get; set; }
    public ConcurrentDictionary<string, long> Watched { get; } = new();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public long Submits => Interlocked.Read(ref _submits);
    public long LastSubmitTicks => Interlocked.Read(ref _lastSubmitTicks);

    public void Start()
    {
        _listener.Start(64);
        _ = AcceptAsync();
    }

    /// <summary>Counts from zero again; the returned task completes with the Stopwatch timestamp of the target-th submit.</summary>
    public Task<long> Reset(long target)
    {
        _reached = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _submits, 0);
        Interlocked.Exchange(ref _target, target);
        Watched.Clear();
        return _reached.Task;
    }

    /// <summary>Waits until no submit_sm has come for <paramref name="quiet"/> (leftovers of the previous phase).</summary>
    public async Task SettleAsync(TimeSpan quiet)
    {
        while (Stopwatch.GetElapsedTime(LastSubmitTicks) < quiet) await Task.Delay(100);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            s.NoDelay = true;
            lock (_sockets) _sockets.Add(s);
            _ = Task.Run(() => ServeAsync(s));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var input = new byte[1 << 20];
        var output = new byte[1 << 20];
        var id = new byte[20];
        var filled = 0;
        long nextId = 1;
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(input.AsMemory(filled), SocketFlags.None, _stop.Token);
                if (n == 0) return;
                filled += n;
                var offset = 0;
                var written = 0;
                var close = false;
                while (filled - offset >= 16)
                {
                    var length = (int)BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(offset));
                    if (length < 16 || length > input.Length) return;
                    if (filled - offset < length) break;
                    var command = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(offset + 4));
                    var sequence = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(offset + 12));
                    if (written > output.Length - 64)
                    {
                        await socket.SendAsync(output.AsMemory(0, written), SocketFlags.None, _stop.Token);
                        written = 0;
                    }
                    switch (command)
                    {
                        case 0x00000001 or 0x00000002 or 0x00000009: // bind_receiver, bind_transmitter, bind_transceiver
                            written += Response(output.AsSpan(written), command | 0x80000000, sequence, "acker"u8);
                            break;
                        case 0x00000004: // submit_sm
                            if (WatchPrefix is { } prefix)
                            {
                                var to = Destination(input.AsSpan(offset + 16, length - 16));
                                if (to.StartsWith(prefix, StringComparison.Ordinal)) Watched.TryAdd(to, Stopwatch.GetTimestamp());
                            }
                            Utf8Formatter(nextId++, id, out var idLength);
                            written += Response(output.AsSpan(written), 0x80000004, sequence, id.AsSpan(0, idLength));
                            var now = Stopwatch.GetTimestamp();
                            Interlocked.Exchange(ref _lastSubmitTicks, now);
                            if (Interlocked.Increment(ref _submits) == Interlocked.Read(ref _target)) _reached.TrySetResult(now);
                            break;
                        case 0x00000015: // enquire_link
                            written += Response(output.AsSpan(written), 0x80000015, sequence, default, withBody: false);
                            break;
                        case 0x00000006: // unbind
                            written += Response(output.AsSpan(written), 0x80000006, sequence, default, withBody: false);
                            close = true;
                            break;
                    }
                    offset += length;
                }
                if (written > 0) await socket.SendAsync(output.AsMemory(0, written), SocketFlags.None, _stop.Token);
                if (close) return;
                Buffer.BlockCopy(input, offset, input, 0, filled - offset);
                filled -= offset;
            }
        }
        catch (Exception)
        {
            // The peer went away or we are stopping.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static void Utf8Formatter(long value, Span<byte> destination, out int length) =>
        System.Buffers.Text.Utf8Formatter.TryFormat(value, destination, out length);

    private static int Response(Span<byte> output, uint command, uint sequence, ReadOnlySpan<byte> cString, bool withBody = true)
    {
        var length = 16 + (withBody ? cString.Length + 1 : 0);
        BinaryPrimitives.WriteUInt32BigEndian(output, (uint)length);
        BinaryPrimitives.WriteUInt32BigEndian(output[4..], command);
        BinaryPrimitives.WriteUInt32BigEndian(output[8..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(output[12..], sequence);
        if (withBody)
        {
            cString.CopyTo(output[16..]);
            output[16 + cString.Length] = 0;
        }
        return length;
    }

    /// <summary>destination_addr of a submit_sm body: after service_type, source TON/NPI/address and destination TON/NPI.</summary>
    private static string Destination(ReadOnlySpan<byte> body)
    {
        var i = body.IndexOf((byte)0) + 1; // service_type
        i += 2;
        i += body[i..].IndexOf((byte)0) + 1; // source_addr
        i += 2;
        var end = body[i..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(body.Slice(i, end < 0 ? 0 : end));
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var s in _sockets) s.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}
