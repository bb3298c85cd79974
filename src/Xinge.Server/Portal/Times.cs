namespace Xinge.Server.Portal;

/// <summary>Times as the API gives them (ISO 8601, UTC), shown in the platform's time zone.</summary>
public static class Times
{
    private static readonly TimeZoneInfo China = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");

    public static string Local(string? iso) =>
        DateTimeOffset.TryParse(iso, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var t) ? Local(t) : "";

    public static string Local(DateTimeOffset t) => TimeZoneInfo.ConvertTime(t, China).ToString("yyyy-MM-dd HH:mm:ss");
}
