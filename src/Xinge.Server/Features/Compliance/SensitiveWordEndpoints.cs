using System.Security.Claims;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

public sealed record SensitiveWordAdd(List<string>? Words, string? Action);
public sealed record SensitiveWordView(long Id, string Word, string Action, DateTimeOffset AddedAt, string AddedBy);
public sealed record SensitiveWordChange(int Added, IReadOnlyList<ListProblem> Invalid);

/// <summary>The operator's sensitive-word list (R-S1-7): add, remove, search, import and export.</summary>
public static class SensitiveWordEndpoints
{
    public const int MaxWordLength = 50;
    public const int MaxWords = 100_000;

    public static IEndpointRouteBuilder MapSensitiveWords(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin/sensitive-words").RequireAuthorization(Rights.WordsManage).WithTags("Operator");
        admin.MapGet("", ListAsync).Produces<Page<SensitiveWordView>>().ProducesProblem(400);
        admin.MapPost("", AddAsync).Produces<SensitiveWordChange>().ProducesProblem(400);
        admin.MapDelete("/{id:long}", RemoveAsync).Produces(204).ProducesProblem(404);
        // A bearer call, never a browser's cookie: no antiforgery token to ask for.
        admin.MapPut("/import", ImportAsync).DisableAntiforgery().Produces<SensitiveWordChange>().ProducesProblem(400).ProducesProblem(415);
        admin.MapGet("/export", (Database database, PlatformTimeZone zone) =>
                Results.Stream(body => Spreadsheet.WriteCsvAsync(body, ["word", "action", "added_at", "added_by"], AllAsync(database, zone)), "text/csv; charset=utf-8",
                    "sensitive-words.csv"))
            .Produces(200, contentType: "text/csv");
        return app;
    }

    /// <summary>As the list keeps a word: compatibility-folded and lower case, so ＡＢＣ, Abc and abc are one word.</summary>
    public static string Canonical(string word)
    {
        var folded = SensitiveWordMatcher.Fold(word).ToLowerInvariant();
        // An export keeps a word that starts like a formula as text ('=…); read back, it is the word.
        return folded.Length > 1 && folded[0] == '\'' && folded[1] is '=' or '+' or '-' or '@' ? folded[1..] : folded;
    }

    private static string? WordProblem(string word) =>
        word.Length == 0 ? "empty" : word.Length > MaxWordLength ? $"longer than {MaxWordLength} characters" : Input.HasHiddenCharacters(word) ? "control characters" : null;

    private static string? ActionProblem(string action) => action is WordAction.Refuse or WordAction.Hold ? null : "action is refuse or hold";

    private static async Task<IResult> ListAsync(string? q, string? cursor, int? limit, Database database)
    {
        if (!Cursor.TryRead(cursor, out var before)) return Problems.Validation("cursor is the next value of a previous page");
        if (limit is < 1 or > 1000) return Problems.Validation("limit is 1 to 1000");
        if (q is { Length: > MaxWordLength }) return Problems.Validation($"q is at most {MaxWordLength} characters");
        var take = limit ?? 100;
        await using var c = await database.OpenAsync();
        var rows = (await c.QueryAsync<SensitiveWord>(
            "SELECT id AS Id, word AS Word, action AS Action, added_at AS AddedAt, added_by AS AddedBy FROM sensitive_words WHERE (@before = 0 OR id < @before) " +
            (string.IsNullOrWhiteSpace(q) ? "" : "AND word LIKE @like ESCAPE '\\' ") + "ORDER BY id DESC LIMIT @take",
            new { before = before ?? 0, like = "%" + Canonical(q ?? "").Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%", take = take + 1 })).ToList();
        var more = rows.Count > take;
        if (more) rows.RemoveAt(take);
        return Results.Ok(new Page<SensitiveWordView>(rows.Select(View).ToList(), more ? Cursor.Of(rows[^1].Id) : null));
    }

    private static IResult TooMany() => Problems.Validation($"the list holds at most {MaxWords:N0} words");

    private static SensitiveWordView View(SensitiveWord w) => new(w.Id, w.Word, w.Action, DateTimeOffset.FromUnixTimeMilliseconds(w.AddedAt), w.AddedBy);

    private static async Task<IResult> AddAsync(SensitiveWordAdd body, ClaimsPrincipal user, Database database, Revocations revocations, SensitiveWords list, AuditLog audit, TimeProvider time,
        HttpContext http)
    {
        if (body.Words is not { Count: > 0 and <= 10_000 } words) return Problems.Validation("words: 1 to 10,000 words");
        var action = body.Action ?? WordAction.Refuse;
        if (ActionProblem(action) is { } problem) return Problems.Validation(problem);
        var invalid = new List<ListProblem>();
        var rows = new Dictionary<string, string>();
        for (var i = 0; i < words.Count; i++)
        {
            var word = Canonical(words[i] ?? "");
            if (WordProblem(word) is { } why) invalid.Add(new ListProblem(i + 1, word.Length > 40 ? word[..40] : word, why));
            else rows[word] = action;
        }
        if (await StoreAsync(rows, Caller.From(user).Name, database, revocations, list, time) is not { } added) return TooMany();
        await audit.RecordAsync(http, "sensitive_words.added", $"{added} words");
        return Results.Ok(new SensitiveWordChange(added, invalid));
    }

    /// <summary>The words stored, or null when the list would grow past <see cref="MaxWords"/>.</summary>
    private static async Task<int?> StoreAsync(Dictionary<string, string> rows, string by, Database database, Revocations revocations, SensitiveWords words, TimeProvider time)
    {
        if (rows.Count == 0) return 0;
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The engine's writers take turns on SQLite; a long import takes its turn like them.
        using var turn = await database.WriteTurnAsync();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await ManyRows.InsertAsync(c, tx, "INSERT INTO sensitive_words (word, action, added_at, added_by) VALUES",
            "ON CONFLICT (word) DO UPDATE SET action = excluded.action, added_at = excluded.added_at, added_by = excluded.added_by",
            rows, r => [r.Key, r.Value, at, by]);
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sensitive_words", transaction: tx) > MaxWords)
        {
            await tx.RollbackAsync();
            return null;
        }
        await revocations.CommitAsync(c, tx, RevocationKind.Words, "");
        // This node follows at once: the change is in force here when the operator has the answer.
        await words.LoadAsync(CancellationToken.None);
        return rows.Count;
    }

    private static async Task<IResult> RemoveAsync(long id, Database database, Revocations revocations, SensitiveWords words, AuditLog audit, HttpContext http)
    {
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var word = await c.QuerySingleOrDefaultAsync<string>("DELETE FROM sensitive_words WHERE id = @id RETURNING word", new { id }, tx);
        if (word is null) return Problems.NotFound("sensitive word");
        await revocations.CommitAsync(c, tx, RevocationKind.Words, "");
        // This node follows at once: the change is in force here when the operator has the answer.
        await words.LoadAsync(CancellationToken.None);
        await audit.RecordAsync(http, "sensitive_words.removed", word);
        return Results.NoContent();
    }

    /// <summary>A CSV file (multipart <c>file</c>): a word per row, then optionally its action; a first row <c>word</c> or <c>敏感词</c> is a header.</summary>
    private static async Task<IResult> ImportAsync(ClaimsPrincipal user, Database database, Revocations revocations, SensitiveWords words, AuditLog audit, TimeProvider time, HttpContext http)
    {
        var (file, problem) = await ListFile.ReadAsync(http, value => Canonical(value) is "word" or "敏感词");
        if (file is null) return problem!;
        if (file.Count > MaxWords) return Problems.Validation($"a file is at most {MaxWords:N0} words");
        var rows = new Dictionary<string, string>();
        var invalid = new List<ListProblem>();
        foreach (var row in file)
        {
            var word = Canonical(row.Value);
            var action = row.Rest is [{ Length: > 0 } a, ..] ? a.ToLowerInvariant() : WordAction.Refuse;
            if ((WordProblem(word) ?? ActionProblem(action)) is { } why) invalid.Add(new ListProblem(row.Line, word.Length > 40 ? word[..40] : word, why));
            else rows[word] = action;
        }
        if (await StoreAsync(rows, Caller.From(user).Name, database, revocations, words, time) is not { } added) return TooMany();
        await audit.RecordAsync(http, "sensitive_words.imported", $"{added} words", detail: $"{invalid.Count} rows refused");
        return Results.Ok(new SensitiveWordChange(added, invalid.Take(1000).ToList()));
    }

    private static async IAsyncEnumerable<string?[]> AllAsync(Database database, PlatformTimeZone zone)
    {
        long after = 0;
        while (true)
        {
            List<SensitiveWord> page;
            await using (var c = await database.OpenAsync())
            {
                page = (await c.QueryAsync<SensitiveWord>(
                    "SELECT id AS Id, word AS Word, action AS Action, added_at AS AddedAt, added_by AS AddedBy FROM sensitive_words WHERE id > @after ORDER BY id LIMIT 1000",
                    new { after })).ToList();
            }
            foreach (var w in page) yield return [w.Word, w.Action, zone.Local(DateTimeOffset.FromUnixTimeMilliseconds(w.AddedAt)), w.AddedBy];
            if (page.Count < 1000) yield break;
            after = page[^1].Id;
        }
    }
}
