namespace Xinge.Smpp;

/// <summary>SMPP 3.4 §5.1.2.1 command_id values, named as the spec names them.</summary>
public enum CommandId : uint
{
    GenericNack = 0x80000000,
    BindReceiver = 0x00000001,
    BindReceiverResp = 0x80000001,
    BindTransmitter = 0x00000002,
    BindTransmitterResp = 0x80000002,
    QuerySm = 0x00000003,
    QuerySmResp = 0x80000003,
    SubmitSm = 0x00000004,
    SubmitSmResp = 0x80000004,
    DeliverSm = 0x00000005,
    DeliverSmResp = 0x80000005,
    Unbind = 0x00000006,
    UnbindResp = 0x80000006,
    ReplaceSm = 0x00000007,
    ReplaceSmResp = 0x80000007,
    CancelSm = 0x00000008,
    CancelSmResp = 0x80000008,
    BindTransceiver = 0x00000009,
    BindTransceiverResp = 0x80000009,
    Outbind = 0x0000000B,
    EnquireLink = 0x00000015,
    EnquireLinkResp = 0x80000015,
    SubmitMulti = 0x00000021,
    SubmitMultiResp = 0x80000021,
    AlertNotification = 0x00000102,
    DataSm = 0x00000103,
    DataSmResp = 0x80000103,
}

/// <summary>SMPP 3.4 §5.1.3 command_status values.</summary>
public enum CommandStatus : uint
{
    EsmeRok = 0x00,
    EsmeRinvmsglen = 0x01,
    EsmeRinvcmdlen = 0x02,
    EsmeRinvcmdid = 0x03,
    EsmeRinvbndsts = 0x04,
    EsmeRalybnd = 0x05,
    EsmeRinvprtflg = 0x06,
    EsmeRinvregdlvflg = 0x07,
    EsmeRsyserr = 0x08,
    EsmeRinvsrcadr = 0x0A,
    EsmeRinvdstadr = 0x0B,
    EsmeRinvmsgid = 0x0C,
    EsmeRbindfail = 0x0D,
    EsmeRinvpaswd = 0x0E,
    EsmeRinvsysid = 0x0F,
    EsmeRcancelfail = 0x11,
    EsmeRreplacefail = 0x13,
    EsmeRmsgqful = 0x14,
    EsmeRinvsertyp = 0x15,
    EsmeRinvnumdests = 0x33,
    EsmeRinvdlname = 0x34,
    EsmeRinvdestflag = 0x40,
    EsmeRinvsubrep = 0x42,
    EsmeRinvesmclass = 0x43,
    EsmeRcntsubdl = 0x44,
    EsmeRsubmitfail = 0x45,
    EsmeRinvsrcton = 0x48,
    EsmeRinvsrcnpi = 0x49,
    EsmeRinvdstton = 0x50,
    EsmeRinvdstnpi = 0x51,
    EsmeRinvsystyp = 0x53,
    EsmeRinvrepflag = 0x54,
    EsmeRinvnummsgs = 0x55,
    EsmeRthrottled = 0x58,
    EsmeRinvsched = 0x61,
    EsmeRinvexpiry = 0x62,
    EsmeRinvdftmsgid = 0x63,
    EsmeRxTAppn = 0x64,
    EsmeRxPAppn = 0x65,
    EsmeRxRAppn = 0x66,
    EsmeRqueryfail = 0x67,
    EsmeRinvoptparstream = 0xC0,
    EsmeRoptparnotallwd = 0xC1,
    EsmeRinvparlen = 0xC2,
    EsmeRmissingoptparam = 0xC3,
    EsmeRinvoptparamval = 0xC4,
    EsmeRdeliveryfailure = 0xFE,
    EsmeRunknownerr = 0xFF,
}

/// <summary>SMPP 3.4 §5.3.2 optional parameter tags used by Xinge.</summary>
public static class TlvTag
{
    public const ushort DestAddrSubunit = 0x0005;
    public const ushort SourcePort = 0x020A;
    public const ushort DestinationPort = 0x020B;
    public const ushort SarMsgRefNum = 0x020C;
    public const ushort SarTotalSegments = 0x020E;
    public const ushort SarSegmentSeqnum = 0x020F;
    public const ushort ScInterfaceVersion = 0x0210;
    public const ushort UserMessageReference = 0x0204;
    public const ushort ReceiptedMessageId = 0x001E;
    public const ushort NetworkErrorCode = 0x0423;
    public const ushort MessagePayload = 0x0424;
    public const ushort MessageState = 0x0427;
    public const ushort SetDpf = 0x0421;
    public const ushort MsAvailabilityStatus = 0x0422;
}

/// <summary>SMPP 3.4 §5.2.28 message_state values.</summary>
public enum MessageState : byte
{
    Enroute = 1,
    Delivered = 2,
    Expired = 3,
    Deleted = 4,
    Undeliverable = 5,
    Accepted = 6,
    Unknown = 7,
    Rejected = 8,
}

public enum BindType
{
    Transmitter,
    Receiver,
    Transceiver,
}

public static class EsmClass
{
    /// <summary>SMPP 3.4 §5.2.12: the short_message starts with a user data header.</summary>
    public const byte UdhIndicator = 0x40;
    /// <summary>SMPP 3.4 §5.2.12: message type "SMSC delivery receipt" in deliver_sm.</summary>
    public const byte DeliveryReceipt = 0x04;
}

public readonly record struct Tlv(ushort Tag, byte[] Value);

/// <summary>A PDU that could not be decoded; carries the status to answer with in generic_nack.</summary>
public sealed class SmppFormatException(CommandStatus status, string message) : Exception(message)
{
    public CommandStatus Status { get; } = status;
}
