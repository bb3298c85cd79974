using System.Globalization;
using Dapper;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Reports;

public sealed record ReportRow(string Key, long Messages, long Delivered, long Failed, long Segments, long Revenue, double DeliveryRate);

public sealed record FailureCount(string Reason, long Messages);

/// <summary>A report over [from, to) in the platform's time zone, grouped by one dimension, with its total and failures by reason.</summary>
public sealed record ReportView(string From, string To, string By, string TimeZone, IReadOnlyList<ReportRow> Rows, ReportRow Total, IReadOnlyList<FailureCount> Failures);

public sealed record ReportQuery(DateOnly From, DateOnly To, string By, long? EnterpriseId, string? Connector);

/// <summary>Reads <c>report_hours</c>: a page view costs one grouped statement over the hours asked for, whatever the traffic.</summary>
public sealed class ReportQueries(Database database, PlatformTimeZone zone)
{
    public static readonly string[] Dimensions = ["day", "hour", "enterprise", "connector", "carrier", "category", "reason"];
    public const int MaxDays = 366;

    public async Task<ReportView> QueryAsync(ReportQuery q, CancellationToken ct = default)
    {
        var from = Start(q.From);
        var to = Start(q.To.AddDays(1));
        var column = q.By switch
        {
            "enterprise" => "CAST(enterprise_id AS TEXT)",
            "connector" => "connector",
            "carrier" => "carrier",
            "category" => "category",
            "reason" => "reason",
            _ => "CAST(hour AS TEXT)",
        };
        var where = "hour >= @from AND hour < @to" + (q.EnterpriseId is null ? "" : " AND enterprise_id = @enterprise") + (q.Connector is null ? "" : " AND connector = @connector");
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Key, string Outcome, string Reason, long Messages, long Segments, long Revenue)>(
            $"SELECT {column}, outcome, reason, SUM(messages), SUM(segments), SUM(revenue) FROM report_hours WHERE {where} GROUP BY {column}, outcome, reason",
            new { from, to, enterprise = q.EnterpriseId, connector = q.Connector });
        var list = rows.ToList();
        string KeyOf(string key) => q.By switch
        {
            "day" => Local(long.Parse(key, CultureInfo.InvariantCulture)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            "hour" => Local(long.Parse(key, CultureInfo.InvariantCulture)).ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture),
            _ => key,
        };
        var grouped = list.GroupBy(r => KeyOf(r.Key)).Select(g => Row(g.Key, g)).ToList();
        if (q.By is "day" or "hour")
        {
            // Every period of the range shows, with nothing sent too, so a chart's axis is the calendar.
            var keys = new List<string>();
            if (q.By == "day")
                for (var d = q.From; d <= q.To; d = d.AddDays(1)) keys.Add(d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            else
                for (var t = from; t < to; t += ReportCounter.HourMs) keys.Add(Local(t).ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture));
            var byKey = grouped.ToDictionary(r => r.Key);
            grouped = keys.Distinct().Select(k => byKey.TryGetValue(k, out var r) ? r : new ReportRow(k, 0, 0, 0, 0, 0, 0)).ToList();
        }
        else grouped = grouped.OrderByDescending(r => r.Messages).ToList();
        var failures = list.Where(r => r.Outcome == ReportOutcome.Failed).GroupBy(r => r.Reason)
            .Select(g => new FailureCount(g.Key, g.Sum(r => r.Messages))).OrderByDescending(f => f.Messages).ToList();
        return new ReportView(q.From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), q.To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), q.By, zone.Zone.Id,
            grouped, Row("total", list), failures);
    }

    private static ReportRow Row(string key, IEnumerable<(string Key, string Outcome, string Reason, long Messages, long Segments, long Revenue)> rows)
    {
        long delivered = 0, failed = 0, segments = 0, revenue = 0;
        foreach (var r in rows)
        {
            if (r.Outcome == ReportOutcome.Delivered) delivered += r.Messages;
            else failed += r.Messages;
            segments += r.Segments;
            revenue += r.Revenue;
        }
        var total = delivered + failed;
        return new ReportRow(key, total, delivered, failed, segments, revenue, total == 0 ? 0 : Math.Round((double)delivered / total, 4));
    }

    private long Start(DateOnly day) => zone.StartOf(day);

    private DateTimeOffset Local(long ms) => zone.ToLocal(DateTimeOffset.FromUnixTimeMilliseconds(ms));
}
