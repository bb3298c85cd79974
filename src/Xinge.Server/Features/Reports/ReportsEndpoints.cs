using System.Globalization;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Reports;

/// <summary>Statistics (R-S5-2): an enterprise's own, and the operator's over every enterprise and connector.</summary>
public static class ReportsEndpoints
{
    public static IServiceCollection AddReports(this IServiceCollection services)
    {
        services.AddSingleton<ReportQueries>();
        services.AddSingleton<IMessagingObserver, ReportCounter>();
        return services;
    }

    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/reports", (string? from, string? to, string? by, string? format, ClaimsPrincipal user, ReportQueries reports, PlatformTimeZone zone, TimeProvider time,
                CancellationToken ct) => ReportAsync(from, to, by, format, Caller.From(user).Enterprise, null, reports, zone, time, ct))
            .RequireAuthorization("enterprise", Rights.MessagesRead).WithTags("Enterprise")
            .Produces<ReportView>().Produces(200, contentType: "text/csv").ProducesProblem(400);
        app.MapGet("/api/v1/admin/reports", (string? from, string? to, string? by, string? format, long? enterpriseId, string? connector, ReportQueries reports,
                PlatformTimeZone zone, TimeProvider time, CancellationToken ct) => ReportAsync(from, to, by, format, enterpriseId, connector, reports, zone, time, ct))
            .RequireAuthorization(Rights.ReportsRead).WithTags("Operator")
            .Produces<ReportView>().Produces(200, contentType: "text/csv").ProducesProblem(400);
        return app;
    }

    private static async Task<IResult> ReportAsync(string? from, string? to, string? by, string? format, long? enterpriseId, string? connector, ReportQueries reports,
        PlatformTimeZone zone, TimeProvider time, CancellationToken ct)
    {
        by ??= "day";
        if (!ReportQueries.Dimensions.Contains(by)) return Problems.Validation("by is one of " + string.Join(", ", ReportQueries.Dimensions));
        if (format is not (null or "json" or "csv")) return Problems.Validation("format is json or csv");
        var today = zone.Today(time);
        if (!TryDay(to, today, out var last) || !TryDay(from, last.AddDays(-6), out var first)) return Problems.Validation("from and to are dates: yyyy-MM-dd");
        if (first > last) return Problems.Validation("from is after to");
        if (last.DayNumber - first.DayNumber >= ReportQueries.MaxDays) return Problems.Validation($"a report covers at most {ReportQueries.MaxDays} days");
        if (by == "hour" && last.DayNumber - first.DayNumber >= 31) return Problems.Validation("an hourly report covers at most 31 days");
        if (connector is { Length: > 64 }) return Problems.Validation("connector is at most 64 characters");
        var view = await reports.QueryAsync(new ReportQuery(first, last, by, enterpriseId, connector), ct);
        return format == "csv"
            ? Results.File(Encoding.UTF8.GetBytes(Csv(view)), "text/csv; charset=utf-8", $"report-{view.By}-{view.From}-{view.To}.csv")
            : Results.Ok(view);
    }

    private static bool TryDay(string? s, DateOnly otherwise, out DateOnly day)
    {
        day = otherwise;
        return string.IsNullOrEmpty(s) || DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day);
    }

    /// <summary>The rows as CSV, with a BOM so that spreadsheet programs read the Chinese as UTF-8.</summary>
    public static string Csv(ReportView view)
    {
        var csv = new StringBuilder("\uFEFF");
        csv.Append(view.By).Append(",messages,delivered,failed,segments,revenue_fen,delivery_rate\n");
        foreach (var r in view.Rows.Append(view.Total))
        {
            csv.Append(CsvField(r.Key)).Append(',').Append(r.Messages).Append(',').Append(r.Delivered).Append(',').Append(r.Failed).Append(',')
                .Append(r.Segments).Append(',').Append(r.Revenue).Append(',').Append(r.DeliveryRate.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return csv.ToString();
    }

    /// <summary>Quoted when it needs to be; a leading = + - @ is defused so a spreadsheet does not run it as a formula.</summary>
    public static string CsvField(string s)
    {
        if (s.Length > 0 && s[0] is '=' or '+' or '-' or '@') s = "'" + s;
        return s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
    }
}
