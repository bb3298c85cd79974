using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Microsoft.AspNetCore.Mvc;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Connectors;

namespace Xinge.Server.Features.Messaging;

public sealed record SendMessagesRequest(JsonElement? To, string? Signature, string? Category, string? Text,
    DateTimeOffset? SendAt, string? ClientRef, string? TemplateId);

public sealed record JobRecipient(string? To, Dictionary<string, string>? Params);

public sealed record CreateJobRequest(List<JobRecipient>? Recipients, string? Signature, string? Category, string? Text,
    DateTimeOffset? SendAt, string? ClientRef, string? TemplateId);

public sealed record WebhookRequest(string? Url, string? Secret);

public static class MessagingEndpoints
{
    public const int MaxRecipientsPerRequest = 1000;

    public static IServiceCollection AddMessaging(this IServiceCollection services, IConfiguration config)
    {
        var options = config.GetSection("Xinge:Messaging").Get<MessagingOptions>() ?? new MessagingOptions();
        services.AddSingleton(options);
        services.AddSingleton<Composer>();
        services.AddSingleton(sp => new IdGenerator(sp.GetRequiredService<TimeProvider>(), config.GetValue("Xinge:NodeId", 0)));
        services.AddSingleton<WakeSignalFor<Dispatcher>>();
        services.AddSingleton<WakeSignalFor<WebhookWorker>>();
        services.AddSingleton<InboundRouter>();
        services.AddSingleton<MessageStore>();
        services.AddHostedService(sp => sp.GetRequiredService<MessageStore>());
        services.AddSingleton<StatusWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusWriter>());
        services.AddSingleton<MessagingService>();
        services.AddSingleton<ConnectorRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectorRegistry>());
        services.AddHostedService<Dispatcher>();
        services.AddHostedService<WebhookWorker>();
        services.AddHttpClient("webhooks", c => c.Timeout = TimeSpan.FromSeconds(10));
        return services;
    }

    public static IEndpointRouteBuilder MapMessaging(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").RequireAuthorization("enterprise").WithTags("Enterprise");
        api.MapPost("/messages", SendMessagesAsync);
        api.MapPost("/jobs", CreateJobAsync);
        api.MapGet("/messages/{id}", GetMessageAsync);
        api.MapGet("/jobs/{id}", GetJobAsync);
        api.MapGet("/jobs/{id}/rejections", GetRejectionsAsync);
        api.MapGet("/inbound", GetInboundAsync);
        api.MapPut("/webhook", PutWebhookAsync);
        api.MapGet("/webhook", GetWebhookAsync);
        return app;
    }

    public static object SendResponse(SendResult r) => new
    {
        jobId = r.JobId.ToString(),
        messages = r.Messages.Select(m => new { id = m.Id.ToString(), to = m.To, segments = m.Segments, price = m.Price }),
        rejected = r.Rejected.Select(x => new { to = x.To, reason = x.Reason }),
    };

    private static IResult Answer(SendRefusal refusal) =>
        Problems.Of(refusal.Status, refusal.Type, refusal.Status switch { 402 => "Insufficient balance", 403 => "Forbidden", 404 => "Not found", 400 => "The request is not valid", _ => "The request cannot be carried out" },
            refusal.Detail, refusal.Extensions);

    private static string? IdempotencyKey(HttpRequest request) =>
        request.Headers.TryGetValue("Idempotency-Key", out var v) && !string.IsNullOrWhiteSpace(v) ? v.ToString().Trim() : null;

    private static async Task<IResult> SendMessagesAsync(SendMessagesRequest body, ClaimsPrincipal user, HttpRequest http, MessagingService messaging)
    {
        if (body.TemplateId is not null) return Problems.Unprocessable("templates-unavailable", "templates are not available yet; send text");
        List<Recipient> recipients = [];
        switch (body.To)
        {
            case { ValueKind: JsonValueKind.String } s:
                recipients.Add(new Recipient(s.GetString()!, null));
                break;
            case { ValueKind: JsonValueKind.Array } a:
                foreach (var e in a.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.String) return Problems.Validation("to is a number or an array of numbers (strings)");
                    recipients.Add(new Recipient(e.GetString()!, null));
                }
                break;
            default:
                return Problems.Validation("to is required: a number or an array of numbers");
        }
        if (recipients.Count > MaxRecipientsPerRequest) return Problems.Validation($"at most {MaxRecipientsPerRequest} numbers a request; use POST /jobs for more");
        var (result, refusal) = await messaging.SendAsync(new SendCommand(Caller.From(user).Enterprise, recipients, body.Signature, body.Category, body.Text,
            body.SendAt, body.ClientRef, IdempotencyKey(http)));
        if (refusal is not null) return Answer(refusal);
        if (result!.StoredResponse is { } stored) return Results.Text(stored, "application/json", statusCode: 202);
        return Results.Json(SendResponse(result), statusCode: 202);
    }

    private static async Task<IResult> CreateJobAsync(CreateJobRequest body, ClaimsPrincipal user, HttpRequest http, MessagingService messaging)
    {
        if (body.TemplateId is not null) return Problems.Unprocessable("templates-unavailable", "templates are not available yet; send text");
        if (body.Recipients is null || body.Recipients.Count == 0) return Problems.Validation("recipients is required: [{to, params?}]");
        var recipients = body.Recipients.Select(r => new Recipient(r?.To ?? "", r?.Params)).ToList();
        var (result, refusal) = await messaging.SendAsync(new SendCommand(Caller.From(user).Enterprise, recipients, body.Signature, body.Category, body.Text,
            body.SendAt, body.ClientRef, IdempotencyKey(http)));
        if (refusal is not null) return Answer(refusal);
        if (result!.StoredResponse is { } stored) return Results.Text(stored, "application/json", statusCode: 202);
        return Results.Json(new { jobId = result.JobId.ToString(), accepted = result.Messages.Count, rejected = result.Rejected.Count }, statusCode: 202);
    }

    private static string? Iso(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz") : null;

    private static async Task<IResult> GetMessageAsync(string id, ClaimsPrincipal user, Database database)
    {
        if (!long.TryParse(id, out var messageId)) return Problems.NotFound("message");
        await using var c = await database.OpenAsync();
        var m = await c.QuerySingleOrDefaultAsync<Message>(
            "SELECT id AS Id, job_id AS JobId, recipient AS Recipient, sender AS Sender, category AS Category, status AS Status, error AS Error, " +
            "segments AS Segments, price AS Price, created_at AS CreatedAt, send_at AS SendAt, submitted_at AS SubmittedAt, done_at AS DoneAt, client_ref AS ClientRef " +
            "FROM messages WHERE id = @messageId AND enterprise_id = @e", new { messageId, e = Caller.From(user).Enterprise });
        if (m is null) return Problems.NotFound("message");
        return Results.Ok(new
        {
            id = m.Id.ToString(),
            jobId = m.JobId.ToString(),
            to = m.Recipient,
            from = m.Sender,
            category = m.Category,
            status = m.Status,
            error = m.Error,
            segments = m.Segments,
            price = m.Price,
            charged = m.Status == MessageStatus.Delivered ? m.Price : 0,
            createdAt = Iso(m.CreatedAt),
            sendAt = Iso(m.SendAt),
            submittedAt = Iso(m.SubmittedAt),
            doneAt = Iso(m.DoneAt),
            clientRef = m.ClientRef,
        });
    }

    private static async Task<IResult> GetJobAsync(string id, ClaimsPrincipal user, Database database, TimeProvider time)
    {
        if (!long.TryParse(id, out var jobId)) return Problems.NotFound("job");
        await using var c = await database.OpenAsync();
        var job = await c.QuerySingleOrDefaultAsync<Job>(
            "SELECT id AS Id, category AS Category, total AS Total, accepted AS Accepted, rejected AS Rejected, client_ref AS ClientRef, send_at AS SendAt, " +
            "created_at AS CreatedAt, sent AS Sent, delivered AS Delivered, failed AS Failed, expired AS Expired, ended_unsent AS EndedUnsent " +
            "FROM jobs WHERE id = @jobId AND enterprise_id = @e", new { jobId, e = Caller.From(user).Enterprise });
        if (job is null) return Problems.NotFound("job");
        // From the job's counters (kept by the status writer), not by counting 200,000 message rows on every poll.
        var ended = job.Delivered + job.Failed + job.Expired;
        var waiting = job.Accepted - job.Sent - job.EndedUnsent;
        var scheduled = job.SendAt is { } at && at > time.GetUtcNow().ToUnixTimeMilliseconds();
        var counts = new Dictionary<string, long>
        {
            [MessageStatus.Scheduled] = scheduled ? waiting : 0,
            [MessageStatus.Held] = 0,
            [MessageStatus.Queued] = scheduled ? 0 : waiting,
            [MessageStatus.Submitted] = job.Sent - (ended - job.EndedUnsent),
            [MessageStatus.Delivered] = job.Delivered,
            [MessageStatus.Failed] = job.Failed,
            [MessageStatus.Expired] = job.Expired,
            [MessageStatus.Rejected] = job.Rejected,
        };
        return Results.Ok(new
        {
            id = job.Id.ToString(),
            status = ended < job.Accepted ? "processing" : "completed",
            category = job.Category,
            total = job.Total,
            accepted = job.Accepted,
            rejected = job.Rejected,
            counts,
            clientRef = job.ClientRef,
            sendAt = Iso(job.SendAt),
            createdAt = Iso(job.CreatedAt),
        });
    }

    private static async Task<IResult> GetRejectionsAsync(string id, ClaimsPrincipal user, Database database)
    {
        if (!long.TryParse(id, out var jobId)) return Problems.NotFound("job");
        await using var c = await database.OpenAsync();
        var owned = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE id = @jobId AND enterprise_id = @e", new { jobId, e = Caller.From(user).Enterprise });
        if (owned == 0) return Problems.NotFound("job");
        var rows = await c.QueryAsync<JobRejection>(
            "SELECT line AS Line, recipient AS Recipient, reason AS Reason FROM job_rejections WHERE job_id = @jobId ORDER BY line", new { jobId });
        return Results.Ok(rows.Select(r => new { line = r.Line, to = r.Recipient, reason = r.Reason }));
    }

    private static async Task<IResult> GetInboundAsync(ClaimsPrincipal user, Database database, string? after, int? limit)
    {
        long afterId = 0;
        if (after is not null && !long.TryParse(after, out afterId)) return Problems.Validation("after is the id of the last reply you have");
        var take = Math.Clamp(limit ?? 100, 1, 1000);
        await using var c = await database.OpenAsync();
        var rows = await c.QueryAsync<InboundMessage>(
            "SELECT id AS Id, sender AS Sender, recipient AS Recipient, text AS Text, received_at AS ReceivedAt FROM inbound_messages " +
            "WHERE enterprise_id = @e AND id > @afterId ORDER BY id LIMIT @take", new { e = Caller.From(user).Enterprise, afterId, take });
        return Results.Ok(rows.Select(r => new { id = r.Id.ToString(), from = r.Sender, to = r.Recipient, text = r.Text, receivedAt = Iso(r.ReceivedAt) }));
    }

    private static async Task<IResult> PutWebhookAsync(WebhookRequest body, ClaimsPrincipal user, Database database)
    {
        if (!Uri.TryCreate(body.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            return Problems.Validation("url is an absolute http or https URL");
        if (string.IsNullOrEmpty(body.Secret) || body.Secret.Length is < 16 or > 200) return Problems.Validation("secret is 16 to 200 characters");
        await using var c = await database.OpenAsync();
        await c.ExecuteAsync("INSERT INTO webhooks (enterprise_id, url, secret) VALUES (@e, @url, @secret) ON CONFLICT (enterprise_id) DO UPDATE SET url = excluded.url, secret = excluded.secret",
            new { e = Caller.From(user).Enterprise, url = url.ToString(), secret = body.Secret });
        return Results.Ok(new { url = url.ToString() });
    }

    private static async Task<IResult> GetWebhookAsync(ClaimsPrincipal user, Database database)
    {
        await using var c = await database.OpenAsync();
        var url = await c.QuerySingleOrDefaultAsync<string>("SELECT url FROM webhooks WHERE enterprise_id = @e", new { e = Caller.From(user).Enterprise });
        return url is null ? Problems.NotFound("webhook") : Results.Ok(new { url });
    }
}
