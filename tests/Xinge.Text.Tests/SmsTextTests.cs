using Xinge.Text;

namespace Xinge.Text.Tests;

public class Gsm7Tests
{
    [Theory]
    [InlineData('\f', 0x0A)]
    [InlineData('^', 0x14)]
    [InlineData('{', 0x28)]
    [InlineData('}', 0x29)]
    [InlineData('\\', 0x2F)]
    [InlineData('[', 0x3C)]
    [InlineData('~', 0x3D)]
    [InlineData(']', 0x3E)]
    [InlineData('|', 0x40)]
    [InlineData('€', 0x65)]
    public void Every_extension_character_is_escape_plus_code_and_round_trips(char c, byte code)
    {
        var bytes = Gsm7.Encode(c.ToString());
        Assert.Equal(new byte[] { 0x1B, code }, bytes);
        Assert.Equal(2, Gsm7.SeptetsOf(c));
        Assert.Equal(c.ToString(), Gsm7.Decode(bytes));
    }

    [Fact]
    public void Extension_table_lists_exactly_the_ten_characters()
    {
        Assert.Equal("\f^{}\\[~]|€", new string(Gsm7.ExtensionCharacters.ToArray()));
    }

    [Fact]
    public void Basic_table_round_trips_and_maps_known_codes()
    {
        var text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        var bytes = Gsm7.Encode(text);
        Assert.Equal(127, bytes.Length);
        Assert.Equal(0x00, Gsm7.Encode("@")[0]);
        Assert.Equal(0x02, Gsm7.Encode("$")[0]);
        Assert.Equal(0x11, Gsm7.Encode("_")[0]);
        Assert.Equal(0x41, Gsm7.Encode("A")[0]);
        Assert.Equal(text, Gsm7.Decode(bytes));
    }

    [Fact]
    public void Characters_outside_the_alphabet_are_not_gsm()
    {
        Assert.False(Gsm7.CanEncode("你好"));
        Assert.False(Gsm7.CanEncode("`"));
        Assert.Equal(-1, Gsm7.CountSeptets("a😀"));
        Assert.Throws<ArgumentException>(() => Gsm7.Encode("ç"));
    }

    [Fact]
    public void Hostile_septets_decode_without_throwing()
    {
        Assert.Equal("ÿ".Length, Gsm7.Decode(new byte[] { 0xFF }).Length);
        Assert.Equal(" ", Gsm7.Decode(new byte[] { 0x1B }));
    }

    [Fact]
    public void Packing_round_trips_and_matches_the_classic_hello()
    {
        var septets = Gsm7.Encode("hellohello");
        var packed = Gsm7.Pack(septets);
        Assert.Equal(Convert.FromHexString("E8329BFD4697D9EC37"), packed);
        Assert.Equal(septets, Gsm7.Unpack(packed, septets.Length));
    }
}

public class SegmentationTests
{
    private static string Chinese(int n) => string.Concat(Enumerable.Range(0, n).Select(i => (char)('一' + i % 100)));

    [Theory]
    [InlineData(70, 1)]
    [InlineData(71, 2)]
    [InlineData(134, 2)]
    [InlineData(135, 3)]
    [InlineData(201, 3)]
    [InlineData(202, 4)]
    [InlineData(500, 8)]
    public void Ucs2_is_70_for_one_unit_then_67_per_unit(int length, int units)
    {
        var plan = SmsText.Plan(Chinese(length));
        Assert.Equal(SmsEncoding.Ucs2, plan.Encoding);
        Assert.Equal(units, plan.BillingUnits);
        Assert.Equal(units, SmsText.Encode(Chinese(length), plan.Encoding, 7).Count);
    }

    [Theory]
    [InlineData(160, 1)]
    [InlineData(161, 2)]
    [InlineData(306, 2)]
    [InlineData(307, 3)]
    public void Gsm_is_160_for_one_unit_then_153_per_unit(int length, int units)
    {
        var plan = SmsText.Plan(new string('a', length));
        Assert.Equal(SmsEncoding.Gsm7, plan.Encoding);
        Assert.Equal(units, plan.BillingUnits);
    }

    [Fact]
    public void Seed_marketing_suffix_leaves_66_characters_in_one_unit()
    {
        // Seed 004: with 退订回T appended, 66 characters of text fit one unit and 130 fit two.
        Assert.Equal(1, SmsText.Plan(Chinese(66) + "退订回T").BillingUnits);
        Assert.Equal(2, SmsText.Plan(Chinese(67) + "退订回T").BillingUnits);
        Assert.Equal(2, SmsText.Plan(Chinese(130) + "退订回T").BillingUnits);
        Assert.Equal(3, SmsText.Plan(Chinese(131) + "退订回T").BillingUnits);
    }

    [Fact]
    public void Extension_characters_count_two_septets_toward_the_limit()
    {
        Assert.Equal(1, SmsText.Plan(new string('€', 80)).BillingUnits);
        Assert.Equal(2, SmsText.Plan(new string('€', 80) + "a").BillingUnits);
    }

    [Fact]
    public void An_escape_sequence_is_never_split_across_parts()
    {
        var text = new string('a', 152) + "€" + new string('b', 10);
        var parts = SmsText.Encode(text, SmsEncoding.Gsm7, 1);
        Assert.Equal(2, parts.Count);
        Assert.Equal(6 + 152, parts[0].ShortMessage.Length);
        Assert.NotEqual(Gsm7.Escape, parts[0].ShortMessage[^1]);
        Assert.Equal(text, string.Concat(parts.Select(p => Gsm7.Decode(p.ShortMessage.AsSpan(6)))));
    }

    [Theory]
    [InlineData(66)]
    [InlineData(65)]
    [InlineData(133)]
    public void An_emoji_is_never_split_across_parts(int before)
    {
        var text = Chinese(before) + "😀" + Chinese(80);
        var parts = SmsText.Encode(text, SmsEncoding.Ucs2, 9);
        foreach (var p in parts)
        {
            var body = Ucs2.Decode(p.ShortMessage.AsSpan(6));
            Assert.False(char.IsHighSurrogate(body[^1]), "a part ends in half an emoji");
            Assert.False(char.IsLowSurrogate(body[0]), "a part starts with half an emoji");
            Assert.True(body.Length <= 67);
        }
        Assert.Equal(text, string.Concat(parts.Select(p => Ucs2.Decode(p.ShortMessage.AsSpan(6)))));
    }

    [Fact]
    public void Parts_carry_the_concatenation_header_with_reference_total_and_sequence()
    {
        var parts = SmsText.Encode(Chinese(100) + "😀", SmsEncoding.Ucs2, 0xAB);
        Assert.Equal(2, parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            Assert.True(Concatenation.TryParse(parts[i].ShortMessage, out var c, out var offset));
            Assert.Equal(6, offset);
            Assert.Equal(new Concatenation(0xAB, 2, i + 1), c);
            Assert.True(parts[i].ShortMessage.Length <= 140);
        }
    }

    [Fact]
    public void Sixteen_bit_reference_headers_parse_and_malformed_ones_are_refused()
    {
        Assert.True(Concatenation.TryParse(new byte[] { 6, 8, 4, 0x12, 0x34, 3, 2, 0x41 }, out var c, out var offset));
        Assert.Equal(new Concatenation(0x1234, 3, 2), c);
        Assert.Equal(7, offset);
        Assert.False(Concatenation.TryParse(new byte[] { 9, 0, 3, 1 }, out _, out _));
        Assert.False(Concatenation.TryParse(new byte[] { 5, 0, 9, 1, 1, 1 }, out _, out _));
    }

    [Theory]
    [InlineData(0, new byte[] { 0x00, 0x02, 0x11 }, "@$_")]
    [InlineData(1, new byte[] { 0x40, 0x24, 0x5F }, "@$_")]
    [InlineData(3, new byte[] { 0xE9 }, "é")]
    [InlineData(8, new byte[] { 0x4F, 0x60, 0x59, 0x7D }, "你好")]
    public void Short_messages_decode_by_data_coding(byte dataCoding, byte[] body, string text) =>
        Assert.Equal(text, SmsText.Decode(body, dataCoding));

    [Fact]
    public void A_single_part_has_no_header()
    {
        var parts = SmsText.Encode("hello", SmsEncoding.Gsm7, 1);
        Assert.Single(parts);
        Assert.False(parts[0].HasUdh);
        Assert.Equal("hello", SmsText.Decode(parts[0].ShortMessage, 0));
    }
}
