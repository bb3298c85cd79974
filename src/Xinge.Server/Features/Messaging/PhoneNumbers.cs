using System.Collections.Concurrent;
using PhoneNumbers;

namespace Xinge.Server.Features.Messaging;

/// <summary>Numbers are E.164 inside; accepted in E.164 or the enterprise's national format (default region CN).</summary>
public static class PhoneNumbers
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    // Whether libphonenumber takes a Chinese mobile number, by its first seven digits (its 号段 and block): the
    // metadata decides on no more digits than that, and parsing was the dearest step of a one-message request.
    private static readonly ConcurrentDictionary<int, bool> MobileBlocks = new();

    /// <summary>The E.164 form (<c>+8613800138000</c>), or null when libphonenumber does not find a valid number.</summary>
    public static string? ToE164(string? input, string region = "CN")
    {
        if (string.IsNullOrWhiteSpace(input) || input.Length > 32) return null;
        if (region == "CN" && ChineseMobile(input) is { } national)
        {
            var block = int.Parse(national.AsSpan(0, 7));
            if (!MobileBlocks.TryGetValue(block, out var valid))
            {
                valid = Parse(national, region) is not null;
                if (MobileBlocks.Count < 100_000) MobileBlocks[block] = valid;
            }
            return valid ? "+86" + national : null;
        }
        return Parse(input, region);
    }

    /// <summary>The 11 digits of <c>1xxxxxxxxxx</c> or <c>+861xxxxxxxxxx</c>; null for any other form (libphonenumber reads those).</summary>
    private static string? ChineseMobile(string input)
    {
        var digits = input.StartsWith("+86", StringComparison.Ordinal) ? input.AsSpan(3) : input.AsSpan();
        if (digits.Length != 11 || digits[0] != '1') return null;
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c)) return null;
        }
        return digits.ToString();
    }

    private static string? Parse(string input, string region)
    {
        try
        {
            var number = Util.Parse(input, region);
            return Util.IsValidNumber(number) ? Util.Format(number, PhoneNumberFormat.E164) : null;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }

    /// <summary>The digits a person dials at home for an E.164 number (a Chinese landline with its 0): <c>02088886666</c>, <c>4008001234</c>.</summary>
    public static string National(string e164, string region = "CN")
    {
        var number = Util.Parse(e164, region);
        return new string(Util.Format(number, PhoneNumberFormat.NATIONAL).Where(char.IsAsciiDigit).ToArray());
    }

    /// <summary>A number as the SMSC wants it: international digits without the plus (TON 1, NPI 1).</summary>
    public static string ToSmpp(string e164) => e164.StartsWith('+') ? e164[1..] : e164;

    /// <summary>A number the network gives us (digits, maybe with +, maybe national) in E.164, or as it came when it is no phone number (a short code).</summary>
    public static string FromNetwork(string address)
    {
        var a = address.Trim();
        if (a.Length == 0) return a;
        var e164 = a.StartsWith('+') ? ToE164(a) : ToE164("+" + a) ?? ToE164(a);
        return e164 ?? a;
    }
}
