using System.Security.Cryptography;
using System.Text;
using Dapper;
using Xinge.Server.Data;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// Delivers the webhook outbox: each event is POSTed with <c>X-Xinge-Signature: sha256=&lt;hex HMAC of body&gt;</c>
/// and retried with exponential back-off until the enterprise's endpoint answers 2xx, or given up after a day. Each
/// try's body carries the event's delivery id (the same on every try of one event) and the time it was sent
/// (<c>deliveryId</c>, <c>timestamp</c> in Unix seconds, also in <c>X-Xinge-Timestamp</c>), both under the signature:
/// a receiver refuses old timestamps and ids it has handled, so a captured request cannot be replayed. Only to the addresses <see cref="WebhookTargets"/> allows.
/// </summary>
public sealed class WebhookWorker(Database database, IHttpClientFactory http, WakeSignalFor<WebhookWorker> signal, TimeProvider time, ILogger<WebhookWorker> logger) : BackgroundService
{
    public const int MaxAttempts = 16;

    public static string Sign(string secret, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    /// <summary>The stored event with this try's delivery id and time.</summary>
    public static string Stamp(string payload, long deliveryId, long sentAt)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(payload)!.AsObject();
        node["deliveryId"] = deliveryId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        node["timestamp"] = sentAt;
        return node.ToJsonString();
    }

    /// <summary>One try of one event: stamped, signed, posted. Answers the HTTP status; throws on a network failure.</summary>
    public static async Task<int> PostAsync(HttpClient client, string url, string secret, string payload, long deliveryId, long sentAt, CancellationToken ct)
    {
        var body = Stamp(payload, deliveryId, sentAt);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Xinge-Signature", Sign(secret, body));
        request.Headers.Add("X-Xinge-Timestamp", sentAt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await client.SendAsync(request, ct);
        return (int)response.StatusCode;
    }

    private sealed class Due
    {
        public long Id { get; set; }
        public string Payload { get; set; } = "";
        public int Attempts { get; set; }
        public string Url { get; set; } = "";
        public string Secret { get; set; } = "";
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var sent = await DeliverDueAsync(stoppingToken);
                if (sent == 0) await signal.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Webhook delivery failed; retrying");
                await Task.Delay(1000, stoppingToken);
            }
        }
    }

    private async Task<int> DeliverDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        List<Due> due;
        await using (var c = await database.OpenAsync(ct))
        {
            due = (await c.QueryAsync<Due>(
                "SELECT d.id AS Id, d.payload AS Payload, d.attempts AS Attempts, w.url AS Url, w.secret AS Secret " +
                "FROM webhook_deliveries d JOIN webhooks w ON w.enterprise_id = d.enterprise_id " +
                "WHERE d.done = @done AND d.next_attempt_at <= @now ORDER BY d.next_attempt_at LIMIT 200", new { now, done = false })).ToList();
        }
        if (due.Count == 0) return 0;
        var results = new (long Id, bool Ok, string? Error, int Attempts)[due.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, due.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (i, token) =>
        {
            var d = due[i];
            try
            {
                var status = await PostAsync(http.CreateClient("webhooks"), d.Url, d.Secret, d.Payload, d.Id, time.GetUtcNow().ToUnixTimeSeconds(), token);
                var ok = status is >= 200 and < 300;
                results[i] = (d.Id, ok, ok ? null : $"HTTP {status}", d.Attempts + 1);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
            {
                results[i] = (d.Id, false, e.Message.Length > 200 ? e.Message[..200] : e.Message, d.Attempts + 1);
            }
        });
        using var turn = await database.WriteTurnAsync(ct);
        await using var w = await database.OpenAsync(ct);
        await using var tx = await w.BeginTransactionAsync(ct);
        foreach (var (id, ok, error, attempts) in results)
        {
            // 2, 4, 8 … seconds, at most an hour apart; sixteen tries cover about a day.
            var next = now + (long)Math.Min(3_600_000, 1000 * Math.Pow(2, attempts));
            await w.ExecuteAsync("UPDATE webhook_deliveries SET done = @done, attempts = @attempts, next_attempt_at = @next, last_error = @error WHERE id = @id",
                new { id, done = ok || attempts >= MaxAttempts, attempts, next, error }, tx);
        }
        await tx.CommitAsync(ct);
        return due.Count;
    }
}
