using System.Globalization;

namespace Xinge.Smpp;

/// <summary>
/// SMSC message ids as they are compared: SMSCs write the same id in hex in submit_sm_resp and in decimal in the
/// receipt (or the other way round), with or without leading zeros (FIELD-NOTES: SMPP traps).
/// </summary>
public static class SmscMessageId
{
    /// <summary>Trimmed, upper-case, without leading zeros.</summary>
    public static string Canonical(string id)
    {
        var t = id.Trim().TrimEnd('\0').ToUpperInvariant();
        var stripped = t.TrimStart('0');
        return stripped.Length == 0 && t.Length > 0 ? "0" : stripped;
    }

    /// <summary>The canonical id read as a number in one base and written in the other: what the receipt may carry instead.</summary>
    public static IEnumerable<string> OtherBases(string canonical)
    {
        if (canonical.Length is 0 or > 20) yield break;
        var decimalDigits = canonical.All(char.IsAsciiDigit);
        if (decimalDigits && ulong.TryParse(canonical, NumberStyles.None, CultureInfo.InvariantCulture, out var asDecimal))
            yield return asDecimal.ToString("X", CultureInfo.InvariantCulture);
        if (canonical.All(char.IsAsciiHexDigit) && ulong.TryParse(canonical, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var asHex))
        {
            var other = asHex.ToString(CultureInfo.InvariantCulture);
            if (other != canonical) yield return other;
        }
    }
}
