using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Connectors;

namespace Xinge.Server.Features.Messaging;

public static class MessagingEndpoints
{
    public const int MaxRecipientsPerRequest = 1000;
    public const int MaxPage = 1000;

    public static IServiceCollection AddMessaging(this IServiceCollection services, IConfiguration config)
    {
        var options = config.GetSection("Xinge:Messaging").Get<MessagingOptions>() ?? new MessagingOptions();
        services.AddSingleton(options);
        services.AddSingleton<Composer>();
        services.AddSingleton(sp => new IdGenerator(sp.GetRequiredService<TimeProvider>(), config.GetValue("Xinge:NodeId", 0)));
        services.AddSingleton<WakeSignalFor<Dispatcher>>();
        services.AddSingleton<WakeSignalFor<WebhookWorker>>();
        services.AddSingleton<InboundRouter>();
        services.AddSingleton<LaneInbox>();
        services.AddSingleton<MessageStore>();
        services.AddHostedService(sp => sp.GetRequiredService<MessageStore>());
        services.AddSingleton<StatusWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusWriter>());
        services.AddSingleton<MessagingService>();
        services.AddSingleton<MessageQueries>();
        services.AddSingleton<JobControl>();
        services.AddSingleton<ConnectorRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectorRegistry>());
        services.AddSingleton<Dispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<Dispatcher>());
        services.AddHostedService<WebhookWorker>();
        services.AddHostedService<EnterpriseSuspension>();
        services.AddSingleton<HeldMessages>();
        services.AddSingleton<WebhookTargets>();
        services.AddHttpClient("webhooks", c => c.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                ConnectCallback = sp.GetRequiredService<WebhookTargets>().ConnectAsync,
                AllowAutoRedirect = false,
                // Straight to the checked address: through a proxy the check would see the proxy, not the target.
                UseProxy = false,
            });
        return services;
    }

    public static IEndpointRouteBuilder MapMessaging(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").RequireAuthorization("enterprise").WithTags("Enterprise")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);
        api.MapPost("/messages", SendMessagesAsync).RequireAuthorization(Rights.MessagesSend).ProducesProblem(402).ProducesProblem(422);
        api.MapGet("/messages", ListMessagesAsync).RequireAuthorization(Rights.MessagesRead);
        api.MapGet("/messages/export", ExportMessagesAsync).RequireAuthorization(Rights.MessagesRead)
            .Produces(200, contentType: "text/csv").Produces(200, contentType: MessageExport.XlsxType).ProducesProblem(400);
        api.MapGet("/messages/{id}", GetMessageAsync).RequireAuthorization(Rights.MessagesRead);
        api.MapDelete("/messages/{id}", CancelMessageAsync).RequireAuthorization(Rights.MessagesSend);
        api.MapPost("/jobs", CreateJobAsync).RequireAuthorization(Rights.MessagesSend)
            // One Accepts: routing turns away (415) what no Accepts lists, and a second would replace the first.
            .Accepts<CreateJobRequest>("application/json", "multipart/form-data")
            .Produces<JobAccepted>(202).ProducesProblem(400).ProducesProblem(402).ProducesProblem(415).ProducesProblem(422);
        api.MapGet("/jobs", ListJobsAsync).RequireAuthorization(Rights.MessagesRead);
        api.MapGet("/jobs/{id}", GetJobAsync).RequireAuthorization(Rights.MessagesRead);
        api.MapGet("/jobs/{id}/rejections", GetRejectionsAsync).RequireAuthorization(Rights.MessagesRead);
        api.MapGet("/jobs/{id}/failures", async Task<Results<Ok<IReadOnlyList<JobFailureView>>, ProblemHttpResult>> (string id, ClaimsPrincipal user, MessageQueries queries) =>
            long.TryParse(id, out var jobId) && await queries.FailuresAsync(Caller.From(user).Enterprise, jobId) is { } failures
                ? TypedResults.Ok(failures)
                : Problems.NotFound("job")).RequireAuthorization(Rights.MessagesRead);
        api.MapPost("/jobs/{id}/pause", (string id, ClaimsPrincipal user, JobControl jobs, MessageQueries queries) =>
            ChangeJobAsync(id, user, queries, (e, j) => jobs.PauseAsync(e, j))).RequireAuthorization(Rights.MessagesSend);
        api.MapPost("/jobs/{id}/resume", (string id, ClaimsPrincipal user, JobControl jobs, MessageQueries queries) =>
            ChangeJobAsync(id, user, queries, (e, j) => jobs.ResumeAsync(e, j))).RequireAuthorization(Rights.MessagesSend);
        api.MapPost("/jobs/{id}/cancel", (string id, ClaimsPrincipal user, JobControl jobs, MessageQueries queries) =>
            ChangeJobAsync(id, user, queries, (e, j) => jobs.CancelAsync(e, j))).RequireAuthorization(Rights.MessagesSend);
        api.MapGet("/inbound", GetInboundAsync).RequireAuthorization(Rights.MessagesRead);
        api.MapPut("/webhook", PutWebhookAsync).RequireAuthorization(Rights.WebhookManage);
        api.MapPost("/webhook/test", TestWebhookAsync).RequireAuthorization(Rights.WebhookManage);
        api.MapGet("/webhook", GetWebhookAsync).RequireAuthorization(Rights.WebhookManage);
        return app;
    }

    /// <summary>A refused request as problem details: the one table from domain refusals to HTTP.</summary>
    public static ProblemHttpResult Problem(SendRefusal refusal) => refusal.Error switch
    {
        SendError.Invalid => Problems.Validation(refusal.Detail),
        SendError.EnterpriseNotFound => Problems.NotFound("enterprise"),
        SendError.EnterpriseNotVerified => Problems.Of(403, "enterprise-not-verified", "Forbidden", refusal.Detail),
        SendError.EnterpriseSuspended => Problems.Of(403, "enterprise-suspended", "Forbidden", refusal.Detail),
        SendError.SignatureNotApproved => Problems.Unprocessable("signature-not-approved", refusal.Detail),
        SendError.TextTooLong => Problems.Unprocessable("text-too-long", refusal.Detail),
        SendError.TemplateNotApproved => Problems.Unprocessable("template-not-approved", refusal.Detail),
        SendError.NoValidRecipients => Problems.Of(422, "no-valid-recipients", "The request cannot be carried out", refusal.Detail,
            new { rejected = refusal.Rejected!.Select(r => new { line = r.Line, to = r.To, reason = r.Reason }) }),
        SendError.InsufficientBalance => Problems.Of(402, "insufficient-balance", "Insufficient balance", refusal.Detail, new { required = refusal.Required }),
        SendError.IdempotencyKeyReused => Problems.Unprocessable("idempotency-key-reused", refusal.Detail),
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal.Error, null),
    };

    /// <summary>A template id as JSON carries it: a number, or a string of one (ids are strings elsewhere in the API).</summary>
    private static bool TryTemplateId(JsonElement? value, out long? id)
    {
        id = null;
        switch (value)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return true;
            case { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var number) && number > 0:
                id = number;
                return true;
            case { ValueKind: JsonValueKind.String } s when long.TryParse(Input.TextOf(s), out var parsed) && parsed > 0:
                id = parsed;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A job's own params under a recipient's: the recipient's value wins.</summary>
    private static IReadOnlyDictionary<string, string>? Merge(Dictionary<string, string>? shared, Dictionary<string, string>? own)
    {
        if (shared is not { Count: > 0 }) return own;
        if (own is not { Count: > 0 }) return shared;
        var merged = new Dictionary<string, string>(shared);
        foreach (var (k, v) in own) merged[k] = v;
        return merged;
    }

    private static string? IdempotencyKey(HttpRequest request) =>
        request.Headers.TryGetValue("Idempotency-Key", out var v) && !string.IsNullOrWhiteSpace(v) ? v.ToString().Trim() : null;

    private static async Task<Results<Accepted<SendMessagesResponse>, ProblemHttpResult>> SendMessagesAsync(
        SendMessagesRequest body, ClaimsPrincipal user, HttpRequest http, MessagingService messaging)
    {
        if (!TryTemplateId(body.TemplateId, out var templateId)) return Problems.Validation("templateId is the id of one of your templates");
        List<Recipient> recipients = [];
        switch (body.To)
        {
            case { ValueKind: JsonValueKind.String } s:
                if (Input.TextOf(s) is not { } one) return Problems.Validation("to is not valid UTF-8 text");
                recipients.Add(new Recipient(one, body.Params));
                break;
            case { ValueKind: JsonValueKind.Array } a:
                foreach (var e in a.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.String) return Problems.Validation("to is a number or an array of numbers (strings)");
                    if (Input.TextOf(e) is not { } number) return Problems.Validation("to is not valid UTF-8 text");
                    recipients.Add(new Recipient(number, body.Params));
                }
                break;
            default:
                return Problems.Validation("to is required: a number or an array of numbers");
        }
        if (recipients.Count > MaxRecipientsPerRequest) return Problems.Validation($"at most {MaxRecipientsPerRequest} numbers a request; use POST /jobs for more");
        var (result, refusal) = await messaging.SendAsync(new SendCommand(Caller.From(user).Enterprise, recipients, body.Signature, body.Category, body.Text,
            body.SendAt, body.ClientRef, IdempotencyKey(http), Kind: SendKind.Messages, TemplateId: templateId));
        if (refusal is not null) return Problem(refusal);
        return TypedResults.Accepted((string?)null, new SendMessagesResponse(result!.JobId.ToString(),
            result.Messages.Select(m => new SentMessage(m.Id.ToString(), m.To, m.Segments, m.Price)).ToList(),
            result.Rejected.Select(r => new RejectedRecipient(r.To, r.Reason)).ToList()));
    }

    /// <summary>POST /jobs: JSON with <c>recipients</c>, or multipart with a CSV/XLSX <c>file</c> and the other fields as form fields.</summary>
    private static async Task<IResult> CreateJobAsync(HttpContext http, ClaimsPrincipal user, MessagingService messaging)
    {
        if (http.Request.HasFormContentType) return await CreateJobFromFileAsync(http, user, messaging);
        if (!http.Request.HasJsonContentType())
            return Problems.Of(415, "unsupported-media-type", "Unsupported media type", "send a job as application/json, or as multipart/form-data with a CSV or XLSX file");
        CreateJobRequest? body;
        try
        {
            body = await http.Request.ReadFromJsonAsync<CreateJobRequest>(http.RequestAborted);
        }
        catch (System.Text.Json.JsonException)
        {
            return Problems.Validation("the body is not valid JSON for this request");
        }
        if (body is null) return Problems.Validation("a JSON body is required");
        if (!TryTemplateId(body.TemplateId, out var templateId)) return Problems.Validation("templateId is the id of one of your templates");
        if (body.Recipients is null || body.Recipients.Count == 0) return Problems.Validation("recipients is required: [{to, params?}]");
        var recipients = body.Recipients.Select(r => new Recipient(r?.To ?? "", Merge(body.Params, r?.Params))).ToList();
        return await StartJobAsync(new SendCommand(Caller.From(user).Enterprise, recipients, body.Signature, body.Category, body.Text,
            body.SendAt, body.ClientRef, IdempotencyKey(http.Request), Kind: SendKind.Job, TemplateId: templateId), messaging);
    }

    private static async Task<IResult> StartJobAsync(SendCommand command, MessagingService messaging)
    {
        var (result, refusal) = await messaging.SendAsync(command);
        if (refusal is not null) return Problem(refusal);
        return TypedResults.Accepted((string?)null, new JobAccepted(result!.JobId.ToString(), result.Accepted, result.RejectedCount));
    }

    /// <summary>Largest job file taken: 200,000 rows with a few variables each fit well within it.</summary>
    public const long MaxJobFileBytes = 64L * 1024 * 1024;

    private static async Task<IResult> CreateJobFromFileAsync(HttpContext http, ClaimsPrincipal user, MessagingService messaging)
    {
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = MaxJobFileBytes + 64 * 1024;
        var (file, problem) = await Upload.FileAsync(http, "the recipients (a CSV or XLSX file)");
        if (file is null) return problem!;
        if (file.Length > MaxJobFileBytes) return Problems.Of(413, "too-large", "Request too large", $"a job file is at most {MaxJobFileBytes / 1024 / 1024} MB");
        var form = http.Request.Form;
        string? Field(string name) => form.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v.ToString() : null;
        DateTimeOffset? sendAt = null;
        if (Field("sendAt") is { } at)
        {
            // With its offset (Z or ±hh:mm), as in JSON: a time without one would be read in the server's zone.
            if (!Input.TryParseTimeWithOffset(at, out var when))
                return Problems.Validation("sendAt is a date and time with its offset, e.g. 2026-12-24T09:00:00+08:00");
            sendAt = when;
        }
        Dictionary<string, string>? shared = null;
        if (Field("params") is { } json)
        {
            try
            {
                shared = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(json);
            }
            catch (System.Text.Json.JsonException)
            {
                return Problems.Validation("params is a JSON object of text values, e.g. {\"code\":\"1234\"}");
            }
        }
        long? templateId = null;
        if (Field("templateId") is { } t)
        {
            if (!long.TryParse(t, out var id) || id <= 0) return Problems.Validation("templateId is the id of one of your templates");
            templateId = id;
        }
        await using var stream = file.OpenReadStream();
        var (parsed, fileProblem) = await JobFile.ReadAsync(stream, MessagingService.MaxRecipientsPerJob, http.RequestAborted);
        if (parsed is null) return Problems.Validation(fileProblem!);
        var recipients = shared is null ? parsed.Recipients : parsed.Recipients.Select(r => r with { Params = Merge(shared, r.Params as Dictionary<string, string>) }).ToList();
        return await StartJobAsync(new SendCommand(Caller.From(user).Enterprise, recipients, Field("signature"), Field("category"), Field("text"),
            sendAt, Field("clientRef"), IdempotencyKey(http.Request), Kind: SendKind.Job, TemplateId: templateId), messaging);
    }

    private static async Task<Results<Ok<MessageView>, ProblemHttpResult>> GetMessageAsync(string id, ClaimsPrincipal user, MessageQueries queries)
    {
        if (!long.TryParse(id, out var messageId)) return Problems.NotFound("message");
        var m = await queries.MessageAsync(Caller.From(user).Enterprise, messageId);
        return m is null ? Problems.NotFound("message") : TypedResults.Ok(m);
    }

    private static async Task<Results<Ok<Page<MessageView>>, ProblemHttpResult>> ListMessagesAsync(ClaimsPrincipal user, MessageQueries queries,
        string? status, string? to, string? clientRef, string? jobId, DateTimeOffset? since, DateTimeOffset? until, string? cursor, int? limit)
    {
        var (filter, problem) = FilterOf(status, to, clientRef, jobId, since, until, cursor, limit, 100);
        if (filter is null) return Problems.Validation(problem!);
        return TypedResults.Ok(await queries.MessagesAsync(Caller.From(user).Enterprise, filter));
    }

    /// <summary>GET /messages/export: the messages a search finds, as CSV or XLSX, streamed page by page.</summary>
    private static async Task<IResult> ExportMessagesAsync(ClaimsPrincipal user, MessageQueries queries, PlatformTimeZone zone, string? format,
        string? status, string? to, string? clientRef, string? jobId, DateTimeOffset? since, DateTimeOffset? until)
    {
        if (format is not ("csv" or "xlsx")) return Problems.Validation("format is csv or xlsx");
        var (filter, problem) = FilterOf(status, to, clientRef, jobId, since, until, null, null, MessageExport.PageSize);
        if (filter is null) return Problems.Validation(problem!);
        var rows = MessageExport.RowsAsync(queries, zone, Caller.From(user).Enterprise, filter);
        return format == "csv" ? MessageExport.Csv(rows) : await MessageExport.XlsxAsync(rows);
    }

    private static (MessageFilter? Filter, string? Problem) FilterOf(string? status, string? to, string? clientRef, string? jobId, DateTimeOffset? since, DateTimeOffset? until,
        string? cursor, int? limit, int defaultLimit)
    {
        if (status is not null && !MessageStatus.All.Contains(status)) return (null, $"status is one of {string.Join(", ", MessageStatus.All)}");
        string? number = null;
        if (to is not null && (number = PhoneNumbers.ToE164(to)) is null) return (null, "to is a phone number in E.164 or national format");
        long? job = null;
        if (jobId is not null)
        {
            if (!long.TryParse(jobId, out var j)) return (null, "jobId is the id of one of your jobs");
            job = j;
        }
        if (clientRef is { Length: > 64 }) return (null, "clientRef is at most 64 characters");
        if (!Cursor.TryRead(cursor, out var before)) return (null, "cursor is the next value of a previous page");
        if (limit is < 1 or > MaxPage) return (null, $"limit is 1 to {MaxPage}");
        return (new MessageFilter(status, number, clientRef, job, since, until, before, limit ?? defaultLimit), null);
    }

    /// <summary>DELETE /messages/{id}: withdraws a message that has not gone out (queued, scheduled or in a paused job); refunded.</summary>
    private static async Task<Results<Ok<CancelledMessage>, ProblemHttpResult>> CancelMessageAsync(string id, ClaimsPrincipal user, MessagingService messaging, MessageQueries queries)
    {
        if (!long.TryParse(id, out var messageId)) return Problems.NotFound("message");
        var enterprise = Caller.From(user).Enterprise;
        var m = await queries.MessageAsync(enterprise, messageId);
        if (m is null) return Problems.NotFound("message");
        if (m is { Status: MessageStatus.Failed, Error: "cancelled" }) return TypedResults.Ok(new CancelledMessage(m.Id, m.Status, m.Error));
        if (await messaging.CancelAsync(enterprise, messageId)) return TypedResults.Ok(new CancelledMessage(m.Id, MessageStatus.Failed, "cancelled"));
        var now = await queries.MessageAsync(enterprise, messageId);
        return Problems.Conflict("already-sent", $"the message is {now?.Status ?? m.Status}: only a message that has not gone to the operator can be withdrawn");
    }

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetJobAsync(string id, ClaimsPrincipal user, MessageQueries queries)
    {
        if (!long.TryParse(id, out var jobId)) return Problems.NotFound("job");
        var job = await queries.JobAsync(Caller.From(user).Enterprise, jobId);
        return job is null ? Problems.NotFound("job") : TypedResults.Ok(job);
    }

    private static async Task<Results<Ok<Page<JobView>>, ProblemHttpResult>> ListJobsAsync(ClaimsPrincipal user, MessageQueries queries, string? cursor, int? limit)
    {
        if (!Cursor.TryRead(cursor, out var before)) return Problems.Validation("cursor is the next value of a previous page");
        if (limit is < 1 or > MaxPage) return Problems.Validation($"limit is 1 to {MaxPage}");
        return TypedResults.Ok(await queries.JobsAsync(Caller.From(user).Enterprise, before, limit ?? 100));
    }

    private static async Task<Results<Ok<JobStateView>, ProblemHttpResult>> ChangeJobAsync(string id, ClaimsPrincipal user, MessageQueries queries,
        Func<long, long, Task<JobChange>> change)
    {
        if (!long.TryParse(id, out var jobId)) return Problems.NotFound("job");
        var enterprise = Caller.From(user).Enterprise;
        var outcome = await change(enterprise, jobId);
        var job = await queries.JobAsync(enterprise, jobId);
        return outcome switch
        {
            JobChange.NotFound => Problems.NotFound("job"),
            JobChange.Conflict => Problems.Conflict("job-state", $"the job is {job?.Status}: it cannot change that way"),
            _ => job is null ? Problems.NotFound("job") : TypedResults.Ok(new JobStateView(job.Id, job.Status)),
        };
    }

    /// <summary>GET /jobs/{id}/rejections: every refused row with its line and reason; <c>?format=csv</c> as a file to download.</summary>
    private static async Task<IResult> GetRejectionsAsync(string id, ClaimsPrincipal user, MessageQueries queries, string? format)
    {
        if (format is not (null or "json" or "csv")) return Problems.Validation("format is json or csv");
        if (!long.TryParse(id, out var jobId)) return Problems.NotFound("job");
        var rows = await queries.RejectionsAsync(Caller.From(user).Enterprise, jobId);
        if (rows is null) return Problems.NotFound("job");
        if (format != "csv") return TypedResults.Ok(rows);
        return Results.Stream(body => Spreadsheet.WriteCsvAsync(body, ["line", "to", "reason"],
            rows.Select(r => new[] { r.Line.ToString(System.Globalization.CultureInfo.InvariantCulture), r.To, r.Reason }).ToAsyncEnumerable()),
            "text/csv; charset=utf-8", $"job-{jobId}-rejections.csv");
    }

    /// <summary>Replies oldest first after <paramref name="after"/> (to follow them), or newest first below <paramref name="before"/> (to browse them).</summary>
    private static async Task<Results<Ok<IReadOnlyList<InboundView>>, ProblemHttpResult>> GetInboundAsync(ClaimsPrincipal user, MessageQueries queries, string? after, string? before,
        int? limit)
    {
        long afterId = 0, beforeId = 0;
        if (after is not null && !long.TryParse(after, out afterId)) return Problems.Validation("after is the id of the last reply you have");
        if (before is not null && (!long.TryParse(before, out beforeId) || beforeId < 0)) return Problems.Validation("before is the id of the oldest reply you have, or 0 for the newest");
        if (after is not null && before is not null) return Problems.Validation("give after or before, not both");
        var take = Math.Clamp(limit ?? 100, 1, MaxPage);
        var enterprise = Caller.From(user).Enterprise;
        return TypedResults.Ok(before is null ? await queries.InboundAsync(enterprise, afterId, take) : await queries.InboundAsync(enterprise, beforeId, take, newest: true));
    }

    private static async Task<Results<Ok<WebhookView>, ProblemHttpResult>> PutWebhookAsync(WebhookRequest body, ClaimsPrincipal user, Database database, WebhookTargets targets,
        AuditLog audit, HttpContext http)
    {
        if (await targets.ProblemAsync(body.Url, http.RequestAborted) is { } problem) return Problems.Validation(problem);
        var url = new Uri(body.Url!);
        if (string.IsNullOrEmpty(body.Secret) || body.Secret.Length is < 16 or > 200) return Problems.Validation("secret is 16 to 200 characters");
        await using var c = await database.OpenAsync();
        await c.ExecuteAsync("INSERT INTO webhooks (enterprise_id, url, secret) VALUES (@e, @url, @secret) ON CONFLICT (enterprise_id) DO UPDATE SET url = excluded.url, secret = excluded.secret",
            new { e = Caller.From(user).Enterprise, url = url.ToString(), secret = body.Secret });
        await audit.RecordAsync(http, "webhook.set", url.GetLeftPart(UriPartial.Authority));
        return TypedResults.Ok(new WebhookView(url.ToString()));
    }

    /// <summary>
    /// POST /webhook/test: one signed <c>test</c> event to the enterprise's URL now, through the same guard as every
    /// delivery, answering what the endpoint said. Nothing is stored or retried.
    /// </summary>
    private static async Task<Results<Ok<WebhookTestResult>, ProblemHttpResult>> TestWebhookAsync(ClaimsPrincipal user, Database database, IHttpClientFactory http,
        TimeProvider time, HttpContext context)
    {
        await using var c = await database.OpenAsync();
        var hook = await c.QuerySingleOrDefaultAsync<(string Url, string Secret)?>("SELECT url, secret FROM webhooks WHERE enterprise_id = @e", new { e = Caller.From(user).Enterprise });
        if (hook is not { } h) return Problems.NotFound("webhook");
        var now = time.GetUtcNow();
        var payload = System.Text.Json.JsonSerializer.Serialize(new { type = "test", at = now.ToString("O") });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var status = await WebhookWorker.PostAsync(http.CreateClient("webhooks"), h.Url, h.Secret, payload, now.ToUnixTimeMilliseconds(), now.ToUnixTimeSeconds(), timeout.Token);
            return TypedResults.Ok(new WebhookTestResult(status is >= 200 and < 300, status, null));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
        {
            return TypedResults.Ok(new WebhookTestResult(false, null, e is TaskCanceledException ? "no answer within 10 seconds" : e.Message.Length > 200 ? e.Message[..200] : e.Message));
        }
    }

    private static async Task<Results<Ok<WebhookView>, ProblemHttpResult>> GetWebhookAsync(ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        var url = await c.QuerySingleOrDefaultAsync<string>("SELECT url FROM webhooks WHERE enterprise_id = @e", new { e = Caller.From(user).Enterprise });
        return url is null ? Problems.NotFound("webhook") : TypedResults.Ok(new WebhookView(url));
    }
}
