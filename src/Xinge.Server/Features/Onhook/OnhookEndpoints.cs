using System.Data.Common;
using System.Security.Claims;
using Dapper;
using Microsoft.EntityFrameworkCore;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Calls;
using Xinge.Server.Features.Compliance;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Onhook;

public sealed record PolicyWindow(string? From, string? To);
public sealed record PolicyContents(string? Answered, string? Busy, string? No_answer);
public sealed record PolicyBody(string? Name, string? Hotline, string? Signature, string? Category, string? Mode, int? DelayMinutes, PolicyContents? Contents,
    bool? NoRepeat, int? PeriodDays, PolicyWindow? Window, int? DailyLimit, int? Priority, bool? Enabled);
public sealed record PolicyView(long Id, string Name, string Hotline, string Signature, string Category, string Mode, int? DelayMinutes, PolicyContents Contents,
    bool NoRepeat, int? PeriodDays, PolicyWindow? Window, int? DailyLimit, int Priority, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
public sealed record PolicyCreated(long Id);
public sealed record HotlineView(long Id, string Number, string Login);
public sealed record OnhookView(bool Open, string TimeZone, int MaxHotlines, IReadOnlyList<HotlineView> Hotlines);
public sealed record OnhookAdminView(bool Open, string TimeZone, int MaxHotlines, IReadOnlyList<HotlineView> Hotlines, IReadOnlyList<PolicyView> Policies);
public sealed record OnhookOpen(bool? Open, string? TimeZone, List<string>? Hotlines, string? Password);
/// <param name="Sent">SMS the policy decided to send (<paramref name="Pending"/> of them not yet handed to the engine), less those that failed.</param>
public sealed record PolicyStat(long PolicyId, string Policy, string Outcome, int Sent, int Pending, int SuppressedRepeat, int SuppressedWindow, int SuppressedPeak, int SuppressedOptOut, int Failed);
public sealed record DayStat(string Day, int Sent, int Suppressed);
public sealed record OnhookStats(IReadOnlyList<PolicyStat> Items, IReadOnlyList<DayStat> Days);
public sealed record PreviewBody(string? Signature, string? Category, string? Text);
public sealed record PreviewView(string Text, int Segments, string Encoding, long Price);

/// <summary>
/// On-hook SMS (S2): the operator opens the service for an enterprise with its hotlines; the enterprise (signed in
/// with a hotline number, or any of its administrators) sets its policies and reads their statistics.
/// </summary>
public static class OnhookEndpoints
{
    public const int MaxPolicies = 100;

    public static IServiceCollection AddOnhook(this IServiceCollection services)
    {
        services.AddSingleton<WakeSignalFor<OnhookDecision>>();
        services.AddSingleton<ICallEventHandler, OnhookDecider>();
        services.AddSingleton<IEnterpriseHotlines, HotlineBook>();
        services.AddHostedService<OnhookSender>();
        return services;
    }

    public static IEndpointRouteBuilder MapOnhook(this IEndpointRouteBuilder app)
    {
        var enterprise = app.MapGroup("/api/v1/onhook").RequireAuthorization("enterprise").WithTags("On-hook SMS");
        enterprise.MapGet("", ServiceAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapGet("/policies", ListPoliciesAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapPost("/policies", CreatePolicyAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapGet("/policies/{id:long}", GetPolicyAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapPut("/policies/{id:long}", UpdatePolicyAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapDelete("/policies/{id:long}", RemovePolicyAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapGet("/stats", StatsAsync).RequireAuthorization(Rights.OnhookManage);
        enterprise.MapPost("/preview", PreviewAsync).RequireAuthorization(Rights.OnhookManage);

        var admin = app.MapGroup("/api/v1/admin/enterprises/{id:long}/onhook").WithTags("Operator");
        admin.MapGet("", AdminViewAsync).RequireAuthorization(Rights.EnterprisesRead);
        admin.MapPut("", OpenAsync).RequireAuthorization(Rights.EnterprisesManage);
        admin.MapDelete("/hotlines/{number}", RemoveHotlineAsync).RequireAuthorization(Rights.EnterprisesManage);
        return app;
    }

    private static long EnterpriseOf(ClaimsPrincipal user) => Caller.From(user).Enterprise;

    private static async Task<(bool Open, string? Zone, int Max)?> ServiceRowAsync(DbConnection c, long enterpriseId, DbTransaction? tx = null)
    {
        var max = await c.QuerySingleOrDefaultAsync<int?>("SELECT max_hotlines FROM enterprises WHERE id = @enterpriseId", new { enterpriseId }, tx);
        if (max is null) return null;
        var row = await c.QuerySingleOrDefaultAsync<(bool Open, string Zone)?>("SELECT open, time_zone FROM onhook_services WHERE enterprise_id = @enterpriseId", new { enterpriseId }, tx);
        return (row?.Open ?? false, row?.Zone, max.Value);
    }

    private static async Task<List<HotlineView>> HotlinesAsync(DbConnection c, long enterpriseId) =>
        (await c.QueryAsync<(long Id, string Number)>("SELECT id, number FROM hotlines WHERE enterprise_id = @enterpriseId ORDER BY id", new { enterpriseId }))
            .Select(h => new HotlineView(h.Id, h.Number, Messaging.PhoneNumbers.National(h.Number))).ToList();

    private static async Task<IResult> ServiceAsync(ClaimsPrincipal user, Database database, PlatformTimeZone zone)
    {
        var e = EnterpriseOf(user);
        await using var c = await database.OpenAsync();
        var service = await ServiceRowAsync(c, e);
        if (service is null) return Problems.NotFound("enterprise");
        return Results.Ok(new OnhookView(service.Value.Open, service.Value.Zone ?? zone.Zone.Id, service.Value.Max, await HotlinesAsync(c, e)));
    }

    // ---- policies ----

    private static async Task<IResult> ListPoliciesAsync(ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        return Results.Ok(new Page<PolicyView>(await PoliciesAsync(c, EnterpriseOf(user), null), null));
    }

    private static async Task<List<PolicyView>> PoliciesAsync(DbConnection c, long enterpriseId, long? id)
    {
        var numbers = (await c.QueryAsync<(long Id, string Number)>("SELECT id, number FROM hotlines WHERE enterprise_id = @enterpriseId", new { enterpriseId })).ToDictionary(h => h.Id, h => h.Number);
        var rows = await c.QueryAsync<OnhookPolicy>(OnhookQueries.SelectPolicies + " WHERE enterprise_id = @enterpriseId" + (id is null ? "" : " AND id = @id") + " ORDER BY hotline_id, priority, id",
            new { enterpriseId, id });
        return rows.Select(p => ViewOf(p, numbers.GetValueOrDefault(p.HotlineId, ""))).ToList();
    }

    private static PolicyView ViewOf(OnhookPolicy p, string hotline) => new(p.Id, p.Name, hotline, p.Signature, p.Category, p.DelayMinutes == 0 ? "immediate" : "delayed",
        p.DelayMinutes == 0 ? null : p.DelayMinutes, new PolicyContents(p.ContentAnswered, p.ContentBusy, p.ContentNoAnswer), p.NoRepeat, p.PeriodDays,
        p.WindowFrom is { } f && p.WindowTo is { } t ? new PolicyWindow(Clock(f), Clock(t)) : null, p.DailyLimit, p.Priority, p.Enabled,
        DateTimeOffset.FromUnixTimeMilliseconds(p.CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(p.UpdatedAt));

    private static string Clock(int minutes) => $"{minutes / 60:D2}:{minutes % 60:D2}";

    private static async Task<IResult> GetPolicyAsync(long id, ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        return (await PoliciesAsync(c, EnterpriseOf(user), id)) is [{ } p] ? Results.Ok(p) : Problems.NotFound("policy");
    }

    /// <summary>A policy as asked, checked; or what is wrong with it.</summary>
    private static async Task<(OnhookPolicy?, IResult?)> ReadAsync(PolicyBody body, long enterpriseId, DbConnection c, Composer composer, SensitiveWords words,
        SignatureBook signatures, TemplateBook templates)
    {
        var name = body.Name?.Trim();
        if (Input.NameProblem(name, "name", 50) is { } nameProblem) return (null, Problems.Validation(nameProblem));
        if (Messaging.PhoneNumbers.ToE164(body.Hotline) is not { } number) return (null, Problems.Validation("hotline is one of the enterprise's hotline numbers"));
        var hotline = await c.QuerySingleOrDefaultAsync<long?>("SELECT id FROM hotlines WHERE enterprise_id = @enterpriseId AND number = @number", new { enterpriseId, number });
        if (hotline is null) return (null, Problems.Validation($"{body.Hotline} is not a hotline of this enterprise"));
        var signature = body.Signature?.Trim();
        if (string.IsNullOrEmpty(signature)) return (null, Problems.Validation("signature is required"));
        if (!await signatures.IsApprovedAsync(enterpriseId, signature, CancellationToken.None))
            return (null, Problems.Unprocessable("signature-not-approved", $"the signature 【{signature}】 is not an approved signature of this enterprise"));
        var category = body.Category ?? Category.Notification;
        if (category is not (Category.Notification or Category.Marketing)) return (null, Problems.Validation("category is notification or marketing"));
        int delay;
        switch (body.Mode)
        {
            case "immediate":
                if (body.DelayMinutes is not (null or 0)) return (null, Problems.Validation("delayMinutes goes with mode delayed"));
                delay = 0;
                break;
            case "delayed":
                if (body.DelayMinutes is not (>= 1 and <= 1440)) return (null, Problems.Validation("a delayed policy sends 1 to 1440 minutes (a day) after the call: delayMinutes"));
                delay = body.DelayMinutes.Value;
                break;
            default:
                return (null, Problems.Validation("mode is immediate or delayed"));
        }
        var contents = body.Contents ?? new PolicyContents(null, null, null);
        var texts = new[] { ("answered", contents.Answered), ("busy", contents.Busy), ("no_answer", contents.No_answer) };
        foreach (var (outcome, text) in texts)
        {
            if (text is null) continue;
            if (string.IsNullOrWhiteSpace(text)) return (null, Problems.Validation($"contents.{outcome} is left out for no SMS, or has text"));
            if (Input.HasHiddenCharacters(text, lineBreaks: true)) return (null, Problems.Validation($"contents.{outcome} may not contain control characters other than line breaks"));
            if (Composer.HasPlaceholders(text)) return (null, Problems.Validation($"contents.{outcome} is the SMS itself: no ${{…}} placeholders"));
            if (composer.Measure(Composer.Compose(signature, text, category), category).Error is { } tooLong) return (null, Problems.Validation($"contents.{outcome}: {tooLong}"));
            if (words.Matcher.Find(text) is { Action: WordAction.Refuse } hit) return (null, Problems.Unprocessable("content-rejected", $"contents.{outcome} contains the word “{hit.Word}”, which is not allowed"));
        }
        if (contents is { Answered: null, Busy: null, No_answer: null }) return (null, Problems.Validation("contents has the SMS of at least one outcome: answered, busy or no_answer"));
        // R-S1-7: content goes without review when it matches an approved template, or when the operator trusts the enterprise;
        // a policy whose SMS would each wait in the review queue is refused now instead.
        if (!await c.ExecuteScalarAsync<bool>("SELECT review_exempt FROM enterprises WHERE id = @enterpriseId", new { enterpriseId }))
        {
            foreach (var (outcome, text) in texts)
            {
                if (text is not null && await templates.MatchAsync(enterpriseId, category, text, CancellationToken.None) is null)
                    return (null, Problems.Unprocessable("template-needed", $"contents.{outcome} matches no approved {category} template of this enterprise: apply for one (POST /templates) and use it once approved"));
            }
        }
        var noRepeat = body.NoRepeat ?? false;
        if (body.PeriodDays is { } days && (!noRepeat || days is < 1 or > 365)) return (null, Problems.Validation("periodDays (1 to 365) goes with noRepeat: a caller gets one SMS in that many days"));
        int? from = null, to = null;
        if (body.Window is { } w)
        {
            from = Minutes(w.From);
            to = Minutes(w.To);
            if (from is null || to is null || from == to) return (null, Problems.Validation("window is {from, to} as HH:mm, e.g. {\"from\": \"08:00\", \"to\": \"21:00\"}, from and to not the same"));
        }
        if (body.DailyLimit is < 1 or > 10_000_000) return (null, Problems.Validation("dailyLimit is 1 to 10000000 SMS a day"));
        if (body.Priority is < 1 or > 1000) return (null, Problems.Validation("priority is 1 (first) to 1000"));
        return (new OnhookPolicy
        {
            EnterpriseId = enterpriseId,
            HotlineId = hotline.Value,
            Name = name!,
            Signature = signature,
            Category = category,
            DelayMinutes = delay,
            ContentAnswered = contents.Answered,
            ContentBusy = contents.Busy,
            ContentNoAnswer = contents.No_answer,
            NoRepeat = noRepeat,
            PeriodDays = body.PeriodDays,
            WindowFrom = from,
            WindowTo = to,
            DailyLimit = body.DailyLimit,
            Priority = body.Priority ?? 100,
            Enabled = body.Enabled ?? true,
        }, null);
    }

    private static int? Minutes(string? clock) =>
        clock is { Length: 5 } && clock[2] == ':' && int.TryParse(clock[..2], out var h) && int.TryParse(clock[3..], out var m) && h is >= 0 and <= 24 && m is >= 0 and < 60 && h * 60 + m <= 1440
            ? h * 60 + m : null;

    private static async Task<IResult> CreatePolicyAsync(PolicyBody body, ClaimsPrincipal user, Database database, Composer composer, SensitiveWords words,
        SignatureBook signatures, TemplateBook templates, TimeProvider time, AuditLog audit, HttpContext http)
    {
        var e = EnterpriseOf(user);
        await using var c = await database.OpenAsync();
        var (policy, problem) = await ReadAsync(body, e, c, composer, words, signatures, templates);
        if (problem is not null) return problem;
        if (await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM onhook_policies WHERE enterprise_id = @e", new { e }) >= MaxPolicies)
            return Problems.Unprocessable("too-many-policies", $"an enterprise has at most {MaxPolicies} policies");
        policy!.CreatedAt = policy.UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        var id = await c.ExecuteScalarAsync<long>(
            "INSERT INTO onhook_policies (enterprise_id, hotline_id, name, signature, category, delay_minutes, content_answered, content_busy, content_no_answer, " +
            "no_repeat, period_days, window_from, window_to, daily_limit, priority, enabled, created_at, updated_at) VALUES (@EnterpriseId, @HotlineId, @Name, @Signature, @Category, " +
            "@DelayMinutes, @ContentAnswered, @ContentBusy, @ContentNoAnswer, @NoRepeat, @PeriodDays, @WindowFrom, @WindowTo, @DailyLimit, @Priority, @Enabled, @CreatedAt, @UpdatedAt) RETURNING id",
            policy);
        await audit.RecordAsync(http, "onhook_policy.created", $"policy:{id}", detail: policy.Name, enterpriseId: e);
        return Results.Created($"/api/v1/onhook/policies/{id}", new PolicyCreated(id));
    }

    /// <summary>Everything a policy says is replaced; its counters (who got one, how many today) stay with it.</summary>
    private static async Task<IResult> UpdatePolicyAsync(long id, PolicyBody body, ClaimsPrincipal user, Database database, Composer composer, SensitiveWords words,
        SignatureBook signatures, TemplateBook templates, TimeProvider time, AuditLog audit, HttpContext http)
    {
        var e = EnterpriseOf(user);
        await using var c = await database.OpenAsync();
        var (policy, problem) = await ReadAsync(body, e, c, composer, words, signatures, templates);
        if (problem is not null) return problem;
        policy!.Id = id;
        policy.UpdatedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        var changed = await c.ExecuteAsync(
            "UPDATE onhook_policies SET hotline_id = @HotlineId, name = @Name, signature = @Signature, category = @Category, delay_minutes = @DelayMinutes, " +
            "content_answered = @ContentAnswered, content_busy = @ContentBusy, content_no_answer = @ContentNoAnswer, no_repeat = @NoRepeat, period_days = @PeriodDays, " +
            "window_from = @WindowFrom, window_to = @WindowTo, daily_limit = @DailyLimit, priority = @Priority, enabled = @Enabled, updated_at = @UpdatedAt WHERE id = @Id AND enterprise_id = @EnterpriseId",
            policy);
        if (changed == 0) return Problems.NotFound("policy");
        await audit.RecordAsync(http, "onhook_policy.updated", $"policy:{id}", detail: policy.Name, enterpriseId: e);
        return (await PoliciesAsync(c, e, id)) is [{ } view] ? Results.Ok(view) : Problems.NotFound("policy");
    }

    private static async Task<IResult> RemovePolicyAsync(long id, ClaimsPrincipal user, Database database, AuditLog audit, HttpContext http)
    {
        var e = EnterpriseOf(user);
        await using var c = await database.OpenAsync();
        if (await c.ExecuteAsync("DELETE FROM onhook_policies WHERE id = @id AND enterprise_id = @e", new { id, e }) == 0) return Problems.NotFound("policy");
        await audit.RecordAsync(http, "onhook_policy.removed", $"policy:{id}", enterpriseId: e);
        return Results.NoContent();
    }

    // ---- statistics and preview ----

    private static async Task<IResult> StatsAsync(ClaimsPrincipal user, Database database, string? from, string? to)
    {
        var e = EnterpriseOf(user);
        if (!Day(from, 0, out var first) || !Day(to, 99999999, out var last)) return Problems.Validation("from and to are dates, e.g. 2026-12-02");
        await using var c = await database.OpenAsync();
        var names = (await c.QueryAsync<(long Id, string Name)>("SELECT id, name FROM onhook_policies WHERE enterprise_id = @e", new { e })).ToDictionary(p => p.Id, p => p.Name);
        var rows = (await c.QueryAsync<(long PolicyId, string Outcome, string Decision, string? State, int N)>(
            "SELECT policy_id, outcome, decision, send_state, COUNT(*) FROM onhook_decisions WHERE enterprise_id = @e AND policy_id IS NOT NULL AND day BETWEEN @first AND @last " +
            "GROUP BY policy_id, outcome, decision, send_state", new { e, first, last })).ToList();
        var items = rows.GroupBy(r => (r.PolicyId, r.Outcome)).OrderBy(g => g.Key.PolicyId).ThenBy(g => g.Key.Outcome).Select(g =>
        {
            int Of(string decision) => g.Where(r => r.Decision == decision).Sum(r => r.N);
            return new PolicyStat(g.Key.PolicyId, names.GetValueOrDefault(g.Key.PolicyId, "(removed)"), g.Key.Outcome,
                g.Where(r => r.Decision == Decisions.Sent && r.State != SendStates.Failed).Sum(r => r.N), g.Where(r => r.State == SendStates.Pending).Sum(r => r.N),
                Of(Decisions.Repeat), Of(Decisions.Window), Of(Decisions.Peak), Of(Decisions.OptedOut), g.Where(r => r.State == SendStates.Failed).Sum(r => r.N));
        }).ToList();
        var days = (await c.QueryAsync<(int Day, string Decision, string? State, int N)>(
            "SELECT day, decision, send_state, COUNT(*) FROM onhook_decisions WHERE enterprise_id = @e AND policy_id IS NOT NULL AND day BETWEEN @first AND @last GROUP BY day, decision, send_state",
            new { e, first, last })).GroupBy(r => r.Day).OrderBy(g => g.Key)
            .Select(g => new DayStat($"{g.Key / 10000:D4}-{g.Key / 100 % 100:D2}-{g.Key % 100:D2}", g.Where(r => r.Decision == Decisions.Sent && r.State != SendStates.Failed).Sum(r => r.N),
                g.Where(r => r.Decision != Decisions.Sent || r.State == SendStates.Failed).Sum(r => r.N))).ToList();
        return Results.Ok(new OnhookStats(items, days));
    }

    private static bool Day(string? text, int otherwise, out int day)
    {
        day = otherwise;
        if (text is null) return true;
        if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", out var d)) return false;
        day = d.Year * 10000 + d.Month * 100 + d.Day;
        return true;
    }

    private static async Task<IResult> PreviewAsync(PreviewBody body, ClaimsPrincipal user, Composer composer, Database database)
    {
        var category = body.Category ?? Category.Notification;
        if (category is not (Category.Notification or Category.Marketing)) return Problems.Validation("category is notification or marketing");
        if (string.IsNullOrEmpty(body.Text) || string.IsNullOrWhiteSpace(body.Signature)) return Problems.Validation("signature and text are required");
        if (body.Text.Length > 2000 || body.Signature.Length > 50) return Problems.Validation("text is at most 2000 characters and signature 50");
        var (text, error) = composer.Measure(Composer.Compose(body.Signature.Trim(), body.Text, category), category);
        if (error is not null) return Problems.Validation(error);
        await using var c = await database.OpenAsync();
        var unit = await c.ExecuteScalarAsync<int>("SELECT unit_price FROM enterprises WHERE id = @e", new { e = EnterpriseOf(user) });
        return Results.Ok(new PreviewView(text!.Value.Text, text.Value.Segments, text.Value.Encoding.ToString(), (long)text.Value.Segments * unit));
    }

    // ---- the operator's ----

    private static async Task<IResult> AdminViewAsync(long id, Database database, PlatformTimeZone zone)
    {
        await using var c = await database.OpenAsync();
        var service = await ServiceRowAsync(c, id);
        if (service is null) return Problems.NotFound("enterprise");
        return Results.Ok(new OnhookAdminView(service.Value.Open, service.Value.Zone ?? zone.Zone.Id, service.Value.Max, await HotlinesAsync(c, id), await PoliciesAsync(c, id, null)));
    }

    /// <summary>A hotline leaves the enterprise, with its policies (their statistics stay); its number may then be another's.</summary>
    private static async Task<IResult> RemoveHotlineAsync(long id, string number, Database database, AuditLog audit, HttpContext http)
    {
        if (Messaging.PhoneNumbers.ToE164(number) is not { } e164) return Problems.NotFound("hotline");
        using (await database.WriteTurnAsync())
        {
            await using var c = await database.OpenAsync();
            await using var tx = await c.BeginTransactionAsync();
            var hotline = await c.QuerySingleOrDefaultAsync<long?>("SELECT id FROM hotlines WHERE enterprise_id = @id AND number = @e164", new { id, e164 }, tx);
            if (hotline is null) return Problems.NotFound("hotline");
            await c.ExecuteAsync("DELETE FROM onhook_policies WHERE hotline_id = @hotline", new { hotline }, tx);
            await c.ExecuteAsync("DELETE FROM hotlines WHERE id = @hotline", new { hotline }, tx);
            await tx.CommitAsync();
        }
        await audit.RecordAsync(http, "hotline.removed", "hotline:" + e164, enterpriseId: id);
        return Results.NoContent();
    }

    /// <summary>
    /// Opens (or closes) the service, with hotlines added within the enterprise's quota. With a password, each hotline
    /// added is a login of the enterprise (R-S2-1): its number as written at home (4008001234), that first password, to be
    /// changed at the first sign-in.
    /// </summary>
    private static async Task<IResult> OpenAsync(long id, OnhookOpen body, Database database, IEnterpriseHotlines hotlines, PlatformTimeZone platform, TimeProvider time,
        AuditLog audit, XingeDb db, HttpContext http)
    {
        if (body.Password is not null)
        {
            if (body.Hotlines is not { Count: > 0 }) return Problems.Validation("password goes with hotlines: it is their logins' first password");
            // Each hotline's login as it will be (a number that is none is refused with the hotlines below).
            foreach (var login in body.Hotlines.Select(n => Messaging.PhoneNumbers.ToE164(n)).OfType<string>().Select(e164 => Messaging.PhoneNumbers.National(e164)))
            {
                if (AccountsEndpoints.LoginProblem(login, body.Password) is { } problem) return Problems.Validation(problem);
                if (await db.Users.AnyAsync(u => u.Username == login)) return Problems.Conflict("username-taken", $"the username {login} is taken");
            }
        }
        if (body.TimeZone is { } tz && (tz.Length > 64 || !TimeZoneInfo.TryFindSystemTimeZoneById(tz, out _))) return Problems.Validation($"timeZone: '{tz[..Math.Min(tz.Length, 64)]}' is not a time zone (e.g. Asia/Shanghai)");
        if (body.Hotlines is { Count: > 1000 }) return Problems.Validation("at most 1000 hotlines");
        await using (var c = await database.OpenAsync())
        {
            if (await ServiceRowAsync(c, id) is null) return Problems.NotFound("enterprise");
        }
        if (body.Hotlines is { Count: > 0 })
        {
            var (added, problem) = await hotlines.AddAsync(id, body.Hotlines);
            if (problem is not null) return problem;
            foreach (var number in body.Password is null ? [] : added)
            {
                var login = Messaging.PhoneNumbers.National(number);
                var (_, refused) = await AccountsEndpoints.IssueLoginAsync(db, id, login, body.Password!, Roles.EnterpriseAdmin, time);
                if (refused is not null) return refused;
                await audit.RecordAsync(http, "user.created", "user:" + login, detail: "hotline login", enterpriseId: id);
            }
        }
        await using (var c = await database.OpenAsync())
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            // Open unless said otherwise when the service is new; as it was when open is not given.
            await c.ExecuteAsync("INSERT INTO onhook_services (enterprise_id, open, time_zone, changed_at) VALUES (@id, @open, @zone, @now) " +
                "ON CONFLICT (enterprise_id) DO UPDATE SET open = COALESCE(@givenOpen, onhook_services.open), time_zone = COALESCE(@givenZone, onhook_services.time_zone), changed_at = excluded.changed_at",
                new { id, open = body.Open ?? true, givenOpen = body.Open, zone = body.TimeZone ?? platform.Zone.Id, givenZone = body.TimeZone, now });
        }
        await audit.RecordAsync(http, body.Open switch { false => "onhook.closed", true => "onhook.opened", null => "onhook.changed" }, $"enterprise:{id}", detail: body.Hotlines is { Count: > 0 } h ? string.Join(",", h) : null, enterpriseId: id);
        return await AdminViewAsync(id, database, platform);
    }
}
