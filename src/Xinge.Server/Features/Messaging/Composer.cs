using Xinge.Text;

namespace Xinge.Server.Features.Messaging;

public sealed class MessagingOptions
{
    /// <summary>The platform's 106 long number; an enterprise sends from it plus its extension (R-S1-12).</summary>
    public string SenderPrefix { get; set; } = "10690";
    public int NotificationMaxLength { get; set; } = 500;
    public int MarketingMaxLength { get; set; } = 300;
    /// <summary>A message not settled this long after it was accepted expires and is refunded.</summary>
    public int ValidityHours { get; set; } = 48;
    public int MaxSubmitAttempts { get; set; } = 20;
}

public readonly record struct ComposedText(string Text, SmsEncoding Encoding, int Segments);

/// <summary>Builds the SMS that travels: 【signature】 + body (+ the unsubscribe suffix for marketing), and measures it.</summary>
public sealed class Composer(MessagingOptions options)
{
    public const string ChineseOptOutSuffix = "退订回T";
    public const string EnglishOptOutSuffix = " Reply STOP to opt out";

    /// <summary>The opt-out wordings a marketing text may end with itself (a marketing template must); then no suffix is added.</summary>
    public static readonly string[] OptOutWordings = ["退订回T", "回T退订", "拒收请回复R", "回TD退订", "退订回TD", "Reply STOP to opt out", "Reply STOP to unsubscribe", "Reply T to unsubscribe"];

    /// <summary>Whether <paramref name="body"/> ends with an opt-out wording (trailing spaces and full stops aside).</summary>
    public static bool EndsWithOptOut(string body)
    {
        var end = body.AsSpan().TrimEnd(" \t\r\n.。!！");
        foreach (var w in OptOutWordings)
        {
            if (end.EndsWith(w, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>R-S1-2, R-S1-3: the text as the handset shows it. Chinese text gets 退订回T, other text the English suffix, unless it ends with an opt-out wording already.</summary>
    public static string Compose(string signature, string body, string category)
    {
        var text = $"【{signature}】{body}";
        if (category != Category.Marketing || EndsWithOptOut(body)) return text;
        return text + (HasChinese(body) ? ChineseOptOutSuffix : EnglishOptOutSuffix);
    }

    private static bool HasChinese(string s)
    {
        foreach (var c in s)
        {
            if (c is >= '\u3400' and <= '\u9fff' or >= '\uf900' and <= '\ufaff') return true;
        }
        return false;
    }

    public int MaxLength(string category) => category == Category.Marketing ? options.MarketingMaxLength : options.NotificationMaxLength;

    /// <summary>Measures a composed text; null with a reason when it is too long for its category.</summary>
    public (ComposedText? Text, string? Error) Measure(string text, string category)
    {
        var max = MaxLength(category);
        if (text.Length > max) return (null, $"the message is {text.Length} characters with signature and suffix; {category} allows {max}");
        var plan = SmsText.Plan(text);
        return (new ComposedText(text, plan.Encoding, plan.Segments), null);
    }

    public static bool HasPlaceholders(string text) => text.Contains("${", StringComparison.Ordinal);

    /// <summary>Fills <c>${name}</c> placeholders; the first missing name is reported.</summary>
    public static (string? Text, string? Missing) Fill(string template, IReadOnlyDictionary<string, string>? values)
    {
        var sb = new System.Text.StringBuilder(template.Length + 16);
        var i = 0;
        while (i < template.Length)
        {
            var start = template.IndexOf("${", i, StringComparison.Ordinal);
            if (start < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }
            var end = template.IndexOf('}', start + 2);
            if (end < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }
            sb.Append(template, i, start - i);
            var name = template[(start + 2)..end];
            if (values is null || !values.TryGetValue(name, out var value)) return (null, name);
            sb.Append(value);
            i = end + 1;
        }
        return (sb.ToString(), null);
    }
}

/// <summary>
/// 64-bit ids that sort by time and never collide between nodes: milliseconds since 2024 (41 bits), node (6 bits),
/// sequence (12 bits, 4096 a millisecond). They exceed 2^53, so JSON carries them as strings.
/// </summary>
public sealed class IdGenerator(TimeProvider time, int node)
{
    public int Node { get; } = node & 0x3F;

    private static readonly long Epoch = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private readonly Lock _gate = new();
    private long _lastMs;
    private int _sequence;

    /// <summary>The smallest id made at or after <paramref name="at"/>: ids grow with time, so a time range is an id range.</summary>
    public static long FirstIdAt(DateTimeOffset at) => Math.Max(0, at.ToUnixTimeMilliseconds() - Epoch) << 18;

    public long Next()
    {
        lock (_gate)
        {
            var ms = Math.Max(time.GetUtcNow().ToUnixTimeMilliseconds() - Epoch, _lastMs);
            if (ms == _lastMs)
            {
                if (++_sequence >= 4096)
                {
                    // Borrow the next millisecond rather than wait: ids stay unique and ordered.
                    ms++;
                    _sequence = 0;
                }
            }
            else
            {
                _sequence = 0;
            }
            _lastMs = ms;
            return (ms << 18) | ((long)(node & 0x3F) << 12) | (long)_sequence;
        }
    }
}
