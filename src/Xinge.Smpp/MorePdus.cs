namespace Xinge.Smpp;

/// <summary>SMPP 3.4 §4.1.7: the SMSC asks the ESME to bind as a receiver.</summary>
public sealed class Outbind : Pdu
{
    public string SystemId { get; set; } = "";
    public string Password { get; set; } = "";
    public override CommandId CommandId => CommandId.Outbind;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(SystemId);
        w.WriteCString(Password);
    }

    public override void DecodeBody(ref PduReader r)
    {
        SystemId = r.ReadCString(16);
        Password = r.ReadCString(9);
    }
}

/// <summary>SMPP 3.4 §4.8.1: the state of a message submitted earlier.</summary>
public sealed class QuerySm : Pdu
{
    public string MessageId { get; set; } = "";
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public override CommandId CommandId => CommandId.QuerySm;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(MessageId);
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        w.WriteCString(SourceAddr);
    }

    public override void DecodeBody(ref PduReader r)
    {
        MessageId = r.ReadCString(65);
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        SourceAddr = r.ReadCString(21);
    }

    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new QuerySmResp { Sequence = Sequence, Status = status, MessageId = MessageId };
}

public sealed class QuerySmResp : Pdu
{
    public string MessageId { get; set; } = "";
    /// <summary>YYMMDDhhmmsstnnp, or empty while the message is not final.</summary>
    public string FinalDate { get; set; } = "";
    public MessageState MessageState { get; set; } = MessageState.Unknown;
    public byte ErrorCode { get; set; }
    public override CommandId CommandId => CommandId.QuerySmResp;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(MessageId);
        w.WriteCString(FinalDate);
        w.WriteByte((byte)MessageState);
        w.WriteByte(ErrorCode);
    }

    public override void DecodeBody(ref PduReader r)
    {
        MessageId = r.ReadCString(65);
        FinalDate = r.ReadCString(17);
        MessageState = (MessageState)r.ReadByte();
        ErrorCode = r.ReadByte();
    }
}

/// <summary>SMPP 3.4 §4.9.1: withdraw a message not yet delivered.</summary>
public sealed class CancelSm : Pdu
{
    public string ServiceType { get; set; } = "";
    public string MessageId { get; set; } = "";
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public byte DestAddrTon { get; set; }
    public byte DestAddrNpi { get; set; }
    public string DestinationAddr { get; set; } = "";
    public override CommandId CommandId => CommandId.CancelSm;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(ServiceType);
        w.WriteCString(MessageId);
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        w.WriteCString(SourceAddr);
        w.WriteByte(DestAddrTon);
        w.WriteByte(DestAddrNpi);
        w.WriteCString(DestinationAddr);
    }

    public override void DecodeBody(ref PduReader r)
    {
        ServiceType = r.ReadCString(6);
        MessageId = r.ReadCString(65);
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        SourceAddr = r.ReadCString(21);
        DestAddrTon = r.ReadByte();
        DestAddrNpi = r.ReadByte();
        DestinationAddr = r.ReadCString(21);
    }

    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new CancelSmResp { Sequence = Sequence, Status = status };
}

public sealed class CancelSmResp : Pdu
{
    public override CommandId CommandId => CommandId.CancelSmResp;
}

/// <summary>SMPP 3.4 §4.10.1: replace the text of a message not yet delivered.</summary>
public sealed class ReplaceSm : Pdu
{
    public string MessageId { get; set; } = "";
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public string ScheduleDeliveryTime { get; set; } = "";
    public string ValidityPeriod { get; set; } = "";
    public byte RegisteredDelivery { get; set; }
    public byte SmDefaultMsgId { get; set; }
    public byte[] ShortMessage { get; set; } = [];
    public override CommandId CommandId => CommandId.ReplaceSm;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(MessageId);
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        w.WriteCString(SourceAddr);
        w.WriteCString(ScheduleDeliveryTime);
        w.WriteCString(ValidityPeriod);
        w.WriteByte(RegisteredDelivery);
        w.WriteByte(SmDefaultMsgId);
        w.WriteByte((byte)ShortMessage.Length);
        w.WriteBytes(ShortMessage);
    }

    public override void DecodeBody(ref PduReader r)
    {
        MessageId = r.ReadCString(65);
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        SourceAddr = r.ReadCString(21);
        ScheduleDeliveryTime = r.ReadCString(17);
        ValidityPeriod = r.ReadCString(17);
        RegisteredDelivery = r.ReadByte();
        SmDefaultMsgId = r.ReadByte();
        ShortMessage = r.ReadBytes(r.ReadByte()).ToArray();
    }

    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new ReplaceSmResp { Sequence = Sequence, Status = status };
}

public sealed class ReplaceSmResp : Pdu
{
    public override CommandId CommandId => CommandId.ReplaceSmResp;
}

/// <summary>SMPP 3.4 §4.7.1: a message in either direction, its text in message_payload.</summary>
public sealed class DataSm : Pdu
{
    public string ServiceType { get; set; } = "";
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public byte DestAddrTon { get; set; }
    public byte DestAddrNpi { get; set; }
    public string DestinationAddr { get; set; } = "";
    public byte EsmClass { get; set; }
    public byte RegisteredDelivery { get; set; }
    public byte DataCoding { get; set; }
    public override CommandId CommandId => CommandId.DataSm;

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
        w.WriteByte(RegisteredDelivery);
        w.WriteByte(DataCoding);
    }

    public override void DecodeBody(ref PduReader r)
    {
        ServiceType = r.ReadCString(6);
        SourceAddrTon = r.ReadByte();
        SourceAddrNpi = r.ReadByte();
        SourceAddr = r.ReadCString(65);
        DestAddrTon = r.ReadByte();
        DestAddrNpi = r.ReadByte();
        DestinationAddr = r.ReadCString(65);
        EsmClass = r.ReadByte();
        RegisteredDelivery = r.ReadByte();
        DataCoding = r.ReadByte();
    }

    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new DataSmResp { Sequence = Sequence, Status = status };
}

public sealed class DataSmResp : MessageIdResp
{
    public override CommandId CommandId => CommandId.DataSmResp;
}

/// <summary>A destination of submit_multi: an SME address (dest_flag 1) or a distribution list name (dest_flag 2).</summary>
public readonly record struct MultiDestination(byte Ton, byte Npi, string Address, string? DistributionList = null);

/// <summary>A destination submit_multi could not take, with its error (SMPP 3.4 §4.5.2).</summary>
public readonly record struct UnsuccessfulSme(byte Ton, byte Npi, string Address, CommandStatus Error);

/// <summary>SMPP 3.4 §4.5.1: one message to up to 254 destinations.</summary>
public sealed class SubmitMulti : Pdu
{
    public string ServiceType { get; set; } = "";
    public byte SourceAddrTon { get; set; }
    public byte SourceAddrNpi { get; set; }
    public string SourceAddr { get; set; } = "";
    public List<MultiDestination> Destinations { get; set; } = [];
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
    public override CommandId CommandId => CommandId.SubmitMulti;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(ServiceType);
        w.WriteByte(SourceAddrTon);
        w.WriteByte(SourceAddrNpi);
        w.WriteCString(SourceAddr);
        w.WriteByte((byte)Destinations.Count);
        foreach (var d in Destinations)
        {
            if (d.DistributionList is { } list)
            {
                w.WriteByte(2);
                w.WriteCString(list);
                continue;
            }
            w.WriteByte(1);
            w.WriteByte(d.Ton);
            w.WriteByte(d.Npi);
            w.WriteCString(d.Address);
        }
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
        var count = r.ReadByte();
        Destinations = new List<MultiDestination>(count);
        for (var i = 0; i < count; i++)
        {
            var flag = r.ReadByte();
            switch (flag)
            {
                case 1:
                    var ton = r.ReadByte();
                    var npi = r.ReadByte();
                    Destinations.Add(new MultiDestination(ton, npi, r.ReadCString(21)));
                    break;
                case 2:
                    Destinations.Add(new MultiDestination(0, 0, "", r.ReadCString(21)));
                    break;
                default:
                    throw new SmppFormatException(CommandStatus.EsmeRinvdestflag, $"dest_flag {flag} is neither 1 nor 2");
            }
        }
        EsmClass = r.ReadByte();
        ProtocolId = r.ReadByte();
        PriorityFlag = r.ReadByte();
        ScheduleDeliveryTime = r.ReadCString(17);
        ValidityPeriod = r.ReadCString(17);
        RegisteredDelivery = r.ReadByte();
        ReplaceIfPresentFlag = r.ReadByte();
        DataCoding = r.ReadByte();
        SmDefaultMsgId = r.ReadByte();
        ShortMessage = r.ReadBytes(r.ReadByte()).ToArray();
    }

    public byte[] UserData => ShortMessage.Length == 0 && GetTlv(TlvTag.MessagePayload) is { } payload ? payload : ShortMessage;

    public override Pdu CreateResponse(CommandStatus status = CommandStatus.EsmeRok) => new SubmitMultiResp { Sequence = Sequence, Status = status };
}

public sealed class SubmitMultiResp : Pdu
{
    public string MessageId { get; set; } = "";
    public List<UnsuccessfulSme> Unsuccessful { get; set; } = [];
    public override CommandId CommandId => CommandId.SubmitMultiResp;

    public override void EncodeBody(ref PduWriter w)
    {
        w.WriteCString(MessageId);
        w.WriteByte((byte)Unsuccessful.Count);
        foreach (var u in Unsuccessful)
        {
            w.WriteByte(u.Ton);
            w.WriteByte(u.Npi);
            w.WriteCString(u.Address);
            w.WriteUInt32((uint)u.Error);
        }
    }

    public override void DecodeBody(ref PduReader r)
    {
        MessageId = r.ReadCString(65);
        var count = r.ReadByte();
        Unsuccessful = new List<UnsuccessfulSme>(count);
        for (var i = 0; i < count; i++)
        {
            var ton = r.ReadByte();
            var npi = r.ReadByte();
            var address = r.ReadCString(21);
            Unsuccessful.Add(new UnsuccessfulSme(ton, npi, address, (CommandStatus)r.ReadUInt32()));
        }
    }
}
