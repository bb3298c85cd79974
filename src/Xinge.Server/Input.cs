using System.Globalization;

namespace Xinge.Server;

/// <summary>
/// Checks for text that comes from outside and is shown to people or sent to handsets: no control characters (they
/// end C strings, ring bells, move terminals) and no bidirectional formatting characters (they make a name or a
/// signature read differently from what it is).
/// </summary>
public static class Input
{
    /// <summary>A JSON string's text; null for a string that is no text (invalid UTF-8, a lone surrogate escaped as \ud800).</summary>
    public static string? TextOf(System.Text.Json.JsonElement e)
    {
        try
        {
            return e.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>An ISO 8601 time with its offset (Z or ±hh:mm): one without would be read in the server's zone.</summary>
    public static bool TryParseTimeWithOffset(string text, out DateTimeOffset at)
    {
        at = default;
        return System.Text.RegularExpressions.Regex.IsMatch(text, @"(Z|[+-]\d{2}:?\d{2})$")
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out at);
    }

    /// <summary>True when the text holds a control character (other than CR and LF when <paramref name="lineBreaks"/>) or a bidi control.</summary>
    public static bool HasHiddenCharacters(string text, bool lineBreaks = false)
    {
        foreach (var c in text)
        {
            if (c is '\n' or '\r' && lineBreaks) continue;
            if (char.IsControl(c) || IsBidiControl(c)) return true;
        }
        return false;
    }

    private static bool IsBidiControl(char c) => c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    /// <summary>Why a name-like field is not acceptable (required, at most <paramref name="max"/>, visible characters only); null when it is.</summary>
    public static string? NameProblem(string? value, string field, int max)
    {
        if (string.IsNullOrWhiteSpace(value)) return $"{field} is required";
        if (value.Length > max) return $"{field} is at most {max} characters";
        if (HasHiddenCharacters(value)) return $"{field} may not contain control or bidirectional formatting characters";
        return null;
    }

    /// <summary>An IP address (a range of one) or a CIDR range, as operators write them in settings and allow-lists.</summary>
    public static bool TryParseAddressRange(string? text, out System.Net.IPNetwork range)
    {
        range = default;
        return text is { Length: > 0 and <= 50 } && System.Net.IPNetwork.TryParse(text.Contains('/') ? text : text + (text.Contains(':') ? "/128" : "/32"), out range);
    }

    private const string UsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    private static readonly int[] UsccWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

    /// <summary>
    /// A Chinese unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from the code's alphabet
    /// (digits and capitals without I, O, S, V, Z), the last a check character over the first 17.
    /// </summary>
    public static bool IsUnifiedSocialCreditCode(string code)
    {
        if (code.Length != 18) return false;
        var sum = 0;
        for (var i = 0; i < 17; i++)
        {
            var v = UsccAlphabet.IndexOf(code[i]);
            if (v < 0) return false;
            sum += v * UsccWeights[i];
        }
        var check = (31 - sum % 31) % 31;
        return code[17] == UsccAlphabet[check];
    }

    /// <summary>The check character that completes the first 17 characters of a unified social credit code.</summary>
    public static char UsccCheck(string first17)
    {
        var sum = 0;
        for (var i = 0; i < 17; i++) sum += UsccAlphabet.IndexOf(first17[i]) * UsccWeights[i];
        return UsccAlphabet[(31 - sum % 31) % 31];
    }
}
