using System.Collections.Concurrent;
using PhoneNumbers;

namespace Xinge.Server.Features.Messaging;

/// <summary>Numbers are E.164 inside; accepted in E.164 or the enterprise's national format (default region CN).</summary>
public static class PhoneNumbers
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    /// <summary>The E.164 form (<c>+8613800138000</c>), or null when libphonenumber does not find a valid number.</summary>
    public static string? ToE164(string? input, string region = "CN")
    {
        if (string.IsNullOrWhiteSpace(input) || input.Length > 32) return null;
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
