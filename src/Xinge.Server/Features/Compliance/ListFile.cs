using CsvHelper;

namespace Xinge.Server.Features.Compliance;

/// <summary>One row of an uploaded list: its line in the file, the first field (a number, a word), and the fields after it.</summary>
public sealed record ListRow(int Line, string Value, IReadOnlyList<string> Rest);

/// <summary>A row of a list that was not taken, by line.</summary>
public sealed record ListProblem(int Line, string Value, string Reason);

/// <summary>
/// Lists the operator or an enterprise uploads (multipart <c>file</c>, CSV): a number or a word per row, then fields
/// of the list's own; a first row that is a header is left out. Read as it comes, row by row.
/// </summary>
public static class ListFile
{
    public const int MaxRows = 1_000_000;

    /// <summary>The rows of the uploaded file, or the problem with the upload itself.</summary>
    /// <param name="isHeader">Whether a first row's first field is a header; by default, when it is not a phone number.</param>
    public static async Task<(List<ListRow>? Rows, IResult? Problem)> ReadAsync(HttpContext http, Func<string, bool>? isHeader = null)
    {
        isHeader ??= value => Messaging.PhoneNumbers.ToE164(value) is null;
        var (file, problem) = await Upload.FileAsync(http, "the list");
        if (file is null) return (null, problem);
        var rows = new List<ListRow>();
        await using var stream = file.OpenReadStream();
        // A row of a list is short: a very long one is a bad file, not a reason to hold it all in memory.
        await using var csv = CsvReader.Create(stream, new CsvReaderOptions { HasHeader = false, TrackLineNumbers = true, MaxRecordSize = 4096 }, leaveOpen: true);
        var first = true;
        try
        {
            while (await csv.ReadAsync(http.RequestAborted))
            {
                var line = (int)csv.LineNumber;
                if (csv.FieldCount == 0) continue;
                var value = csv.GetString(0).Trim().TrimStart('\uFEFF');
                var header = first && isHeader(value);
                first = false;
                if (header) continue;
                if (rows.Count >= MaxRows) return (null, Problems.Validation($"a file is at most {MaxRows:N0} rows"));
                rows.Add(new ListRow(line, value, Enumerable.Range(1, Math.Min(csv.FieldCount, 4) - 1).Select(i => csv.GetString(i).Trim()).ToList()));
            }
        }
        catch (CsvFormatException e)
        {
            return (null, Problems.Validation("the file is not a CSV list of short rows: " + e.Message));
        }
        return (rows, null);
    }

    /// <summary>The distinct valid numbers (E.164, the last row of a number wins), and the rows that are not numbers.</summary>
    public static List<(string Msisdn, T Row)> ValidNumbers<T>(IEnumerable<(int Line, string Value, T Row)> rows, List<ListProblem> problems)
    {
        var valid = new Dictionary<string, (string, T)>();
        foreach (var (line, value, row) in rows)
        {
            if (Messaging.PhoneNumbers.ToE164(value) is not { } e164) problems.Add(new ListProblem(line, value.Length > 40 ? value[..40] : value, "invalid_number"));
            else valid[e164] = (e164, row);
        }
        return valid.Values.ToList();
    }
}
