using System.Buffers;
using System.Text;

namespace Xinge.Server.Features.Compliance;

public static class WordAction
{
    /// <summary>A message with the word is refused, the refusal naming the word (<c>content_rejected:WORD</c>).</summary>
    public const string Refuse = "refuse";
    /// <summary>A message with the word waits for an operator's review.</summary>
    public const string Hold = "hold";
}

/// <summary>A word found in a text, and what the list says to do about it.</summary>
public readonly record struct WordHit(string Word, string Action);

/// <summary>
/// The sensitive-word list compiled for matching: every word at once over a text (the runtime's multi-string search,
/// Aho–Corasick or vectorised), width- and case-insensitive. Immutable: a changed list is a new matcher.
/// </summary>
public sealed class SensitiveWordMatcher
{
    public static readonly SensitiveWordMatcher Empty = new([]);

    private readonly SearchValues<string>? _any;
    /// <summary>The words by their first character (folded), longest first, with their action.</summary>
    private readonly Dictionary<char, (string Word, string Action)[]> _byFirst;

    public int Count { get; }

    public SensitiveWordMatcher(IEnumerable<(string Word, string Action)> words)
    {
        var distinct = words.Select(w => (Word: Fold(w.Word), w.Action)).Where(w => w.Word.Length > 0)
            .GroupBy(w => w.Word, StringComparer.OrdinalIgnoreCase)
            // A word listed twice does the stricter thing.
            .Select(g => (g.Key, g.Any(w => w.Action == WordAction.Refuse) ? WordAction.Refuse : WordAction.Hold)).ToList();
        Count = distinct.Count;
        _any = distinct.Count == 0 ? null : SearchValues.Create(distinct.Select(w => w.Key).ToArray(), StringComparison.OrdinalIgnoreCase);
        _byFirst = distinct.GroupBy(w => char.ToUpperInvariant(w.Key[0]))
            .ToDictionary(g => g.Key, g => g.OrderByDescending(w => w.Key.Length).ToArray());
    }

    /// <summary>As texts are compared: compatibility-folded (full-width Ｔ is T, ㊙ is 秘), case aside.</summary>
    public static string Fold(string text) => Compatible(text).Trim();

    /// <summary>NFKC, without the zero-width and other format characters that would split a word; text that is not valid UTF-16 stays as it is.</summary>
    private static string Compatible(string text)
    {
        string folded;
        try
        {
            folded = text.IsNormalized(NormalizationForm.FormKC) ? text : text.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            folded = text;
        }
        if (!folded.AsSpan().ContainsAny(FormatCharacters)) return folded;
        return string.Concat(folded.Where(c => System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.Format));
    }

    private static readonly SearchValues<char> FormatCharacters = SearchValues.Create("\u00AD\u061C\u180E\u200B\u200C\u200D\u200E\u200F\u202A\u202B\u202C\u202D\u202E\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\uFEFF");

    /// <summary>The first word to refuse for, else the first to hold for, else nothing.</summary>
    public WordHit? Find(string text)
    {
        if (_any is null || text.Length == 0) return null;
        var folded = Compatible(text);
        WordHit? hold = null;
        var span = folded.AsSpan();
        var offset = 0;
        while (true)
        {
            var at = span[offset..].IndexOfAny(_any);
            if (at < 0) return hold;
            offset += at;
            if (WordAt(span[offset..]) is { } hit)
            {
                if (hit.Action == WordAction.Refuse) return hit;
                hold ??= hit;
            }
            offset++;
        }
    }

    /// <summary>The word that starts here: one to refuse for if any does, else the longest.</summary>
    private WordHit? WordAt(ReadOnlySpan<char> rest)
    {
        if (!_byFirst.TryGetValue(char.ToUpperInvariant(rest[0]), out var words)) return null;
        WordHit? found = null;
        foreach (var (word, action) in words)
        {
            if (!rest.StartsWith(word, StringComparison.OrdinalIgnoreCase)) continue;
            if (action == WordAction.Refuse) return new WordHit(word, action);
            found ??= new WordHit(word, action);
        }
        return found;
    }
}
