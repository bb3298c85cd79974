using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Xinge.Server.Features.Messaging;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Server.Features.Connectors;

/// <summary>An operator SMSC reached over SMPP 3.4 (CONTRACT.md §1, <c>Xinge:Connectors:N:…</c>).</summary>
public sealed class ConnectorOptions
{
    public string Name { get; set; } = "";
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 2775;
    public string SystemId { get; set; } = "";
    public string Password { get; set; } = "";
    public string SystemType { get; set; } = "";
    /// <summary><c>transceiver</c> or <c>transmitter+receiver</c>.</summary>
    public string BindMode { get; set; } = "transceiver";
    public int WindowSize { get; set; } = 100;
    /// <summary>submit_sm per second across all binds; 0 = unlimited.</summary>
    public int MaxTps { get; set; }
    /// <summary>E.164 prefixes this SMSC serves; empty serves every number.</summary>
    public List<string> Prefixes { get; set; } = [];
    public int Binds { get; set; } = 1;
    /// <summary>
    /// How the SMSC writes message ids, as Kannel's msg-id-type: bit 0 set = submit_sm_resp ids are hex, bit 1 set =
    /// receipt ids are hex; otherwise decimal or opaque. Ids are compared after both are brought to one form.
    /// </summary>
    public int MessageIdType { get; set; }
    /// <summary>Port on which the SMSC may connect and outbind (SMPP 3.4 §2.2.1); 0 = no outbind.</summary>
    public int OutbindPort { get; set; }
    public string OutbindAddress { get; set; } = "127.0.0.1";
}

/// <summary>A message as it goes to the SMSC; the connector makes its submit_sm parts.</summary>
public sealed record OutboundSms(long Id, string Recipient, string Sender, string Text, SmsEncoding Encoding, long? ExpiresAt);

/// <summary>What the SMSC made of a message's parts: each part's message id (in the form receipts are matched by), null where it took none; the error that stopped the rest.</summary>
public sealed record SubmitOutcome(IReadOnlyList<string?> SmscIds, Exception? Error);

public sealed class SubmitFailedException(string reason, bool temporary, TimeSpan? retryAfter = null) : Exception(reason)
{
    public string Reason { get; } = reason;
    public bool Temporary { get; } = temporary;
    /// <summary>Set when the SMSC asked us to slow down: retry after this, without counting it as a failed attempt.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Keeps the binds of one SMSC up (reconnecting with back-off), sends submit_sm within each bind's window and the
/// connector's TPS, and turns what the SMSC sends (receipts, replies, alerts) into engine events.
/// </summary>
public sealed class SmppConnector : ISmppRequestHandler, IAsyncDisposable
{
    private readonly ConnectorOptions _options;
    private readonly StatusWriter _writer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RateLimiter? _tps;
    private readonly List<SmppSession> _transmitters = [];
    private readonly ConcurrentDictionary<(string From, string To, int Ref), (string?[] Parts, long FirstSeen)> _moParts = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private SmppListener? _outbind;
    private int _next;
    private long _throttledUntil;
    private long _throttleDelayMs;

    public SmppConnector(ConnectorOptions options, StatusWriter writer, TimeProvider time, ILogger logger)
    {
        _options = options;
        _writer = writer;
        _time = time;
        _logger = logger;
        if (options.MaxTps > 0)
        {
            _tps = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, options.MaxTps / 10),
                TokensPerPeriod = Math.Max(1, options.MaxTps / 10),
                ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            });
        }
    }

    public string Name => _options.Name;
    public ConnectorOptions Options => _options;
    /// <summary>Alerts (SMPP alert_notification) for whoever listens: the missed-call service.</summary>
    public event Action<string, AlertNotification>? Alert;

    public bool IsBound
    {
        get
        {
            lock (_transmitters) return _transmitters.Any(s => s.IsOpen);
        }
    }

    public int Window => _options.WindowSize * Math.Max(1, _options.Binds);

    private long _submittedParts;
    /// <summary>submit_sm the SMSC took through this node since it started: the operator's console shows throughput from it.</summary>
    public long SubmittedParts => Interlocked.Read(ref _submittedParts);

    public int OutbindPort => _outbind?.Port ?? 0;

    /// <summary>A submit_sm_resp id in the form receipts are matched by.</summary>
    public string NormalizeSubmitId(string id) => SmscMessageId.Normalize(id, (_options.MessageIdType & 1) != 0);

    public void Start()
    {
        if (_options.OutbindPort > 0)
        {
            _outbind = new SmppListener(System.Net.IPAddress.Parse(_options.OutbindAddress), _options.OutbindPort, () => new OutbindHandler(this),
                new SmppSessionOptions { WindowSize = _options.WindowSize, EnquireLinkInterval = TimeSpan.FromSeconds(30) });
            _outbind.Start();
            _logger.LogInformation("Connector {Connector} accepts outbind on {Address}:{Port}", Name, _options.OutbindAddress, _outbind.Port);
        }
        var mode = _options.BindMode.Replace(" ", "").ToLowerInvariant();
        for (var i = 0; i < Math.Max(1, _options.Binds); i++)
        {
            if (mode is "transmitter+receiver" or "tx+rx")
            {
                _loops.Add(Task.Run(() => BindLoopAsync(BindType.Transmitter)));
                _loops.Add(Task.Run(() => BindLoopAsync(BindType.Receiver)));
            }
            else
            {
                _loops.Add(Task.Run(() => BindLoopAsync(BindType.Transceiver)));
            }
        }
    }

    private async Task BindLoopAsync(BindType type)
    {
        var backoff = TimeSpan.FromSeconds(1);
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            SmppSession? session = null;
            try
            {
                session = await SmppClient.BindAsync(_options.Host, _options.Port, type, _options.SystemId, _options.Password,
                    _options.SystemType, this, new SmppSessionOptions { WindowSize = _options.WindowSize, EnquireLinkInterval = TimeSpan.FromSeconds(30) }, ct);
                _logger.LogInformation("Connector {Connector} bound to {Host}:{Port} as {BindType}", Name, _options.Host, _options.Port, type);
                backoff = TimeSpan.FromSeconds(1);
                if (session.CanTransmit)
                {
                    lock (_transmitters) _transmitters.Add(session);
                }
                await session.Closed.WaitAsync(ct);
                _logger.LogWarning("Connector {Connector} lost its {BindType} bind", Name, type);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                if (session is not null) await session.CloseAsync(graceful: true);
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Connector {Connector} could not bind to {Host}:{Port}: {Error}", Name, _options.Host, _options.Port, e.Message);
            }
            finally
            {
                if (session is not null)
                {
                    lock (_transmitters) _transmitters.Remove(session);
                }
            }
            try
            {
                await Task.Delay(backoff, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    private SmppSession? PickTransmitter()
    {
        lock (_transmitters)
        {
            for (var tries = 0; tries < _transmitters.Count; tries++)
            {
                var s = _transmitters[(int)((uint)Interlocked.Increment(ref _next) % (uint)_transmitters.Count)];
                if (s.IsOpen) return s;
            }
            return null;
        }
    }

    /// <summary>Submits one part and returns the SMSC's message id; <see cref="SubmitFailedException"/> says whether to retry.</summary>
    /// <summary>
    /// Sends a message as submit_sm parts (ARCHITECTURE.md, the wire: segmentation, UDH and addresses are the connector's
    /// business). Parts the SMSC already took (<paramref name="taken"/>, by part number) are not sent again.
    /// </summary>
    public async Task<SubmitOutcome> SendAsync(OutboundSms m, IReadOnlyDictionary<int, string> taken, CancellationToken ct)
    {
        var parts = SmsText.Encode(m.Text, m.Encoding, (byte)(m.Id ^ (m.Id >> 8)));
        var submits = new Task<string>[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            if (taken.TryGetValue(i + 1, out var known))
            {
                submits[i] = Task.FromResult(known);
                continue;
            }
            var part = parts[i];
            submits[i] = SubmitAsync(new SubmitSm
            {
                SourceAddrTon = 0,
                SourceAddrNpi = 1,
                SourceAddr = m.Sender,
                DestAddrTon = 1,
                DestAddrNpi = 1,
                DestinationAddr = Messaging.PhoneNumbers.ToSmpp(m.Recipient),
                EsmClass = part.HasUdh ? EsmClass.UdhIndicator : (byte)0,
                DataCoding = (byte)m.Encoding,
                RegisteredDelivery = 1,
                // The SMSC keeps trying no longer than the sender wanted.
                ValidityPeriod = m.ExpiresAt is { } expires ? SmppTime.Format(DateTimeOffset.FromUnixTimeMilliseconds(expires)) : "",
                ShortMessage = part.ShortMessage,
            }, ct);
        }
        try
        {
            await Task.WhenAll(submits);
        }
        catch (Exception)
        {
            // Looked at part by part below.
        }
        var ids = submits.Select((t, i) => taken.TryGetValue(i + 1, out var known) ? known : t.IsCompletedSuccessfully ? NormalizeSubmitId(t.Result) : null).ToList();
        var errors = submits.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).ToList();
        // The error that decides what happens next: a refusal before a temporary failure, a slow-down last.
        var error = errors.Count == 0 ? null
            : errors.OfType<SubmitFailedException>().OrderBy(e => e.Temporary).ThenBy(e => e.RetryAfter is null).FirstOrDefault()
              ?? errors.FirstOrDefault(e => e is OperationCanceledException) ?? errors[0];
        if (error is null && submits.Any(t => t.IsCanceled)) error = new OperationCanceledException(ct);
        return new SubmitOutcome(ids, error);
    }

    private async Task<string> SubmitAsync(SubmitSm submit, CancellationToken ct)
    {
        if (_tps is not null)
        {
            using var lease = await _tps.AcquireAsync(1, ct);
        }
        var pause = Interlocked.Read(ref _throttledUntil) - _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (pause > 0) await Task.Delay(TimeSpan.FromMilliseconds(pause), _time, ct);
        var session = PickTransmitter() ?? throw new SubmitFailedException("connector_not_bound", true);
        Pdu response;
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            response = await session.SendRequestAsync(submit, ct);
            EngineMetrics.SmscRoundTrip.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(sent).TotalSeconds);
        }
        catch (Exception e) when (e is IOException or TimeoutException or SmppFormatException)
        {
            throw new SubmitFailedException("smsc_no_response", true);
        }
        if (response.Status is CommandStatus.EsmeRthrottled or CommandStatus.EsmeRmsgqful)
        {
            // SMPP 3.4: throttled and queue-full mean "slow down", not "fail": the whole connector pauses, doubling
            // the pause while the SMSC keeps saying so (50 ms up to 2 s).
            var delay = Math.Clamp(Interlocked.Read(ref _throttleDelayMs) * 2, 50, 2000);
            Interlocked.Exchange(ref _throttleDelayMs, delay);
            Interlocked.Exchange(ref _throttledUntil, _time.GetUtcNow().ToUnixTimeMilliseconds() + delay);
            throw new SubmitFailedException($"smsc_busy:{response.Status}", true, TimeSpan.FromMilliseconds(delay));
        }
        if (response.Status == CommandStatus.EsmeRok)
        {
            Interlocked.Exchange(ref _throttleDelayMs, 0);
            Interlocked.Increment(ref _submittedParts);
        }
        return response.Status switch
        {
            CommandStatus.EsmeRok => ((SubmitSmResp)response).MessageId,
            CommandStatus.EsmeRsyserr => throw new SubmitFailedException($"smsc_busy:{response.Status}", true),
            CommandStatus.EsmeRinvdstadr => throw new SubmitFailedException("invalid_number", false),
            var s => throw new SubmitFailedException($"smsc_rejected:{s}", false),
        };
    }

    public ValueTask HandleAsync(SmppSession session, Pdu request)
    {
        switch (request)
        {
            case DeliverSm deliver:
                OnDeliver(session, deliver);
                break;
            case AlertNotification alert:
                // No response: SMPP 3.4 §4.12 defines none for alert_notification.
                Alert?.Invoke(Name, alert);
                break;
            default:
                session.Send(new GenericNack { Sequence = request.Sequence, Status = CommandStatus.EsmeRinvcmdid });
                break;
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A receipt or reply is acknowledged (deliver_sm_resp) only once it is on disk, so an SMSC whose deliver_sm went
    /// unanswered because we crashed sends it again.
    /// </summary>
    private void OnDeliver(SmppSession session, DeliverSm deliver)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        void Acknowledge() => session.Send(deliver.CreateResponse());
        var messageType = deliver.EsmClass & 0x3C;
        if (messageType == 0x20)
        {
            // SMPP 3.4 §5.2.12: an intermediate delivery notification; the final receipt follows.
            Acknowledge();
            return;
        }
        if (messageType == EsmClass.DeliveryReceipt || deliver.GetTlv(Smpp.TlvTag.ReceiptedMessageId) is not null && messageType != 0)
        {
            var receipt = DeliveryReceipt.FromDeliverSm(deliver);
            if (receipt is null)
            {
                _logger.LogWarning("Connector {Connector} sent a receipt that could not be read", Name);
                Acknowledge();
                return;
            }
            if (receipt.Stat is "ENROUTE" or "ACCEPTD")
            {
                // Not final: the message is still on its way.
                Acknowledge();
                return;
            }
            _writer.Post(new ReceiptReceived(Name, SmscMessageId.Normalize(receipt.MessageId, (_options.MessageIdType & 2) != 0), receipt.Stat, receipt.Error, now)
            {
                Committed = Acknowledge,
            });
            return;
        }
        // A reply whose header cannot be read is taken as a message of its own.
        var (concatenation, text, _) = ShortMessageContent.Of(deliver);
        if (concatenation is not { } c)
        {
            _writer.Post(new MoReceived(Name, deliver.SourceAddr, deliver.DestinationAddr, text, now) { Committed = Acknowledge });
            return;
        }
        var key = (deliver.SourceAddr, deliver.DestinationAddr, c.Reference);
        var entry = _moParts.GetOrAdd(key, _ => (new string?[c.Total], now));
        bool complete;
        lock (entry.Parts)
        {
            if (c.Sequence < 1 || c.Sequence > entry.Parts.Length)
            {
                Acknowledge();
                return;
            }
            entry.Parts[c.Sequence - 1] = text;
            complete = entry.Parts.All(p => p is not null);
        }
        if (!complete)
        {
            // Earlier parts wait in memory for the last one; they are acknowledged as they come.
            Acknowledge();
            return;
        }
        _moParts.TryRemove(key, out _);
        _writer.Post(new MoReceived(Name, deliver.SourceAddr, deliver.DestinationAddr, string.Concat(entry.Parts), now) { Committed = Acknowledge });
        foreach (var (k, v) in _moParts)
        {
            // Parts whose siblings never came are dropped after ten minutes.
            if (now - v.FirstSeen > 600_000) _moParts.TryRemove(k, out _);
        }
    }

    /// <summary>
    /// A connection the SMSC opened to us: it must identify itself with outbind (system_id and password as our bind
    /// uses them); we answer with bind_receiver on the same connection, and receipts and replies then flow on it.
    /// </summary>
    private sealed class OutbindHandler(SmppConnector connector) : ISmppRequestHandler
    {
        public ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            if (request is Outbind outbind)
            {
                if (outbind.SystemId != connector._options.SystemId || outbind.Password != connector._options.Password)
                {
                    connector._logger.LogWarning("Connector {Connector} refused an outbind from {Remote} with wrong credentials", connector.Name, session.RemoteEndPoint);
                    _ = session.CloseAsync(graceful: false);
                    return ValueTask.CompletedTask;
                }
                _ = BindBackAsync(session);
                return ValueTask.CompletedTask;
            }
            if (session.BoundAs is null)
            {
                session.Send(new GenericNack { Sequence = request.Sequence, Status = CommandStatus.EsmeRinvbndsts });
                return ValueTask.CompletedTask;
            }
            return connector.HandleAsync(session, request);
        }

        private async Task BindBackAsync(SmppSession session)
        {
            try
            {
                var bind = new Bind(BindType.Receiver) { SystemId = connector._options.SystemId, Password = connector._options.Password, SystemType = connector._options.SystemType };
                // Bound from the moment the bind goes out: an SMSC that outbinds has receipts waiting and may send them
                // right behind its bind_resp, in the same read.
                session.BoundAs = BindType.Receiver;
                var response = await session.SendRequestAsync(bind);
                if (response.Status != CommandStatus.EsmeRok)
                {
                    session.BoundAs = null;
                    await session.CloseAsync(graceful: false);
                    return;
                }
                session.SystemId = connector._options.SystemId;
                connector._logger.LogInformation("Connector {Connector} bound as receiver after an outbind from {Remote}", connector.Name, session.RemoteEndPoint);
            }
            catch (Exception e) when (e is IOException or TimeoutException or SmppFormatException)
            {
                await session.CloseAsync(graceful: false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_outbind is not null) await _outbind.DisposeAsync();
        _stop.Cancel();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
        }
        _tps?.Dispose();
    }
}
