using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Xinge.Server.Tests;

public sealed class SqliteMessagingApiTests(SqliteFixture fixture) : MessagingApiTests(fixture.Server, "1370020"), IClassFixture<SqliteFixture>;

public sealed class PostgresMessagingApiTests(PostgresFixture fixture) : MessagingApiTests(fixture.Server, "1370030"), IClassFixture<PostgresFixture>;

/// <summary>The enterprise's API around its messages and jobs: lists, withdrawal, job control, idempotent repeats.</summary>
public abstract class MessagingApiTests(XingeServer server, string numberBase)
{
    private static int _next;

    private string NewNumber() => numberBase + Interlocked.Increment(ref _next).ToString("D4");

    private static async Task<JsonObject> Json(HttpResponseMessage r, HttpStatusCode expected)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"{(int)r.StatusCode} instead of {(int)expected}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<string> JobAsync(Tenant tenant, object body, HttpStatusCode expected = HttpStatusCode.Accepted) =>
        (await Json(await tenant.Client.PostAsJsonAsync("/api/v1/jobs", body), expected)).Str("jobId");

    [Fact]
    public async Task Messages_are_listed_newest_first_filtered_and_paged_and_only_the_owners()
    {
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);
        var numbers = Enumerable.Range(0, 5).Select(_ => NewNumber()).ToList();
        var ids = new List<string>();
        foreach (var n in numbers)
        {
            var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "列表测试", clientRef = n == numbers[2] ? "order-3" : "bulk" });
            ids.Add(sent["messages"]![0].Str("id"));
        }
        foreach (var id in ids) await tenant.WaitForStatusAsync(id, "delivered");

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await tenant.GetAsync($"/api/v1/messages?limit=2&since={Uri.EscapeDataString(start.ToString("O"))}" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.True(page["items"]!.AsArray().Count <= 2);
            seen.AddRange(page["items"]!.AsArray().Select(m => m.Str("id")));
            cursor = page["next"]?.GetValue<string>();
        } while (cursor is not null);
        Assert.Equal(ids.AsEnumerable().Reverse(), seen);

        var byNumber = (await tenant.GetAsync($"/api/v1/messages?to={numbers[1]}"))["items"]!.AsArray();
        Assert.Equal(ids[1], Assert.Single(byNumber)!.Str("id"));
        Assert.Equal("+86" + numbers[1], byNumber[0].Str("to"));
        Assert.Equal(ids[2], Assert.Single((await tenant.GetAsync("/api/v1/messages?clientRef=order-3"))["items"]!.AsArray())!.Str("id"));
        var job = byNumber[0].Str("jobId");
        Assert.Equal(ids[1], Assert.Single((await tenant.GetAsync($"/api/v1/messages?jobId={job}"))["items"]!.AsArray())!.Str("id"));
        Assert.Equal(5, (await tenant.GetAsync($"/api/v1/messages?status=delivered&since={Uri.EscapeDataString(start.ToString("O"))}"))["items"]!.AsArray().Count);
        Assert.Empty((await tenant.GetAsync($"/api/v1/messages?until={Uri.EscapeDataString(start.ToString("O"))}"))["items"]!.AsArray());
        Assert.Empty((await tenant.GetAsync($"/api/v1/messages?status=queued&since={Uri.EscapeDataString(start.ToString("O"))}"))["items"]!.AsArray());

        // Another enterprise sees none of it, even by naming the job.
        Assert.Empty((await other.GetAsync($"/api/v1/messages?jobId={job}"))["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync($"/api/v1/messages/{ids[0]}")).StatusCode);

        foreach (var bad in new[] { "status=lost", "cursor=not-a-cursor", "limit=0", "limit=5000", "to=abc", "jobId=x", "since=yesterday" })
        {
            var r = await tenant.Client.GetAsync("/api/v1/messages?" + bad);
            var problem = await Json(r, HttpStatusCode.BadRequest);
            Assert.StartsWith("https://xinge.dev/problems/", problem.Str("type"));
        }

        var jobs = await tenant.GetAsync("/api/v1/jobs?limit=3");
        Assert.Equal(3, jobs["items"]!.AsArray().Count);
        Assert.NotNull(jobs["next"]);
        Assert.All(jobs["items"]!.AsArray(), j => Assert.Equal("completed", j.Str("status")));
        Assert.Empty((await other.GetAsync("/api/v1/jobs"))["items"]!.AsArray());
    }

    [Fact]
    public async Task A_message_not_yet_sent_is_withdrawn_and_refunded_and_a_sent_one_is_not()
    {
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        var (before, _) = await tenant.BalanceAsync();
        var later = await tenant.SendAsync(new { to = NewNumber(), signature = tenant.Signature, category = "notification", text = "定时消息", sendAt = DateTimeOffset.UtcNow.AddHours(1) });
        var laterId = later["messages"]![0].Str("id");
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.DeleteAsync($"/api/v1/messages/{laterId}")).StatusCode);

        var withdrawn = await Json(await tenant.Client.DeleteAsync($"/api/v1/messages/{laterId}"), HttpStatusCode.OK);
        Assert.Equal(("failed", "cancelled"), (withdrawn.Str("status"), withdrawn.Str("error")));
        var m = await tenant.GetAsync($"/api/v1/messages/{laterId}");
        Assert.Equal(("failed", "cancelled"), (m.Str("status"), m.Str("error")));
        await Wait.Until(async () => await tenant.BalanceAsync() == (before, 0), "the reservation is refunded");
        await Json(await tenant.Client.DeleteAsync($"/api/v1/messages/{laterId}"), HttpStatusCode.OK);

        var now = await tenant.SendAsync(new { to = NewNumber(), signature = tenant.Signature, category = "otp", text = "验证码 1234" });
        var nowId = now["messages"]![0].Str("id");
        await tenant.WaitForStatusAsync(nowId, "delivered");
        var refused = await Json(await tenant.Client.DeleteAsync($"/api/v1/messages/{nowId}"), HttpStatusCode.Conflict);
        Assert.EndsWith("/already-sent", refused.Str("type"));
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Client.DeleteAsync("/api/v1/messages/12345")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Client.DeleteAsync("/api/v1/messages/abc")).StatusCode);
        await tenant.AssertLedgerReconcilesAsync();
    }

    [Fact]
    public async Task A_paused_job_sends_nothing_until_resumed_and_a_cancelled_job_is_refunded()
    {
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        var (before, _) = await tenant.BalanceAsync();
        var soon = await JobAsync(tenant, new
        {
            recipients = Enumerable.Range(0, 20).Select(_ => new { to = NewNumber() }),
            signature = tenant.Signature,
            category = "notification",
            text = "暂停后恢复",
            sendAt = DateTimeOffset.UtcNow.AddSeconds(1.5),
        });
        Assert.Equal("paused", (await Json(await tenant.Client.PostAsync($"/api/v1/jobs/{soon}/pause", null), HttpStatusCode.OK)).Str("status"));
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.PostAsync($"/api/v1/jobs/{soon}/resume", null)).StatusCode);
        // Its time comes and goes while it is paused: nothing leaves.
        await Task.Delay(3000);
        var paused = await tenant.GetAsync($"/api/v1/jobs/{soon}");
        Assert.Equal("paused", paused.Str("status"));
        Assert.Equal(20, paused["counts"]!.Long("queued"));
        Assert.Empty((await tenant.GetAsync($"/api/v1/messages?jobId={soon}&status=submitted"))["items"]!.AsArray());

        Assert.Equal("processing", (await Json(await tenant.Client.PostAsync($"/api/v1/jobs/{soon}/resume", null), HttpStatusCode.OK)).Str("status"));
        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{soon}")).Str("status") == "completed", "the resumed job completes");
        Assert.Equal(20, (await tenant.GetAsync($"/api/v1/jobs/{soon}"))["counts"]!.Long("delivered"));
        Assert.Equal(HttpStatusCode.Conflict, (await tenant.Client.PostAsync($"/api/v1/jobs/{soon}/pause", null)).StatusCode);

        var later = await JobAsync(tenant, new
        {
            recipients = Enumerable.Range(0, 30).Select(_ => new { to = NewNumber() }),
            signature = tenant.Signature,
            category = "marketing",
            text = "取消的活动",
            sendAt = DateTimeOffset.UtcNow.AddHours(2),
        });
        Assert.Equal("cancelled", (await Json(await tenant.Client.PostAsync($"/api/v1/jobs/{later}/cancel", null), HttpStatusCode.OK)).Str("status"));
        var cancelled = await tenant.GetAsync($"/api/v1/jobs/{later}");
        Assert.Equal(30, cancelled["counts"]!.Long("failed"));
        Assert.Equal(0, cancelled["counts"]!.Long("scheduled"));
        var failed = (await tenant.GetAsync($"/api/v1/messages?jobId={later}&limit=1"))["items"]![0]!;
        Assert.Equal(("failed", "cancelled"), (failed.Str("status"), failed.Str("error")));
        Assert.Equal(HttpStatusCode.Conflict, (await tenant.Client.PostAsync($"/api/v1/jobs/{later}/resume", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Client.PostAsync("/api/v1/jobs/999/cancel", null)).StatusCode);
        await Wait.Until(async () => await tenant.BalanceAsync() == (before - 20 * 5, 0), "only the delivered job is paid for");
        await tenant.AssertLedgerReconcilesAsync();
    }

    [Fact]
    public async Task A_repeated_idempotency_key_answers_as_its_endpoint_and_another_request_under_it_is_refused()
    {
        var tenant = await server.CreateTenantAsync();
        var recipients = new[] { new { to = NewNumber() }, new { to = NewNumber() }, new { to = "12" } };
        async Task<HttpResponseMessage> Post(string path, object body, string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", key);
            return await tenant.Client.SendAsync(request);
        }
        var job = new { recipients, signature = tenant.Signature, category = "notification", text = "幂等任务" };
        var first = await Json(await Post("/api/v1/jobs", job, "job-1"), HttpStatusCode.Accepted);
        var again = await Json(await Post("/api/v1/jobs", job, "job-1"), HttpStatusCode.Accepted);
        Assert.Equal((2, 1), (first["accepted"]!.GetValue<int>(), first["rejected"]!.GetValue<int>()));
        Assert.Equal(first.ToJsonString(), again.ToJsonString());

        var changed = new { recipients = recipients.Take(1).ToArray(), signature = tenant.Signature, category = "notification", text = "幂等任务" };
        var refused = await Json(await Post("/api/v1/jobs", changed, "job-1"), HttpStatusCode.UnprocessableEntity);
        Assert.EndsWith("/idempotency-key-reused", refused.Str("type"));
        var elsewhere = await Json(await Post("/api/v1/messages", new { to = recipients[0].to, signature = tenant.Signature, category = "notification", text = "幂等任务" }, "job-1"),
            HttpStatusCode.UnprocessableEntity);
        Assert.EndsWith("/idempotency-key-reused", elsewhere.Str("type"));

        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{first.Str("jobId")}")).Str("status") == "completed", "the job completes");
        Assert.Single((await tenant.GetAsync("/api/v1/jobs"))["items"]!.AsArray());
        Assert.Equal((100_000L - 2 * 5, 0L), await tenant.BalanceAsync());
    }

    [Fact]
    public async Task The_openapi_document_shows_response_schemas_and_the_bearer_scheme()
    {
        var doc = (await server.Http.GetFromJsonAsync<JsonObject>("/openapi/v1.json"))!;
        Assert.Equal("bearer", doc["components"]!["securitySchemes"]!["bearer"]!.Str("scheme"));
        var send = doc["paths"]!["/api/v1/messages"]!["post"]!["responses"]!;
        Assert.Contains("SendMessagesResponse", send["202"]!.ToJsonString());
        Assert.NotNull(send["402"]);
        Assert.NotNull(send["422"]);
        Assert.Contains("Page", doc["paths"]!["/api/v1/messages"]!["get"]!["responses"]!["200"]!.ToJsonString());
        Assert.NotNull(doc["paths"]!["/api/v1/jobs/{id}/cancel"]);
        Assert.Contains("JobView", doc["paths"]!["/api/v1/jobs/{id}"]!["get"]!["responses"]!["200"]!.ToJsonString());
    }

    [Fact]
    public async Task Metrics_count_what_the_engine_did_in_prometheus_text()
    {
        var tenant = await server.CreateTenantAsync();
        var sent = await tenant.SendAsync(new { to = NewNumber(), signature = tenant.Signature, category = "otp", text = "验证码 5555" });
        await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "delivered");
        var text = "";
        // Observed values reach the exporter on its own schedule.
        await Wait.Until(async () => (text = await server.Http.GetStringAsync("/metrics")).Contains("xinge_lane_in_flight"), "the lanes are measured", () => text);
        Assert.Contains("xinge_messages_accepted_total", text);
        Assert.Contains("xinge_store_commit_seconds", text);
        Assert.Contains("xinge_receipts", text);
        Assert.Contains("xinge_lane_in_flight", text);
    }
}
