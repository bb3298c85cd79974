using Xinge.Text;

namespace Xinge.Smpp.Tests;

public sealed class ShortMessageContentTests
{
    private static SubmitSm Ucs2(byte[] shortMessage, byte esmClass = 0) => new() { DataCoding = 8, EsmClass = esmClass, ShortMessage = shortMessage };

    [Fact]
    public void A_udh_with_an_8_bit_or_16_bit_reference_gives_the_part_and_its_text()
    {
        var eight = Ucs2([0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, .. Ucs2Text("第一")], EsmClass.UdhIndicator);
        Assert.Equal(new ShortMessageContent(new Concatenation(0x2A, 2, 1), "第一", false), ShortMessageContent.Of(eight));
        var sixteen = Ucs2([0x06, 0x08, 0x04, 0x12, 0x34, 0x03, 0x03, .. Ucs2Text("三")], EsmClass.UdhIndicator);
        Assert.Equal(new ShortMessageContent(new Concatenation(0x1234, 3, 3), "三", false), ShortMessageContent.Of(sixteen));
    }

    [Fact]
    public void Sar_tlvs_give_the_part_when_there_is_no_udh()
    {
        var pdu = Ucs2(Ucs2Text("二"));
        pdu.SetTlv(TlvTag.SarMsgRefNum, [0x01, 0x02]);
        pdu.SetTlv(TlvTag.SarTotalSegments, [2]);
        pdu.SetTlv(TlvTag.SarSegmentSeqnum, [2]);
        Assert.Equal(new ShortMessageContent(new Concatenation(0x0102, 2, 2), "二", false), ShortMessageContent.Of(pdu));
    }

    [Fact]
    public void A_broken_header_or_a_part_outside_its_total_is_malformed_and_a_single_part_has_no_concatenation()
    {
        Assert.True(ShortMessageContent.Of(Ucs2([0x09, 0x00, 0x03], EsmClass.UdhIndicator)).Malformed);
        Assert.True(ShortMessageContent.Of(Ucs2([0x05, 0x00, 0x03, 0x01, 0x02, 0x03, 0x00, 0x41], EsmClass.UdhIndicator)).Malformed);
        Assert.Equal(new ShortMessageContent(null, "一条", false), ShortMessageContent.Of(Ucs2(Ucs2Text("一条"))));
        Assert.Equal(new ShortMessageContent(null, "独", false), ShortMessageContent.Of(Ucs2([0x05, 0x00, 0x03, 0x07, 0x01, 0x01, .. Ucs2Text("独")], EsmClass.UdhIndicator)));
    }

    private static byte[] Ucs2Text(string s) => Xinge.Text.Ucs2.Encode(s);
}
