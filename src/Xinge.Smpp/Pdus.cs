using System.Text;

namespace Xinge.Smpp;

/// <summary>An SMPP 3.4 PDU: the header fields, the body (in subclasses) and optional parameters.</summary>
public abstract class Pdu
{
    private List<Tlv>? _tlvs;
    private byte[] _raw = [];
    private int _tlvStart;
    private int _tlvEnd;

    public abstract CommandId CommandId { get; }
    public CommandStatus Status { get; set; }
    public uint Sequence { get; set; }

    /// <summary>The optional parameters; parsed from the decoded frame only when first asked for.</summary>
    public List<Tlv>? Tlvs
    {
        get
        {
            if (_tlvs is null && _tlvEnd > _tlvStart)
            {
                var reader = new PduReader(_raw.AsSpan(0, _tlvEnd));
                reader.Position = _tlvStart;
                _tlvs = reader.ReadTlvs();
                _tlvStart = _tlvEnd = 0;
            }
            return _tlvs;
        }
        set
        {
            _tlvs = value;
            _tlvStart = _tlvEnd = 0;
        }
    }

    /// <summary>The frame this PDU was decoded from, kept in a buffer the PDU reuses; lazily read fields point into it.</summary>
    protected byte[] Raw => _raw;

    public bool IsResponse => ((uint)CommandId & 0x80000000) != 0;

    public virtual void EncodeBody(ref PduWriter writer) { }
    public virtual void DecodeBody(ref PduReader reader) { }

    /// <summary>Fields of this PDU point into the decoded frame instead of being copied out of it.</summary>
    internal virtual bool ReadsLazily => false;

    internal void Capture(ReadOnlySpan<byte> frame)
    {
        if (_raw.Length < frame.Length) _raw = new byte[_raw.Length == 0 ? frame.Length : Math.Max(frame.Length, _raw.Length * 2)];
        frame.CopyTo(_raw);
    }

    internal void SetLazyTlvs(int start, int end)
    {
        _tlvs = null;
        (_tlvStart, _tlvEnd) = (start, end);
    }

    internal void EncodeTlvs(ref PduWriter writer)
    {
        if (_tlvs is not null)
        {
            foreach (var tlv in _tlvs) writer.WriteTlv(tlv);
        }
        else if (_tlvEnd > _tlvStart)
        {
            writer.WriteBytes(_raw.AsSpan(_tlvStart, _tlvEnd - _tlvStart));
        }
    }

    /// <summary>An optional parameter's value without copying it; false when the PDU has none with that tag.</summary>
    public bool TryGetTlv(ushort tag, out ReadOnlySpan<byte> value)
    {
        if (_tlvs is null && _tlvEnd > _tlvStart)
        {
            var region = _raw.AsSpan(_tlvStart, _tlvEnd - _tlvStart);
            while (region.Length >= 4)
            {
                var t = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(region);
                var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(region[2..]);
                if (t == tag)
                {
                    value = region.Slice(4, length);
                    return true;
                }
                region = region[(4 + length)..];
            }
            value = default;
            return false;
        }
        foreach (var t in _tlvs ?? [])
        {
            if (t.Tag == tag)
            {
                value = t.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    public byte[]? GetTlv(ushort tag) => TryGetTlv(tag, out var value) ? value.ToArray() : null;

    public void SetTlv(ushort tag, byte[] value)
    {
        Tlvs ??= [];
        Tlvs.RemoveAll(t => t.Tag == tag);
        Tlvs.Add(new Tlv(tag, value));
    }

    /// <summary>The response this request expects, with the same sequence number.</summary>
    public virtual Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) =>
        throw new InvalidOperationException($"{CommandId} has no response");

    public static Pdu? Create(CommandId id) => id switch
    {
        CommandId.GenericNack => new GenericNack(),
        CommandId.BindReceiver => new Bind(BindType.Receiver),
        CommandId.BindTransmitter => new Bind(BindType.Transmitter),
        CommandId.BindTransceiver => new Bind(BindType.Transceiver),
        CommandId.BindReceiverResp => new BindResp(BindType.Receiver),
        CommandId.BindTransmitterResp => new BindResp(BindType.Transmitter),
        CommandId.BindTransceiverResp => new BindResp(BindType.Transceiver),
        CommandId.SubmitSm => new SubmitSm(),
        CommandId.SubmitSmResp => new SubmitSmResp(),
        CommandId.DeliverSm => new DeliverSm(),
        CommandId.DeliverSmResp => new DeliverSmResp(),
        CommandId.Unbind => new Unbind(),
        CommandId.UnbindResp => new UnbindResp(),
        CommandId.EnquireLink => new EnquireLink(),
        CommandId.EnquireLinkResp => new EnquireLinkResp(),
        CommandId.AlertNotification => new AlertNotification(),
        CommandId.Outbind => new Outbind(),
        CommandId.QuerySm => new QuerySm(),
        CommandId.QuerySmResp => new QuerySmResp(),
        CommandId.CancelSm => new CancelSm(),
        CommandId.CancelSmResp => new CancelSmResp(),
        CommandId.ReplaceSm => new ReplaceSm(),
        CommandId.ReplaceSmResp => new ReplaceSmResp(),
        CommandId.DataSm => new DataSm(),
        CommandId.DataSmResp => new DataSmResp(),
        CommandId.SubmitMulti => new SubmitMulti(),
        CommandId.SubmitMultiResp => new SubmitMultiResp(),
        _ => null,
    };
}

public sealed class GenericNack : Pdu
{
    public override CommandId CommandId => CommandId.GenericNack;
}

public sealed class Bind(BindType type) : Pdu
{
    public BindType Type { get; } = type;
    public string SystemId { get; set; } = "";
    public string Password { get; set; } = "";
    public string SystemType { get; set; } = "";
    public byte InterfaceVersion { get; set; } = 0x34;
    public byte AddrTon { get; set; }
    public byte AddrNpi { get; set; }
    public string AddressRange { get; set; } = "";

    public override CommandId CommandId => Type switch
    {
        BindType.Receiver => CommandId.BindReceiver,
        BindType.Transmitter => CommandId.BindTransmitter,
        _ => CommandId.BindTransceiver,
    };

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(SystemId);
        w.WriteCString(Password);
        w.WriteCString(SystemType);
        w.WriteByte(InterfaceVersion);
        w.WriteByte(AddrTon);
        w.WriteByte(AddrNpi);
        w.WriteCString(AddressRange);
    }

    public override void DecodeBody(ref PduReader r)
    {
        SystemId = r.ReadCString(16);
        Password = r.ReadCString(9);
        SystemType = r.ReadCString(13);
        InterfaceVersion = r.ReadByte();
        AddrTon = r.ReadByte();
        AddrNpi = r.ReadByte();
        AddressRange = r.ReadCString(41);
    }

    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) =>
        new BindResp(Type) { Sequence = Sequence, Status = status };
}

public sealed class BindResp(BindType type) : Pdu
{
    public BindType Type { get; } = type;
    public string SystemId { get; set; } = "";

    public override CommandId CommandId => Type switch
    {
        BindType.Receiver => CommandId.BindReceiverResp,
        BindType.Transmitter => CommandId.BindTransmitterResp,
        _ => CommandId.BindTransceiverResp,
    };

    public override void EncodeBody(ref PduWriter w) => w.WriteCString(SystemId);
    public override void DecodeBody(ref PduReader r) => SystemId = r.ReadCString(16);
}

/// <summary>A C-Octet String field read from the frame only when asked for (the steady-state decode allocates nothing).</summary>
internal struct LazyCString
{
    private string? _value;
    private int _offset;
    private int _length;

    public string Get(byte[] raw) => _value ??= _length == 0 ? "" : Encoding.Latin1.GetString(raw, _offset, _length);

    public void Set(string? value) => (_value, _offset, _length) = (value ?? "", 0, 0);

    public void SetRaw((int Offset, int Length) range) => (_value, _offset, _length) = (null, range.Offset, range.Length);

    public readonly void Write(ref PduWriter w, byte[] raw)
    {
        if (_value is not null)
        {
            w.WriteCString(_value);
            return;
        }
        w.WriteBytes(raw.AsSpan(_offset, _length));
        w.WriteByte(0);
    }
}

/// <summary>submit_sm and deliver_sm share their body (SMPP 3.4 §4.4.1 and §4.6.1). Text fields are read lazily.</summary>
public abstract class ShortMessagePdu : Pdu
{
    private LazyCString _serviceType;
    private LazyCString _sourceAddr;
    private LazyCString _destinationAddr;
    private LazyCString _scheduleDeliveryTime;
    private LazyCString _validityPeriod;
    private byte[]? _shortMessage = [];
    private int _shortMessageOffset;
    private int _shortMessageLength;

    internal override bool ReadsLazily => true;

    public string ServiceType { get => _serviceType.Get(Raw); set => _serviceType.Set(value); }
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get => _sourceAddr.Get(Raw); set => _sourceAddr.Set(value); }
    public byte DestAddrTon { get; set; }
    public byte DestAddrNpi { get; set; }
    public string DestinationAddr { get => _destinationAddr.Get(Raw); set => _destinationAddr.Set(value); }
    public byte EsmClass { get; set; }
    public byte ProtocolId { get; set; }
    public byte PriorityFlag { get; set; }
    public string ScheduleDeliveryTime { get => _scheduleDeliveryTime.Get(Raw); set => _scheduleDeliveryTime.Set(value); }
    public string ValidityPeriod { get => _validityPeriod.Get(Raw); set => _validityPeriod.Set(value); }
    public byte RegisteredDelivery { get; set; }
    public byte ReplaceIfPresentFlag { get; set; }
    public byte DataCoding { get; set; }
    public byte SmDefaultMsgId { get; set; }

    public byte[] ShortMessage
    {
        get => _shortMessage ??= Raw.AsSpan(_shortMessageOffset, _shortMessageLength).ToArray();
        set => _shortMessage = value ?? [];
    }

    /// <summary>The short_message without copying it.</summary>
    public ReadOnlySpan<byte> ShortMessageSpan => _shortMessage ?? Raw.AsSpan(_shortMessageOffset, _shortMessageLength);

    public override void EncodeBody(ref PduWriter w)
    {
        _serviceType.Write(ref w, Raw);
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        _sourceAddr.Write(ref w, Raw);
        w.WriteByte(DestAddrTon);
        w.WriteByte(DestAddrNpi);
        _destinationAddr.Write(ref w, Raw);
        w.WriteByte(EsmClass);
        w.WriteByte(ProtocolId);
        w.WriteByte(PriorityFlag);
        _scheduleDeliveryTime.Write(ref w, Raw);
        _validityPeriod.Write(ref w, Raw);
        w.WriteByte(RegisteredDelivery);
        w.WriteByte(ReplaceIfPresentFlag);
        w.WriteByte(DataCoding);
        w.WriteByte(SmDefaultMsgId);
        var sm = ShortMessageSpan;
        w.WriteByte((byte)sm.Length);
        w.WriteBytes(sm);
    }

    public override void DecodeBody(ref PduReader r)
    {
        _serviceType.SetRaw(r.ReadCStringRange(6));
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        _sourceAddr.SetRaw(r.ReadCStringRange(21));
        DestAddrTon = r.ReadByte();
        DestAddrNpi = r.ReadByte();
        _destinationAddr.SetRaw(r.ReadCStringRange(21));
        EsmClass = r.ReadByte();
        ProtocolId = r.ReadByte();
        PriorityFlag = r.ReadByte();
        _scheduleDeliveryTime.SetRaw(r.ReadCStringRange(17));
        _validityPeriod.SetRaw(r.ReadCStringRange(17));
        RegisteredDelivery = r.ReadByte();
        ReplaceIfPresentFlag = r.ReadByte();
        DataCoding = r.ReadByte();
        SmDefaultMsgId = r.ReadByte();
        _shortMessageLength = r.ReadByte();
        _shortMessageOffset = r.ReadRange(_shortMessageLength);
        _shortMessage = null;
    }

    /// <summary>The user data: short_message, or message_payload when short_message is empty (SMPP 3.4 §5.3.2.32).</summary>
    public byte[] UserData => ShortMessageSpan.Length == 0 && GetTlv(TlvTag.MessagePayload) is { } payload ? payload : ShortMessage;
}

public sealed class SubmitSm : ShortMessagePdu
{
    public override CommandId CommandId => CommandId.SubmitSm;
    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) =>
        new SubmitSmResp { Sequence = Sequence, Status = status };
}

public sealed class DeliverSm : ShortMessagePdu
{
    public override CommandId CommandId => CommandId.DeliverSm;
    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) =>
        new DeliverSmResp { Sequence = Sequence, Status = status };
}

public abstract class MessageIdResp : Pdu
{
    public string MessageId { get; set; } = "";
    public override void EncodeBody(ref PduWriter w) => w.WriteCString(MessageId);
    public override void DecodeBody(ref PduReader r) => MessageId = r.ReadCString(65);
}

public sealed class SubmitSmResp : MessageIdResp
{
    public override CommandId CommandId => CommandId.SubmitSmResp;
}

public sealed class DeliverSmResp : MessageIdResp
{
    public override CommandId CommandId => CommandId.DeliverSmResp;
}

public sealed class Unbind : Pdu
{
    public override CommandId CommandId => CommandId.Unbind;
    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new UnbindResp { Sequence = Sequence, Status = status };
}

public sealed class UnbindResp : Pdu
{
    public override CommandId CommandId => CommandId.UnbindResp;
}

public sealed class EnquireLink : Pdu
{
    public override CommandId CommandId => CommandId.EnquireLink;
    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new EnquireLinkResp { Sequence = Sequence, Status = status };
}

public sealed class EnquireLinkResp : Pdu
{
    public override CommandId CommandId => CommandId.EnquireLinkResp;
}

/// <summary>SMPP 3.4 §4.12.1: the SMSC tells the ESME a subscriber it asked about (set_dpf) is reachable again.</summary>
public sealed class AlertNotification : Pdu
{
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public byte EsmeAddrTon { get; set; }
    public byte EsmeAddrNpi { get; set; }
    public string EsmeAddr { get; set; } = "";

    public override CommandId CommandId => CommandId.AlertNotification;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        w.WriteCString(SourceAddr);
        w.WriteByte(EsmeAddrTon);
        w.WriteByte(EsmeAddrNpi);
        w.WriteCString(EsmeAddr);
    }

    public override void DecodeBody(ref PduReader r)
    {
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        SourceAddr = r.ReadCString(65);
        EsmeAddrTon = r.ReadByte();
        EsmeAddrNpi = r.ReadByte();
        EsmeAddr = r.ReadCString(65);
    }
}

/// <summary>
/// A delivery receipt in the customary text form (SMPP 3.4 Appendix B):
/// <c>id:… sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:…</c>.
/// </summary>
public sealed record DeliveryReceipt(string MessageId, string Stat, string Error, DateTime? SubmitDate, DateTime? DoneDate, string Text = "")
{
    public const string Delivered = "DELIVRD";
    public const string Undeliverable = "UNDELIV";
    public const string Expired = "EXPIRED";
    public const string Rejected = "REJECTD";
    public const string Unknown = "UNKNOWN";

    public bool IsDelivered => Stat == Delivered;

    public string Format()
    {
        var delivered = IsDelivered ? "001" : "000";
        return $"id:{MessageId} sub:001 dlvrd:{delivered} submit date:{FormatDate(SubmitDate)} done date:{FormatDate(DoneDate)} stat:{Stat} err:{Error} text:{Text}";
    }

    private static string FormatDate(DateTime? d) => d?.ToString("yyMMddHHmm") ?? "0000000000";

    /// <summary>Parses the receipt text leniently (field order and case vary between SMSCs); null if it has no id and stat.</summary>
    public static DeliveryReceipt? Parse(string text)
    {
        string? id = null, stat = null, err = "000", body = "";
        DateTime? submit = null, done = null;
        var t = text;
        var textAt = t.IndexOf("text:", StringComparison.OrdinalIgnoreCase);
        if (textAt >= 0)
        {
            body = t[(textAt + 5)..];
            t = t[..textAt];
        }
        var tokens = t.Replace("submit date:", "submit_date:", StringComparison.OrdinalIgnoreCase)
            .Replace("done date:", "done_date:", StringComparison.OrdinalIgnoreCase)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var token in tokens)
        {
            var colon = token.IndexOf(':');
            if (colon <= 0) continue;
            var key = token[..colon].ToLowerInvariant();
            var value = token[(colon + 1)..];
            switch (key)
            {
                case "id": id = value; break;
                case "stat": stat = value.ToUpperInvariant(); break;
                case "err": err = value; break;
                case "submit_date": submit = ParseDate(value); break;
                case "done_date": done = ParseDate(value); break;
            }
        }
        return id is null || stat is null ? null : new DeliveryReceipt(id, stat, err, submit, done, body);
    }

    private static DateTime? ParseDate(string value) =>
        DateTime.TryParseExact(value, value.Length == 12 ? "yyMMddHHmmss" : "yyMMddHHmm", null,
            System.Globalization.DateTimeStyles.None, out var d) ? d : null;

    /// <summary>Reads a receipt from a deliver_sm: the text form, with receipted_message_id and message_state TLVs preferred when present.</summary>
    public static DeliveryReceipt? FromDeliverSm(DeliverSm pdu)
    {
        var text = Encoding.Latin1.GetString(pdu.UserData);
        var receipt = Parse(text);
        var tlvId = pdu.GetTlv(TlvTag.ReceiptedMessageId);
        var tlvState = pdu.GetTlv(TlvTag.MessageState);
        if (tlvId is null) return receipt;
        var id = Encoding.ASCII.GetString(tlvId).TrimEnd('\0');
        var stat = tlvState is { Length: 1 } ? StatOf((MessageState)tlvState[0]) : receipt?.Stat ?? Unknown;
        return (receipt ?? new DeliveryReceipt(id, stat, "000", null, null)) with { MessageId = id, Stat = stat };
    }

    public static string StatOf(MessageState state) => state switch
    {
        MessageState.Delivered => Delivered,
        MessageState.Expired => Expired,
        MessageState.Undeliverable => Undeliverable,
        MessageState.Rejected => Rejected,
        MessageState.Deleted => "DELETED",
        MessageState.Accepted => "ACCEPTD",
        MessageState.Enroute => "ENROUTE",
        _ => Unknown,
    };

    public static MessageState StateOf(string stat) => stat switch
    {
        Delivered => MessageState.Delivered,
        Expired => MessageState.Expired,
        Undeliverable => MessageState.Undeliverable,
        Rejected => MessageState.Rejected,
        _ => MessageState.Unknown,
    };
}
