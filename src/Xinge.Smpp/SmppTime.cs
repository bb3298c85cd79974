using System.Globalization;

namespace Xinge.Smpp;

/// <summary>SMPP 3.4 §7.1.1 time format: absolute <c>YYMMDDhhmmsstnnp</c> (p = '+' or '-', nn quarter hours from UTC) or relative <c>YYMMDDhhmmss000R</c>.</summary>
public static class SmppTime
{
    /// <summary>Reads a schedule_delivery_time or validity_period; empty means "not set" (null). False when malformed.</summary>
    public static bool TryParse(string value, DateTimeOffset now, out DateTimeOffset? time)
    {
        time = null;
        if (value.Length == 0) return true;
        if (value.Length != 16 || !value.AsSpan(0, 15).ToArray().All(char.IsAsciiDigit)) return false;
        int F(int at) => int.Parse(value.AsSpan(at, 2), NumberStyles.None, CultureInfo.InvariantCulture);
        var (yy, mm, dd, hh, mi, ss) = (F(0), F(2), F(4), F(6), F(8), F(10));
        switch (value[15])
        {
            case 'R':
                try
                {
                    time = now.AddYears(yy).AddMonths(mm).AddDays(dd).AddHours(hh).AddMinutes(mi).AddSeconds(ss);
                    return true;
                }
                catch (ArgumentOutOfRangeException)
                {
                    return false;
                }
            case '+' or '-':
                var quarters = F(13);
                if (quarters > 48 || mm is < 1 or > 12 || dd < 1 || dd > DateTime.DaysInMonth(2000 + yy, mm) || hh > 23 || mi > 59 || ss > 59) return false;
                var offset = TimeSpan.FromMinutes(15 * quarters) * (value[15] == '-' ? -1 : 1);
                var tenths = value[12] - '0';
                time = new DateTimeOffset(2000 + yy, mm, dd, hh, mi, ss, tenths * 100, offset);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Writes an absolute time in UTC: <c>YYMMDDhhmmss000+</c>.</summary>
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyMMddHHmmss", CultureInfo.InvariantCulture) + "000+";
}
