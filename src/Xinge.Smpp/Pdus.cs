using System.Text;

namespace Xinge.Smpp;

/// <summary>An SMPP 3.4 PDU: the header fields, the body (in subclasses) and optional parameters.</summary>
public abstract class Pdu
{
    public abstract CommandId CommandId { get; }
    public CommandStatus Status { get; set; }
    public uint Sequence { get; set; }
    public List<Tlv>? Tlvs { get; set; }

    public bool IsResponse => ((uint)CommandId & 0x80000000) != 0;

    public virtual void EncodeBody(ref PduWriter writer) { }
    public virtual void DecodeBody(ref PduReader reader) { }

    public byte[]? GetTlv(ushort tag)
    {
        if (Tlvs is null) return null;
        foreach (var t in Tlvs)
        {
            if (t.Tag == tag) return t.Value;
        }
        return null;
    }

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

/// <summary>submit_sm and deliver_sm share their body (SMPP 3.4 §4.4.1 and §4.6.1).</summary>
public abstract class ShortMessagePdu : Pdu
{
    public string ServiceType { get; set; } = "";
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public byte DestAddrTon { get; set; }
    public byte DestAddrNpi { get; set; }
    public string DestinationAddr { get; set; } = "";
    public byte EsmClass { get; set; }
    public byte ProtocolId { get; set; }
    public byte PriorityFlag { get; set; }
    public string ScheduleDeliveryTime { get; set; } = "";
    public string ValidityPeriod { get; set; } = "";
    public byte RegisteredDelivery { get; set; }
    public byte ReplaceIfPresentFlag { get; set; }
    public byte DataCoding { get; set; }
    public byte SmDefaultMsgId { get; set; }
    public byte[] ShortMessage { get; set; } = [];

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(ServiceType);
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        w.WriteCString(SourceAddr);
        w.WriteByte(DestAddrTon);
        w.WriteByte(DestAddrNpi);
        w.WriteCString(DestinationAddr);
        w.WriteByte(EsmClass);
        w.WriteByte(ProtocolId);
        w.WriteByte(PriorityFlag);
        w.WriteCString(ScheduleDeliveryTime);
        w.WriteCString(ValidityPeriod);
        w.WriteByte(RegisteredDelivery);
        w.WriteByte(ReplaceIfPresentFlag);
        w.WriteByte(DataCoding);
        w.WriteByte(SmDefaultMsgId);
        w.WriteByte((byte)ShortMessage.Length);
        w.WriteBytes(ShortMessage);
    }

    public override void DecodeBody(ref PduReader r)
    {
        ServiceType = r.ReadCString(6);
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        SourceAddr = r.ReadCString(21);
        DestAddrTon = r.ReadByte();
        DestAddrNpi = r.ReadByte();
        DestinationAddr = r.ReadCString(21);
        EsmClass = r.ReadByte();
        ProtocolId = r.ReadByte();
        PriorityFlag = r.ReadByte();
        ScheduleDeliveryTime = r.ReadCString(17);
        ValidityPeriod = r.ReadCString(17);
        RegisteredDelivery = r.ReadByte();
        ReplaceIfPresentFlag = r.ReadByte();
        DataCoding = r.ReadByte();
        SmDefaultMsgId = r.ReadByte();
        var length = r.ReadByte();
        ShortMessage = r.ReadBytes(length).ToArray();
    }

    /// <summary>The user data: short_message, or message_payload when short_message is empty (SMPP 3.4 §5.3.2.32).</summary>
    public byte[] UserData => ShortMessage.Length == 0 && GetTlv(TlvTag.MessagePayload) is { } payload ? payload : ShortMessage;
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
