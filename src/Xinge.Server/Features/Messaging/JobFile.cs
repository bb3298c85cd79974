using System.Text;
using CsvHelper;
using MiniExcelLibs;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// A bulk job's recipients from a CSV or XLSX file (R-S1-6, CONTRACT.md): the first row is a header; the phone column
/// is the first headed <c>to</c>, <c>phone</c>, <c>mobile</c>, <c>手机</c>, <c>手机号</c>, <c>手机号码</c> or <c>号码</c> (any
/// case), else the first; every other column is a variable named by its header. CSV may be UTF-8, with or without
/// BOM, or GB18030. Read row by row; each recipient keeps its line in the file.
/// </summary>
public static class JobFile
{
    private static readonly string[] PhoneHeaders = ["to", "phone", "mobile", "手机", "手机号", "手机号码", "号码"];
    public const int MaxColumns = 50;

    static JobFile() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public sealed record Parsed(List<Recipient> Recipients, string PhoneColumn, IReadOnlyList<string> Variables, string Encoding);

    /// <summary>Whether the file is an XLSX workbook (a zip), by its first bytes.</summary>
    public static bool IsXlsx(Stream seekable)
    {
        Span<byte> head = stackalloc byte[4];
        var n = seekable.Read(head);
        seekable.Position = 0;
        return n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
    }

    /// <summary>UTF-8 when the whole file is valid UTF-8 (a BOM says so at once), else GB18030.</summary>
    public static Encoding DetectEncoding(Stream seekable)
    {
        var buffer = new byte[64 * 1024];
        var decoder = new UTF8Encoding(false, throwOnInvalidBytes: true).GetDecoder();
        var chars = new char[buffer.Length + 4];
        try
        {
            int n;
            while ((n = seekable.Read(buffer)) > 0) decoder.GetChars(buffer, 0, n, chars, 0, flush: false);
            decoder.GetChars([], 0, 0, chars, 0, flush: true);
            return new UTF8Encoding(false);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.GetEncoding("GB18030");
        }
        finally
        {
            seekable.Position = 0;
        }
    }

    /// <summary>The recipients of the file, or what is wrong with the file as a whole.</summary>
    public static async Task<(Parsed? File, string? Problem)> ReadAsync(Stream seekable, int maxRows, CancellationToken ct)
    {
        if (IsXlsx(seekable)) return ReadXlsx(seekable, maxRows);
        var encoding = DetectEncoding(seekable);
        await using var csv = CsvReader.Create(seekable,
            new CsvReaderOptions { HasHeader = false, TrackLineNumbers = true, MaxRecordSize = 16 * 1024, Encoding = encoding }, leaveOpen: true);
        var rows = new Rows(maxRows);
        try
        {
            while (await csv.ReadAsync(ct))
            {
                var fields = new string[Math.Min(csv.FieldCount, MaxColumns)];
                for (var i = 0; i < fields.Length; i++) fields[i] = csv.GetString(i);
                if (rows.Add((int)csv.LineNumber, fields) is { } problem) return (null, problem);
            }
        }
        catch (CsvFormatException e)
        {
            return (null, "the file is not a CSV of short rows: " + e.Message);
        }
        return rows.Result(encoding.WebName == "utf-8" ? "UTF-8" : "GB18030");
    }

    private static (Parsed?, string?) ReadXlsx(Stream seekable, int maxRows)
    {
        var rows = new Rows(maxRows);
        try
        {
            var line = 0;
            // A bounded range (empty rows counted, so lines are the sheet's rows), without decoding cells into byte arrays: a
            // few kilobytes naming cell XFD1048576 must not become a million rows of sixteen thousand columns.
            var bounded = new MiniExcelLibs.OpenXml.OpenXmlConfiguration { EnableConvertByteArray = false, FillMergedCells = false };
            foreach (IDictionary<string, object?> row in MiniExcel.QueryRange(seekable, useHeaderRow: false, sheetName: null, excelType: ExcelType.XLSX,
                         startRowIndex: 1, startColumnIndex: 1, endRowIndex: maxRows + 1, endColumnIndex: MaxColumns, configuration: bounded))
            {
                line++;
                var fields = row.Values.Take(MaxColumns).Select(Cell).ToArray();
                if (rows.Add(line, fields) is { } problem) return (null, problem);
            }
        }
        // A hostile workbook may fail the reader in any way: whatever it is, the file is refused, not the server.
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            return (null, "the file is not a readable XLSX workbook: " + e.Message);
        }
        return rows.Result("XLSX");
    }

    /// <summary>A cell as text: a phone number typed into Excel comes as a number, written without decimals.</summary>
    private static string Cell(object? value) => value switch
    {
        null => "",
        double d when d == Math.Floor(d) && Math.Abs(d) < 1e17 => ((long)d).ToString(System.Globalization.CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>The rows as they come: the header first, then each data row to a recipient; empty rows are skipped.</summary>
    private sealed class Rows(int maxRows)
    {
        private string[]? _header;
        private int _phone;
        private readonly List<Recipient> _recipients = [];

        public string? Add(int line, string[] fields)
        {
            if (fields.All(string.IsNullOrWhiteSpace)) return null;
            if (_header is null)
            {
                _header = fields.Select(f => f.Trim().TrimStart('\uFEFF')).ToArray();
                var phone = Array.FindIndex(_header, h => PhoneHeaders.Contains(h, StringComparer.OrdinalIgnoreCase));
                _phone = Math.Max(0, phone);
                return null;
            }
            if (_recipients.Count >= maxRows) return $"a file is at most {maxRows:N0} rows";
            Dictionary<string, string>? values = null;
            for (var i = 0; i < _header.Length && i < fields.Length; i++)
            {
                if (i == _phone || _header[i].Length == 0 || string.IsNullOrWhiteSpace(fields[i])) continue;
                (values ??= [])[_header[i]] = fields[i].Trim();
            }
            _recipients.Add(new Recipient(_phone < fields.Length ? fields[_phone].Trim() : "", values, line));
            return null;
        }

        public (Parsed?, string?) Result(string encoding)
        {
            if (_header is null) return (null, "the file is empty: its first row is a header, then a row per recipient");
            if (_recipients.Count == 0) return (null, "the file has a header but no recipients");
            return (new Parsed(_recipients, _header[_phone], _header.Where((h, i) => i != _phone && h.Length > 0).ToList(), encoding), null);
        }
    }
}
