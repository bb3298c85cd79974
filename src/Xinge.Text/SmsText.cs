using System.Text;

namespace Xinge.Text;

public enum SmsEncoding
{
    /// <summary>GSM 03.38 default alphabet; SMPP data_coding 0.</summary>
    Gsm7 = 0,
    /// <summary>UCS-2 (UTF-16BE); SMPP data_coding 8.</summary>
    Ucs2 = 8,
}

/// <summary>One part of an SMS as it goes into submit_sm: the short_message octets, with the concatenation UDH when there are several.</summary>
public readonly record struct SmsPart(byte[] ShortMessage, bool HasUdh, int Sequence, int Total);

/// <summary>
/// How an SMS text travels: its encoding, its length in the encoding's units, and the parts it is cut into.
/// R-S1-4: UCS-2 is 70 characters in one part, 67 per part when longer; GSM 7-bit 160 / 153.
/// Billing units are the parts the subscriber's handset receives.
/// </summary>
public readonly record struct SmsPlan(SmsEncoding Encoding, int Length, int Segments)
{
    public int BillingUnits => Segments;
}

public static class SmsText
{
    public const int Gsm7Single = 160;
    public const int Gsm7PerPart = 153;
    public const int Ucs2Single = 70;
    public const int Ucs2PerPart = 67;
    /// <summary>A concatenated SMS has at most 255 parts (one octet in the UDH).</summary>
    public const int MaxParts = 255;

    public static SmsEncoding ChooseEncoding(ReadOnlySpan<char> text) => Gsm7.CanEncode(text) ? SmsEncoding.Gsm7 : SmsEncoding.Ucs2;

    public static SmsPlan Plan(string text)
    {
        var septets = Gsm7.CountSeptets(text);
        if (septets >= 0)
        {
            return new SmsPlan(SmsEncoding.Gsm7, septets, septets <= Gsm7Single ? 1 : CutGsm7(text).Count);
        }
        return new SmsPlan(SmsEncoding.Ucs2, text.Length, text.Length <= Ucs2Single ? 1 : CutUcs2(text).Count);
    }

    /// <summary>Cuts and encodes the text into parts; several parts carry UDH <c>05 00 03 ref total seq</c>.</summary>
    public static IReadOnlyList<SmsPart> Encode(string text, SmsEncoding encoding, byte reference)
    {
        var pieces = encoding == SmsEncoding.Gsm7
            ? (Gsm7.CountSeptets(text) <= Gsm7Single ? [(0, text.Length)] : CutGsm7(text))
            : (text.Length <= Ucs2Single ? [(0, text.Length)] : CutUcs2(text));
        if (pieces.Count > MaxParts) throw new ArgumentException($"text needs {pieces.Count} parts; at most {MaxParts}", nameof(text));
        var parts = new SmsPart[pieces.Count];
        for (var i = 0; i < pieces.Count; i++)
        {
            var (start, length) = pieces[i];
            var chunk = text.AsSpan(start, length);
            var body = encoding == SmsEncoding.Gsm7 ? Gsm7EncodeSpan(chunk) : Ucs2.Encode(chunk);
            if (pieces.Count == 1)
            {
                parts[i] = new SmsPart(body, false, 1, 1);
                continue;
            }
            var sm = new byte[6 + body.Length];
            sm[0] = 0x05; sm[1] = 0x00; sm[2] = 0x03; sm[3] = reference; sm[4] = (byte)pieces.Count; sm[5] = (byte)(i + 1);
            body.CopyTo(sm, 6);
            parts[i] = new SmsPart(sm, true, i + 1, pieces.Count);
        }
        return parts;
    }

    private static byte[] Gsm7EncodeSpan(ReadOnlySpan<char> chunk)
    {
        var bytes = new byte[Gsm7.CountSeptets(chunk)];
        Gsm7.Encode(chunk, bytes);
        return bytes;
    }

    /// <summary>GSM parts of at most 153 septets; an escape sequence (extension character) is never split.</summary>
    private static List<(int Start, int Length)> CutGsm7(string text)
    {
        var pieces = new List<(int, int)>();
        int start = 0, used = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var cost = Gsm7.SeptetsOf(text[i]);
            if (used + cost > Gsm7PerPart)
            {
                pieces.Add((start, i - start));
                start = i;
                used = 0;
            }
            used += cost;
        }
        pieces.Add((start, text.Length - start));
        return pieces;
    }

    /// <summary>UCS-2 parts of at most 67 code units; a surrogate pair (an emoji) is never split across parts.</summary>
    private static List<(int Start, int Length)> CutUcs2(string text)
    {
        var pieces = new List<(int, int)>();
        var start = 0;
        while (text.Length - start > Ucs2PerPart)
        {
            var length = Ucs2PerPart;
            if (char.IsHighSurrogate(text[start + length - 1])) length--;
            pieces.Add((start, length));
            start += length;
        }
        pieces.Add((start, text.Length - start));
        return pieces;
    }

    /// <summary>Decodes a short_message by data_coding (0 GSM, 1 IA5/ASCII, 3 Latin-1, 8 UCS-2; anything else as GSM, leniently).</summary>
    public static string Decode(ReadOnlySpan<byte> body, byte dataCoding) => dataCoding switch
    {
        8 => Ucs2.Decode(body),
        3 => Encoding.Latin1.GetString(body),
        1 => Encoding.Latin1.GetString(body),
        _ => Gsm7.Decode(body),
    };
}

/// <summary>The concatenation information element of a user data header (3GPP TS 23.040 §9.2.3.24.1 and .8).</summary>
public readonly record struct Concatenation(int Reference, int Total, int Sequence)
{
    /// <summary>Reads the UDH at the start of a short_message; returns the body after it. Malformed headers give false.</summary>
    public static bool TryParse(ReadOnlySpan<byte> shortMessage, out Concatenation? concatenation, out int bodyOffset)
    {
        concatenation = null;
        bodyOffset = 0;
        if (shortMessage.Length < 1) return false;
        var udhl = shortMessage[0];
        if (udhl + 1 > shortMessage.Length) return false;
        var i = 1;
        while (i + 2 <= udhl + 1)
        {
            var iei = shortMessage[i];
            var len = shortMessage[i + 1];
            if (i + 2 + len > udhl + 1) return false;
            var data = shortMessage.Slice(i + 2, len);
            if (iei == 0x00 && len == 3) concatenation = new Concatenation(data[0], data[1], data[2]);
            else if (iei == 0x08 && len == 4) concatenation = new Concatenation((data[0] << 8) | data[1], data[2], data[3]);
            i += 2 + len;
        }
        bodyOffset = udhl + 1;
        return true;
    }
}
