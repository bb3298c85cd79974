namespace Xinge.Text;

/// <summary>
/// GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table, one septet per octet
/// as SMPP data_coding 0 carries it (SMPP 3.4 §5.2.19: the SMSC default alphabet, unpacked).
/// </summary>
public static class Gsm7
{
    public const byte Escape = 0x1B;

    // TS 23.038 §6.2.1: the 128 characters of the basic table, in code order. 0x1B is the escape to the extension table.
    private const string BasicTable =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

    // TS 23.038 §6.2.1.1: the extension table characters reached through 0x1B; each costs two septets.
    private static readonly (char Char, byte Code)[] ExtensionTable =
    [
        ('\f', 0x0A), ('^', 0x14), ('{', 0x28), ('}', 0x29), ('\\', 0x2F),
        ('[', 0x3C), ('~', 0x3D), (']', 0x3E), ('|', 0x40), ('€', 0x65),
    ];

    private static readonly short[] BasicByChar = BuildBasicIndex();
    private static readonly short[] ExtensionByChar = BuildExtensionIndex();
    private static readonly char[] ExtensionByCode = BuildExtensionDecode();

    /// <summary>The characters of the extension table, for tests and for documentation.</summary>
    public static IReadOnlyList<char> ExtensionCharacters { get; } = ExtensionTable.Select(e => e.Char).ToArray();

    private static short[] BuildBasicIndex()
    {
        var index = new short[char.MaxValue + 1];
        Array.Fill(index, (short)-1);
        for (var i = 0; i < BasicTable.Length; i++)
        {
            if (i != Escape) index[BasicTable[i]] = (short)i;
        }
        return index;
    }

    private static short[] BuildExtensionIndex()
    {
        var index = new short[char.MaxValue + 1];
        Array.Fill(index, (short)-1);
        foreach (var (c, code) in ExtensionTable) index[c] = code;
        return index;
    }

    private static char[] BuildExtensionDecode()
    {
        var table = new char[128];
        foreach (var (c, code) in ExtensionTable) table[code] = c;
        return table;
    }

    /// <summary>Septets the character needs: 1 for the basic table, 2 for the extension table, 0 if it cannot be encoded.</summary>
    public static int SeptetsOf(char c) => BasicByChar[c] >= 0 ? 1 : ExtensionByChar[c] >= 0 ? 2 : 0;

    public static bool CanEncode(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (SeptetsOf(c) == 0) return false;
        }
        return true;
    }

    /// <summary>Septets the text needs, or -1 when some character is outside the GSM alphabet.</summary>
    public static int CountSeptets(ReadOnlySpan<char> text)
    {
        var n = 0;
        foreach (var c in text)
        {
            var s = SeptetsOf(c);
            if (s == 0) return -1;
            n += s;
        }
        return n;
    }

    /// <summary>Encodes into unpacked septets (one per octet). Returns the octets written.</summary>
    public static int Encode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        var o = 0;
        foreach (var c in text)
        {
            var b = BasicByChar[c];
            if (b >= 0)
            {
                destination[o++] = (byte)b;
                continue;
            }
            var e = ExtensionByChar[c];
            if (e < 0) throw new ArgumentException($"U+{(int)c:X4} is not in the GSM 03.38 alphabet", nameof(text));
            destination[o++] = Escape;
            destination[o++] = (byte)e;
        }
        return o;
    }

    public static byte[] Encode(string text)
    {
        var n = CountSeptets(text);
        if (n < 0) throw new ArgumentException("text is not in the GSM 03.38 alphabet", nameof(text));
        var bytes = new byte[n];
        Encode(text, bytes);
        return bytes;
    }

    /// <summary>Decodes unpacked septets. Bytes above 0x7F and unknown escapes decode leniently (hostile input never throws).</summary>
    public static string Decode(ReadOnlySpan<byte> septets)
    {
        var chars = septets.Length <= 512 ? stackalloc char[septets.Length] : new char[septets.Length];
        var n = 0;
        for (var i = 0; i < septets.Length; i++)
        {
            var b = septets[i] & 0x7F;
            if (b == Escape)
            {
                if (i + 1 < septets.Length)
                {
                    var code = septets[++i] & 0x7F;
                    var ext = ExtensionByCode[code];
                    // TS 23.038: an unknown extension code shows as the basic-table character (or space).
                    chars[n++] = ext != '\0' ? ext : code == Escape ? ' ' : BasicTable[code];
                }
                else
                {
                    chars[n++] = ' ';
                }
                continue;
            }
            chars[n++] = BasicTable[b];
        }
        return new string(chars[..n]);
    }

    /// <summary>Packs septets 8-to-7 as they travel over the air (TS 23.038 §6.1.2.1.1), for SMSCs that want packed text.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> septets)
    {
        var packed = new byte[(septets.Length * 7 + 7) / 8];
        var bit = 0;
        foreach (var s in septets)
        {
            var v = s & 0x7F;
            var index = bit >> 3;
            var shift = bit & 7;
            packed[index] |= (byte)(v << shift);
            if (shift > 1 && index + 1 < packed.Length) packed[index + 1] |= (byte)(v >> (8 - shift));
            bit += 7;
        }
        return packed;
    }

    public static byte[] Unpack(ReadOnlySpan<byte> packed, int septetCount)
    {
        var septets = new byte[septetCount];
        for (var i = 0; i < septetCount; i++)
        {
            var bit = i * 7;
            var index = bit >> 3;
            var shift = bit & 7;
            var v = packed[index] >> shift;
            if (shift > 1 && index + 1 < packed.Length) v |= packed[index + 1] << (8 - shift);
            septets[i] = (byte)(v & 0x7F);
        }
        return septets;
    }
}
