using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Simulator;

public sealed class SimulatorOptions
{
    public int Port { get; set; } = 2776;
    /// <summary>Empty accepts any system_id and password (a lab SMSC); otherwise binds must match.</summary>
    public string SystemId { get; set; } = "";
    public string Password { get; set; } = "";
    /// <summary>Keep what handsets receive (off for load tests that only need receipts).</summary>
    public bool KeepMessages { get; set; } = true;
    public int WindowSize { get; set; } = 1000;
}

/// <summary>
/// An SMSC with virtual handsets: accepts binds and submit_sm, reassembles concatenated SMS for the handset,
/// sends delivery receipts, holds messages for switched-off handsets, raises alert_notification after set_dpf,
/// and sends mobile-originated SMS from a handset.
/// </summary>
public sealed class SmscSimulator : IAsyncDisposable
{
    private readonly SimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Handset> _handsets = new();
    private readonly SmppListener _listener;
    private long _nextMessageId = 0x10000000 + Random.Shared.Next(0x0FFFFFFF);
    /// <summary>Receipts for an ESME with no receiver bound wait here, as an SMSC keeps them, until it binds again.</summary>
    private readonly ConcurrentDictionary<string, ConcurrentQueue<DeliverSm>> _heldReceipts = new();
    private int _moReference;

    public SmscSimulator(SimulatorOptions options, TimeProvider? time = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _listener = new SmppListener(IPAddress.Loopback, options.Port, () => new EsmeHandler(this),
            new SmppSessionOptions { WindowSize = options.WindowSize, EnquireLinkInterval = TimeSpan.Zero });
    }

    public int Port => _listener.Port;
    public long SubmittedParts;
    public long ReceiptsSent;

    public void Start() => _listener.Start();

    public static string Normalize(string msisdn) => msisdn.Trim().TrimStart('+');

    /// <summary>Every handset the network has seen: sent to, switched, or sending.</summary>
    public IReadOnlyCollection<Handset> Handsets => _handsets.Values.ToList();

    public Handset GetHandset(string msisdn) => _handsets.GetOrAdd(Normalize(msisdn), m => new Handset(m));

    public IReadOnlyList<HandsetMessage> MessagesOf(string msisdn) =>
        _handsets.TryGetValue(Normalize(msisdn), out var h) ? h.Messages : [];

    /// <summary>Switches a handset on or off and sets whether deliveries to it fail.</summary>
    public void SetHandset(string msisdn, bool reachable, DeliveryFailure? failure)
    {
        var handset = GetHandset(msisdn);
        List<PendingPart> release = [];
        List<(string SystemId, string EsmeAddr)> alerts = [];
        lock (handset.Gate)
        {
            if (failure is { } f) handset.Failure = f;
            var cameBack = reachable && !handset.Reachable;
            handset.Reachable = reachable;
            if (cameBack)
            {
                release.AddRange(handset.Pending);
                handset.Pending.Clear();
                alerts.AddRange(handset.AlertRequests);
                handset.AlertRequests.Clear();
            }
        }
        foreach (var part in release) Deliver(handset, part);
        foreach (var (systemId, esmeAddr) in alerts)
        {
            var alert = new AlertNotification
            {
                SourceAddrTon = 1,
                SourceAddrNpi = 1,
                SourceAddr = handset.Msisdn,
                EsmeAddrTon = 0,
                EsmeAddrNpi = 1,
                EsmeAddr = esmeAddr,
            };
            // SMPP 3.4 §5.3.2.32: ms_availability_status 0 = available.
            alert.SetTlv(TlvTag.MsAvailabilityStatus, [0]);
            if (ReceiverFor(systemId) is { } session) session.Send(Stamp(session, alert));
        }
    }

    private static Pdu Stamp(SmppSession session, Pdu pdu)
    {
        pdu.Sequence = session.NextSequence();
        return pdu;
    }

    /// <summary>The handset sends an SMS to a short code or long number; it reaches a bound receiver as deliver_sm.</summary>
    public bool SendFromHandset(string msisdn, string to, string text)
    {
        var from = Normalize(msisdn);
        var session = ReceiverFor(null);
        if (session is null) return false;
        var encoding = SmsText.ChooseEncoding(text);
        var parts = SmsText.Encode(text, encoding, (byte)Interlocked.Increment(ref _moReference));
        foreach (var part in parts)
        {
            var pdu = new DeliverSm
            {
                SourceAddrTon = 1,
                SourceAddrNpi = 1,
                SourceAddr = from,
                DestAddrTon = 0,
                DestAddrNpi = 1,
                DestinationAddr = Normalize(to),
                EsmClass = part.HasUdh ? EsmClass.UdhIndicator : (byte)0,
                DataCoding = (byte)encoding,
                ShortMessage = part.ShortMessage,
            };
            _ = session.SendRequestAsync(pdu).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
        var handset = GetHandset(from);
        lock (handset.Gate) handset.Outbox.Add(new HandsetSent(Normalize(to), text, _time.GetUtcNow()));
        return true;
    }

    private SmppSession? ReceiverFor(string? systemId)
    {
        SmppSession? any = null;
        foreach (var s in _listener.Sessions)
        {
            if (!s.CanReceive || !s.IsOpen) continue;
            if (systemId is null || s.SystemId == systemId) return s;
            any ??= s;
        }
        return systemId is null ? any : null;
    }

    private string NewMessageId() => Interlocked.Increment(ref _nextMessageId).ToString("X8");

    private CommandStatus Authenticate(Bind bind)
    {
        if (_options.SystemId.Length == 0) return CommandStatus.EsmeRok;
        if (bind.SystemId != _options.SystemId) return CommandStatus.EsmeRinvsysid;
        return bind.Password == _options.Password ? CommandStatus.EsmeRok : CommandStatus.EsmeRinvpaswd;
    }

    private void OnSubmit(SmppSession session, SubmitSm submit)
    {
        var id = NewMessageId();
        session.Send(new SubmitSmResp { Sequence = submit.Sequence, MessageId = id });
        Interlocked.Increment(ref SubmittedParts);

        // A lab SMSC is lenient: a header it cannot read makes the part a message of its own.
        var (concatenation, text, _) = ShortMessageContent.Of(submit);
        var c = concatenation ?? new Concatenation(0, 1, 1);
        var part = new PendingPart(session.SystemId, id, submit.SourceAddr, text, c.Reference, Math.Max(1, c.Total), Math.Clamp(c.Sequence, 1, Math.Max(1, c.Total)), _time.GetUtcNow());
        var handset = GetHandset(submit.DestinationAddr);
        var wantsReceipt = (submit.RegisteredDelivery & 0x03) != 0;
        lock (handset.Gate)
        {
            if (!handset.Reachable)
            {
                handset.Pending.Add(part with { SystemId = wantsReceipt ? session.SystemId : "" });
                if (submit.GetTlv(TlvTag.SetDpf) is [1]) handset.AlertRequests.Add((session.SystemId, submit.SourceAddr));
                return;
            }
        }
        Deliver(handset, wantsReceipt ? part : part with { SystemId = "" });
    }

    private void Deliver(Handset handset, PendingPart part)
    {
        var failed = handset.Failure == DeliveryFailure.Undeliverable;
        if (!failed && _options.KeepMessages)
        {
            lock (handset.Gate)
            {
                if (part.Total <= 1)
                {
                    handset.Inbox.Add(new HandsetMessage(part.From, part.Text, _time.GetUtcNow()));
                }
                else
                {
                    var key = (part.From, part.Reference);
                    if (!handset.Reassembly.TryGetValue(key, out var parts) || parts.Length != part.Total)
                    {
                        handset.Reassembly[key] = parts = new string?[part.Total];
                    }
                    parts[part.Sequence - 1] = part.Text;
                    if (parts.All(p => p is not null))
                    {
                        handset.Reassembly.Remove(key);
                        handset.Inbox.Add(new HandsetMessage(part.From, string.Concat(parts), _time.GetUtcNow()));
                    }
                }
            }
        }
        if (part.SystemId.Length == 0) return;
        var receipt = new DeliveryReceipt(part.MessageId, failed ? DeliveryReceipt.Undeliverable : DeliveryReceipt.Delivered,
            failed ? "001" : "000", part.SubmittedAt.UtcDateTime, _time.GetUtcNow().UtcDateTime,
            part.Text.Length > 20 ? part.Text[..20] : part.Text);
        var pdu = new DeliverSm
        {
            SourceAddrTon = 1,
            SourceAddrNpi = 1,
            SourceAddr = handset.Msisdn,
            DestAddrTon = 0,
            DestAddrNpi = 1,
            DestinationAddr = part.From,
            EsmClass = EsmClass.DeliveryReceipt,
            ShortMessage = Encoding.ASCII.GetBytes(NonAscii(receipt.Format())),
        };
        pdu.SetTlv(TlvTag.ReceiptedMessageId, Encoding.ASCII.GetBytes(part.MessageId + "\0"));
        pdu.SetTlv(TlvTag.MessageState, [(byte)DeliveryReceipt.StateOf(receipt.Stat)]);
        SendReceipt(part.SystemId, pdu);
    }

    private void SendReceipt(string systemId, DeliverSm pdu)
    {
        var session = ReceiverFor(systemId);
        if (session is null)
        {
            _heldReceipts.GetOrAdd(systemId, _ => new ConcurrentQueue<DeliverSm>()).Enqueue(pdu);
            return;
        }
        Interlocked.Increment(ref ReceiptsSent);
        _ = session.SendRequestAsync(pdu).ContinueWith(t =>
        {
            // Not acknowledged (the ESME went away): keep it for the next bind, so no receipt is lost.
            if (t.IsFaulted || t.Result.Status != CommandStatus.EsmeRok)
                _heldReceipts.GetOrAdd(systemId, _ => new ConcurrentQueue<DeliverSm>()).Enqueue(pdu);
        }, TaskScheduler.Default);
    }

    /// <summary>Hands held receipts to a receiver that has just bound.</summary>
    private void ReleaseHeldReceipts(string systemId)
    {
        if (!_heldReceipts.TryGetValue(systemId, out var queue)) return;
        while (queue.TryDequeue(out var pdu)) SendReceipt(systemId, pdu);
    }

    public int HeldReceipts => _heldReceipts.Values.Sum(q => q.Count);

    private static string NonAscii(string s) => string.Create(s.Length, s, static (span, src) =>
    {
        for (var i = 0; i < span.Length; i++) span[i] = src[i] < 128 ? src[i] : '?';
    });

    public ValueTask DisposeAsync() => _listener.DisposeAsync();

    private sealed class EsmeHandler(SmscSimulator simulator) : ISmppRequestHandler
    {
        public ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            switch (request)
            {
                case Bind bind:
                    if (session.BoundAs is not null)
                    {
                        session.Send(bind.CreateResponse(CommandStatus.EsmeRalybnd));
                        break;
                    }
                    var status = simulator.Authenticate(bind);
                    if (status == CommandStatus.EsmeRok)
                    {
                        session.BoundAs = bind.Type;
                        session.SystemId = bind.SystemId;
                    }
                    session.Send(new BindResp(bind.Type) { Sequence = bind.Sequence, Status = status, SystemId = "XINGESIM" });
                    if (status == CommandStatus.EsmeRok && session.CanReceive) simulator.ReleaseHeldReceipts(bind.SystemId);
                    break;
                case SubmitSm submit when !session.CanTransmit:
                    session.Send(submit.CreateResponse(CommandStatus.EsmeRinvbndsts));
                    break;
                case SubmitSm submit:
                    simulator.OnSubmit(session, submit);
                    break;
                default:
                    session.Send(new GenericNack { Sequence = request.Sequence, Status = CommandStatus.EsmeRinvcmdid });
                    break;
            }
            return ValueTask.CompletedTask;
        }
    }
}
