using System.Globalization;
using System.Security.Claims;
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
            ? Results.Stream(body => Spreadsheet.WriteCsvAsync(body, [view.By, "messages", "delivered", "failed", "segments", "revenue_fen", "delivery_rate"], Rows(view)),
                "text/csv; charset=utf-8", $"report-{view.By}-{view.From}-{view.To}.csv")
            : Results.Ok(view);
    }

    private static bool TryDay(string? s, DateOnly otherwise, out DateOnly day)
    {
        day = otherwise;
        if (string.IsNullOrEmpty(s)) return true;
        return PlatformTimeZone.TryDay(s, out day);
    }

    private static async IAsyncEnumerable<string?[]> Rows(ReportView view)
    {
        foreach (var r in view.Rows.Append(view.Total))
        {
            yield return [r.Key, Invariant(r.Messages), Invariant(r.Delivered), Invariant(r.Failed), Invariant(r.Segments), Invariant(r.Revenue),
                r.DeliveryRate.ToString(CultureInfo.InvariantCulture)];
        }
        await Task.CompletedTask;
    }

    private static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);
}
