using System.Globalization;
using System.Runtime.CompilerServices;
using MiniExcelLibs;

namespace Xinge.Server.Features.Messaging;

/// <summary>One message in an export, as a spreadsheet reads it: times in the platform's zone, money in yuan.</summary>
public sealed record MessageExportRow(string Id, string JobId, string To, string From, string Category, string Status, string Error, int Segments, decimal Price,
    string CreatedAt, string SubmittedAt, string DoneAt, string ClientRef);

/// <summary>
/// A search's messages as CSV or XLSX. Rows are read a page at a time and written as they come, so an export of a
/// whole 200,000-number job never holds more than a page in memory.
/// </summary>
public static class MessageExport
{
    public const int PageSize = 5000;
    public const int MaxRows = 200_000;
    public const string XlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    public static async IAsyncEnumerable<MessageExportRow> RowsAsync(MessageQueries queries, PlatformTimeZone zone, long enterpriseId, MessageFilter filter,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        var written = 0;
        while (written < MaxRows && !ct.IsCancellationRequested)
        {
            var page = await queries.MessagesAsync(enterpriseId, filter);
            foreach (var m in page.Items)
            {
                yield return new MessageExportRow(m.Id, m.JobId, m.To, m.From, m.Category, m.Status, m.Error ?? "", m.Segments, m.Price / 100m,
                    zone.Local(m.CreatedAt), zone.Local(m.SubmittedAt), zone.Local(m.DoneAt), m.ClientRef ?? "");
                if (++written == MaxRows) yield break;
            }
            if (page.Next is null || !Cursor.TryRead(page.Next, out var before)) yield break;
            filter = filter with { Before = before };
        }
    }

    private static readonly string[] Header = ["id", "job_id", "to", "from", "category", "status", "error", "segments", "price_yuan", "created_at", "submitted_at", "done_at", "client_ref"];

    /// <summary>UTF-8 with a byte order mark, so that spreadsheet programs read the Chinese as such; text that looks like a formula stays text.</summary>
    public static IResult Csv(IAsyncEnumerable<MessageExportRow> rows) => Results.Stream(body => Spreadsheet.WriteCsvAsync(body, Header, Fields(rows)),
        "text/csv; charset=utf-8", "messages.csv");

    private static async IAsyncEnumerable<string?[]> Fields(IAsyncEnumerable<MessageExportRow> rows)
    {
        await foreach (var r in rows)
        {
            yield return [r.Id, r.JobId, r.To, r.From, r.Category, r.Status, r.Error, r.Segments.ToString(CultureInfo.InvariantCulture),
                r.Price.ToString("0.00", CultureInfo.InvariantCulture), r.CreatedAt, r.SubmittedAt, r.DoneAt, r.ClientRef];
        }
    }

    /// <summary>An XLSX is a zip, finished only at its end: it is written to a temporary file, then sent.</summary>
    public static async Task<IResult> XlsxAsync(IAsyncEnumerable<MessageExportRow> rows)
    {
        var path = Path.GetTempFileName();
        await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await file.SaveAsAsync(rows, excelType: ExcelType.XLSX);
        }
        var read = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        return Results.File(read, XlsxType, "messages.xlsx");
    }

}
