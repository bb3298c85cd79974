using Xinge.Text;
using Udh = Xinge.Text.Concatenation;

namespace Xinge.Smpp;

/// <summary>
/// What a submit_sm or deliver_sm carries: its text and, for a part of a concatenated SMS, which part of which message.
/// <see cref="Malformed"/>: a user data header that does not parse, or a part number outside its total.
/// </summary>
public readonly record struct ShortMessageContent(Concatenation? Concatenation, string Text, bool Malformed)
{
    /// <summary>
    /// The one reader of concatenation for the simulator, the connectors and the SMPP server: a UDH when esm_class says
    /// so (SMPP 3.4 §5.2.12, 0x40), else the sar_* TLVs (§5.3.2.22–24); a single part has none.
    /// </summary>
    public static ShortMessageContent Of(ShortMessagePdu pdu)
    {
        var data = pdu.UserData;
        var body = (ReadOnlySpan<byte>)data;
        Concatenation? concatenation = null;
        if ((pdu.EsmClass & EsmClass.UdhIndicator) != 0)
        {
            if (!Udh.TryParse(data, out concatenation, out var offset)) return new ShortMessageContent(null, SmsText.Decode(data, pdu.DataCoding), true);
            body = body[offset..];
        }
        else if (pdu.GetTlv(TlvTag.SarMsgRefNum) is { Length: 2 } sarRef && pdu.GetTlv(TlvTag.SarTotalSegments) is { Length: 1 } sarTotal
                 && pdu.GetTlv(TlvTag.SarSegmentSeqnum) is { Length: 1 } sarSeq)
        {
            concatenation = new Udh((sarRef[0] << 8) | sarRef[1], sarTotal[0], sarSeq[0]);
        }
        var text = SmsText.Decode(body, pdu.DataCoding);
        if (concatenation is { } c && (c.Total < 1 || c.Sequence < 1 || c.Sequence > c.Total)) return new ShortMessageContent(null, text, true);
        return new ShortMessageContent(concatenation is { Total: > 1 } ? concatenation : null, text, false);
    }
}
