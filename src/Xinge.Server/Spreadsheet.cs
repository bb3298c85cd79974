using CsvHelper;

namespace Xinge.Server;

/// <summary>Files people open in a spreadsheet program: CSV in UTF-8 with a byte order mark, and text that cannot run as a formula.</summary>
public static class Spreadsheet
{
    /// <summary>
    /// A value that starts like a formula (=, +, -, @, or a tab or carriage return before one) is kept as text with a
    /// leading apostrophe: an export of what outsiders wrote must not run anything in the reader's spreadsheet.
    /// </summary>
    public static string Defuse(string? s) => s is { Length: > 0 } && s[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + s : s ?? "";

    /// <summary>Writes a header and rows as CSV, every field defused, as the rows come.</summary>
    public static async Task WriteCsvAsync(Stream body, IReadOnlyList<string> header, IAsyncEnumerable<string?[]> rows, CancellationToken ct = default)
    {
        await body.WriteAsync("\uFEFF"u8.ToArray(), ct);
        await using var csv = CsvWriter.Create(body, CsvWriterOptions.Default, leaveOpen: true);
        await csv.WriteRecordAsync([.. header], ct);
        await foreach (var row in rows.WithCancellation(ct)) await csv.WriteRecordAsync(row.Select(Defuse).ToArray(), ct);
        await csv.FlushAsync(ct);
    }
}
