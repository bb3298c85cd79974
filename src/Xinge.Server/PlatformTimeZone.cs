using System.Globalization;

namespace Xinge.Server;

/// <summary>
/// The time zone people read times in (<c>Xinge:TimeZone</c>, China's by default): the portal's times, exports, and the
/// days and hours of the statistics. Inside, times are Unix milliseconds in UTC.
/// </summary>
public sealed class PlatformTimeZone(IConfiguration config)
{
    public TimeZoneInfo Zone { get; } = ZoneOf(config["Xinge:TimeZone"] ?? "Asia/Shanghai");

    /// <summary>
    /// The zone named, if the platform can count in it: statistics are kept per hour, so a zone whose offset from UTC
    /// is not a whole number of hours (India's, Nepal's) would split its days' first and last hours.
    /// </summary>
    private static TimeZoneInfo ZoneOf(string id)
    {
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone)) throw new InvalidOperationException($"Xinge:TimeZone: '{id}' is not a time zone this machine knows");
        var offsets = zone.GetAdjustmentRules().SelectMany(r => new[] { zone.BaseUtcOffset + r.DaylightDelta }).Append(zone.BaseUtcOffset);
        if (offsets.Any(o => o.Ticks % TimeSpan.TicksPerHour != 0))
            throw new InvalidOperationException($"Xinge:TimeZone: '{id}' is not a whole number of hours from UTC; statistics are kept per hour");
        return zone;
    }

    /// <summary>A day as people enter it (yyyy-MM-dd), between the years 2000 and 2100.</summary>
    public static bool TryDay(string? s, out DateOnly day) =>
        DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day) && day.Year is >= 2000 and <= 2100;

    public DateTimeOffset ToLocal(DateTimeOffset t) => TimeZoneInfo.ConvertTime(t, Zone);

    public string Local(DateTimeOffset t) => ToLocal(t).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A time as the API writes it (ISO 8601), or nothing.</summary>
    public string Local(string? iso) =>
        DateTimeOffset.TryParse(iso, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? Local(t) : "";

    public DateOnly Today(TimeProvider time) => DateOnly.FromDateTime(ToLocal(time.GetUtcNow()).DateTime);

    /// <summary>The start of a local day given as yyyy-MM-dd, as ISO 8601 for the API; null when it is not a day.</summary>
    public string? DayStart(string? day) => TryDay(day, out var d) ? Iso(StartOf(d)) : null;

    /// <summary>The last millisecond of a local day given as yyyy-MM-dd, as ISO 8601 for the API.</summary>
    public string? DayEnd(string? day) => TryDay(day, out var d) ? Iso(StartOf(d.AddDays(1)) - 1) : null;

    private static string Iso(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    /// <summary>When a local day begins, Unix milliseconds.</summary>
    public long StartOf(DateOnly day)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, Zone.GetUtcOffset(local)).ToUnixTimeMilliseconds();
    }
}
