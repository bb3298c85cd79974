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

    /// <summary>
    /// The id as Xinge compares it: canonical, and converted from hex to decimal when the SMSC writes it in hex.
    /// An id that does not read as a number in that base is kept as it is.
    /// </summary>
    public static string Normalize(string id, bool hex)
    {
        var canonical = Canonical(id);
        if (!hex) return canonical;
        return ulong.TryParse(canonical, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            ? value.ToString(CultureInfo.InvariantCulture)
            : canonical;
    }
}
