using System.Collections.Concurrent;
using System.Globalization;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>
/// Marketing goes only in the day of the recipient (R-S1-8; <c>Xinge:Compliance:MarketingHours</c>, 08:00–20:00 by
/// default): outside those hours it is accepted and waits, scheduled, until they begin where its recipients are.
/// Verification codes and notifications go at any hour. A request's messages share one time, so a request to several
/// time zones waits for the latest of their mornings; a number whose region spans zones is judged by the first the
/// numbering plan names. The same time for both ends means no limit.
/// </summary>
public sealed class MarketingHoursRule(IConfiguration config, TimeProvider time, PlatformTimeZone platform) : IAdmissionRule
{
    private readonly TimeOnly _from = Hour(config["Xinge:Compliance:MarketingHours:From"] ?? "08:00", "From");
    private readonly TimeOnly _to = Hour(config["Xinge:Compliance:MarketingHours:To"] ?? "20:00", "To");
    /// <summary>By the time zones libphonenumber names for a number's region (a country may have several).</summary>
    private static readonly ConcurrentDictionary<string, TimeZoneInfo> ZoneByRegion = new();

    public int Order => 200;

    private static TimeOnly Hour(string value, string name) =>
        TimeOnly.TryParseExact(value, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? t
            : throw new InvalidOperationException($"Xinge:Compliance:MarketingHours:{name}: '{value}' is not a time of day (HH:mm)");

    public ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (batch.Category != Category.Marketing || batch.Candidates.Count == 0 || _from == _to) return ValueTask.CompletedTask;
        // When it would go: a scheduled request is judged at its time, not at the time it is asked for.
        var now = batch.SendsAt is { } at && at > time.GetUtcNow() ? at : time.GetUtcNow();
        foreach (var zone in batch.Candidates.Select(c => ZoneOf(c.Recipient)).Distinct())
        {
            if (NextOpening(now, zone) is { } opens) batch.Defer(opens.ToUnixTimeMilliseconds());
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>When the hours next begin in the zone, or null when they are on now.</summary>
    public DateTimeOffset? NextOpening(DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var clock = TimeOnly.FromDateTime(local.DateTime);
        // From after To is a window over midnight (20:00 to 08:00, say).
        var open = _from < _to ? clock >= _from && clock < _to : clock >= _from || clock < _to;
        if (open) return null;
        var day = DateOnly.FromDateTime(local.DateTime);
        if (clock >= _from) day = day.AddDays(1);
        var opens = day.ToDateTime(_from, DateTimeKind.Unspecified);
        return new DateTimeOffset(opens, zone.GetUtcOffset(opens));
    }

    /// <summary>The recipient's time zone: by the country of the number (the first zone libphonenumber names for it), else the platform's.</summary>
    private TimeZoneInfo ZoneOf(string e164)
    {
        if (e164.StartsWith("+86", StringComparison.Ordinal)) return ZoneByRegion.GetOrAdd("Asia/Shanghai", id => TimeZoneInfo.FindSystemTimeZoneById(id));
        try
        {
            var number = PhoneNumbers.PhoneNumberUtil.GetInstance().Parse(e164, null);
            var zones = PhoneNumbers.PhoneNumberToTimeZonesMapper.GetInstance().GetTimeZonesForNumber(number);
            return ZoneByRegion.GetOrAdd(string.Join(",", zones), _ =>
                zones.Select(id => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var z) ? z : null).FirstOrDefault(z => z is not null) ?? platform.Zone);
        }
        catch (PhoneNumbers.NumberParseException)
        {
            return platform.Zone;
        }
    }
}
