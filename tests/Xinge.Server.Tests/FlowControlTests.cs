using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Xinge.Server.Tests;

/// <summary>R-S1-14: per-number flow control, at its edges (fake clock), exact on two nodes at once, with test numbers spared.</summary>
public sealed class FlowControlTests
{
    private static async Task<string?> ReasonAsync(Tenant tenant, object body)
    {
        var r = await tenant.Client.PostAsJsonAsync("/api/v1/messages", body);
        var json = (await r.Content.ReadFromJsonAsync<JsonObject>())!;
        if (r.StatusCode == HttpStatusCode.Accepted) return json["rejected"]!.AsArray().FirstOrDefault()?.Str("reason");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        return json["rejected"]![0].Str("reason");
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task Otp_limits_hold_to_the_second_and_a_test_number_is_spared(Store store)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 2, 0, 0, TimeSpan.Zero));
        await using var server = await XingeServer.StartAsync(store, b => b.Services.AddSingleton<TimeProvider>(time), "--Xinge:Compliance:FlowControl:otp_platform_per_day=7");
        var tenant = await server.CreateTenantAsync();
        var code = 100000;
        object Otp(string to, Tenant t) => new { to, signature = t.Signature, category = "otp", text = $"您的验证码是{code++}" };
        const string phone = "13300133001";

        Assert.Null(await ReasonAsync(tenant, Otp(phone, tenant)));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("rate_limited:otp_per_minute", await ReasonAsync(tenant, Otp(phone, tenant)));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await ReasonAsync(tenant, Otp(phone, tenant)));
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            Assert.Null(await ReasonAsync(tenant, Otp(phone, tenant)));
        }
        // Five in the hour: the sixth waits until the first is an hour old.
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("rate_limited:otp_per_hour", await ReasonAsync(tenant, Otp(phone, tenant)));
        time.Advance(TimeSpan.FromMinutes(55) - TimeSpan.FromSeconds(1));
        Assert.Equal("rate_limited:otp_per_hour", await ReasonAsync(tenant, Otp(phone, tenant)));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await ReasonAsync(tenant, Otp(phone, tenant)));

        // Another enterprise has limits of its own, but the platform's seven OTPs a day count them all.
        var other = await server.CreateTenantAsync("别家企业");
        Assert.Null(await ReasonAsync(other, Otp(phone, other)));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("rate_limited:otp_platform_per_day", await ReasonAsync(other, Otp(phone, other)));

        // A test number is spared the enterprise's own limits, not the platform's.
        const string tester = "13300133002";
        Assert.Equal(HttpStatusCode.OK, (await other.Client.PostAsJsonAsync("/api/v1/test-numbers", new { numbers = new[] { phone, tester, "not-a-number" } })).StatusCode);
        var list = (await other.GetAsync("/api/v1/test-numbers"))["items"]!.AsArray();
        Assert.Equal(["+8613300133001", "+8613300133002"], list.Select(n => n!.Str("msisdn")));
        for (var i = 0; i < 3; i++) Assert.Null(await ReasonAsync(other, Otp(tester, other)));
        Assert.Equal("rate_limited:otp_platform_per_day", await ReasonAsync(other, Otp(phone, other)));
        // Its messages as a test number were not counted against the enterprise's limits: they start from its next one.
        Assert.Equal(HttpStatusCode.NoContent, (await other.Client.DeleteAsync("/api/v1/test-numbers/+8613300133002")).StatusCode);
        Assert.Null(await ReasonAsync(other, Otp(tester, other)));
        Assert.Equal("rate_limited:otp_per_minute", await ReasonAsync(other, Otp(tester, other)));
        var many = Enumerable.Range(0, 301).Select(i => $"1330014{i:D4}").ToList();
        Assert.Equal(HttpStatusCode.BadRequest, (await other.Client.PostAsJsonAsync("/api/v1/test-numbers", new { numbers = many })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await other.Client.PostAsJsonAsync("/api/v1/test-numbers", new { numbers = many.Take(299) })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await other.Client.PostAsJsonAsync("/api/v1/test-numbers", new { numbers = new[] { "13300150000" } })).StatusCode);

        // A day later everything is counted afresh.
        time.Advance(TimeSpan.FromHours(24));
        Assert.Null(await ReasonAsync(tenant, Otp(phone, tenant)));
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_daily_limit_is_exact_with_requests_on_two_nodes_at_once_and_the_same_content_waits_thirty_seconds(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        await using var second = await server.StartSecondNodeAsync();
        var tenant = await server.CreateTenantAsync();
        var set = await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/limits", new Dictionary<string, int?> { ["notification_per_day"] = 10 });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Contains((await set.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray(), l => l!.Str("name") == "notification_per_day" && l.Long("value") == 10);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/limits", new Dictionary<string, int?> { ["otp_platform_per_day"] = 100 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/limits", new Dictionary<string, int?> { ["otp_per_minute"] = -1 })).StatusCode);
        Assert.Equal(10, (await tenant.GetAsync("/api/v1/limits"))["items"]!.AsArray().Single(l => l!.Str("name") == "notification_per_day")!.Long("value"));

        var there = second.Client(tenant.ApiKey);
        await Wait.Until(async () =>
        {
            var r = await (await there.GetAsync("/api/v1/limits")).Content.ReadFromJsonAsync<JsonObject>();
            return r!["items"]!.AsArray().Single(l => l!.Str("name") == "notification_per_day")!.Long("value") == 10;
        }, "the other node follows the new limit", seconds: 10);

        const string phone = "13300133501";
        var sends = Enumerable.Range(0, 30).Select(async i =>
        {
            var client = i % 2 == 0 ? tenant.Client : there;
            var r = await client.PostAsJsonAsync("/api/v1/messages", new { to = phone, signature = tenant.Signature, category = "notification", text = "您的第${n}号包裹已发出", @params = new { n = i.ToString() } });
            return (await r.Content.ReadFromJsonAsync<JsonObject>())!;
        }).ToList();
        var answers = await Task.WhenAll(sends);
        Assert.Equal(10, answers.Count(a => a["messages"] is JsonArray { Count: 1 }));
        Assert.Equal(20, answers.Count(a => a["rejected"]?.AsArray().SingleOrDefault()?.Str("reason") == "rate_limited:notification_per_day"));

        // A node that starts later reads the counts from the log: the number is at its limit there too.
        await using (var third = await server.StartSecondNodeAsync("--Xinge:NodeId=2"))
        {
            var late = await third.Client(tenant.ApiKey).PostAsJsonAsync("/api/v1/messages",
                new { to = phone, signature = tenant.Signature, category = "notification", text = "您的第${n}号包裹已发出", @params = new { n = "77" } });
            Assert.Equal("rate_limited:notification_per_day", (await late.Content.ReadFromJsonAsync<JsonObject>())!["rejected"]![0].Str("reason"));
        }

        // Another template is counted apart; the same content again within 30 seconds is not sent twice.
        var same = new { to = phone, signature = tenant.Signature, category = "notification", text = "您的账单已出" };
        Assert.Null(await ReasonAsync(tenant, same));
        Assert.Equal("rate_limited:same_content", await ReasonAsync(tenant, same));

        // A job is checked whole: of its numbers, those at their limit are refused with the limit named.
        var job = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new
        {
            signature = tenant.Signature,
            category = "notification",
            text = "您的第${n}号包裹已发出",
            recipients = new object[] { new { to = phone, @params = new { n = "99" } }, new { to = "13300133502", @params = new { n = "1" } } },
        });
        var accepted = (await job.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal((1, 1), (accepted["accepted"]!.GetValue<int>(), accepted["rejected"]!.GetValue<int>()));
        var rejections = (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{accepted.Str("jobId")}/rejections"))!;
        Assert.Equal("rate_limited:notification_per_day", rejections.Single()!.Str("reason"));
        await Wait.Until(async () => (await tenant.BalanceAsync()).Reserved == 0, "every message settled");
        await tenant.AssertLedgerReconcilesAsync();

        // Texts that match one approved template count as that template, however their values differ.
        var template = (await (await tenant.Client.PostAsJsonAsync("/api/v1/templates", new { name = "发货", category = "notification", text = "订单${id}已发货" }))
            .Content.ReadFromJsonAsync<JsonObject>())!.Long("id");
        var review = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews?limit=1000"))!.Single(r => r!.Str("kind") == "template" && r.Long("subjectId") == template)!;
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{review.Long("id")}/approve", null)).EnsureSuccessStatusCode();
        (await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/limits", new Dictionary<string, int?> { ["notification_per_day"] = 2 })).EnsureSuccessStatusCode();
        await Wait.Until(async () => await ReasonAsync(tenant, new { to = "13300133503", signature = tenant.Signature, category = "notification", text = "订单1已发货" }) is null,
            "the first goes once the template is known");
        Assert.Null(await ReasonAsync(tenant, new { to = "13300133503", signature = tenant.Signature, category = "notification", text = "订单2已发货" }));
        Assert.Equal("rate_limited:notification_per_day",
            await ReasonAsync(tenant, new { to = "13300133503", signature = tenant.Signature, category = "notification", text = "订单3已发货" }));

        // A request that is not stored (no balance) counts nothing: once topped up, the same OTP goes.
        var poor = await server.CreateTenantAsync("穷企业", credit: 0);
        var otp = new { to = "13300133504", signature = poor.Signature, category = "otp", text = "验证码 2468" };
        Assert.Equal(HttpStatusCode.PaymentRequired, (await poor.Client.PostAsJsonAsync("/api/v1/messages", otp)).StatusCode);
        (await poor.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{poor.Id}/credit", new { amount = 100 })).EnsureSuccessStatusCode();
        Assert.Null(await ReasonAsync(poor, otp));
    }
}

public sealed class FlowLedgerTests
{
    [Fact]
    public void Counts_are_kept_per_key_within_their_window_taken_back_and_compacted()
    {
        var ledger = new Xinge.Server.Features.Compliance.FlowLedger();
        ledger.Add(new(1, 1_000, 7));
        ledger.Add(new(1, 61_000, 8));
        ledger.Add(new(2, 1_000, 7));
        Assert.Equal(2, ledger.Count(1, 60_000, 60_000, null));
        Assert.Equal(1, ledger.Count(1, 61_000, 60_000, null));
        Assert.Equal(1, ledger.Count(1, 30_000, 60_000, 7));
        ledger.Remove(new(1, 61_000, 8));
        Assert.Equal(0, ledger.Count(1, 61_000, 60_000, null));
        ledger.Compact(since: 2_000);
        Assert.Equal((0, 0), (ledger.Keys, ledger.Events));
        for (var i = 0; i < 5000; i++) ledger.Add(new(i % 10, 10_000 + i, i));
        Assert.Equal(500, ledger.Count(3, 12_500, 100_000, null));
        ledger.Compact(since: 12_000);
        Assert.Equal((10, 3000), (ledger.Keys, ledger.Events));
        Assert.Equal(300, ledger.Count(3, 12_500, 100_000, null));
    }

    /// <summary>
    /// A batch that failed is stored again request by request, and the store's guard decides again from the request as it
    /// came: its own rejections of the first pass go, the request's own stay (the guard's were sorted in among them).
    /// </summary>
    [Fact]
    public void A_request_retried_after_a_failed_batch_keeps_its_own_rejections_and_loses_the_guards()
    {
        var request = new Xinge.Server.Features.Messaging.StoreRequest
        {
            EnterpriseId = 1,
            JobId = 1,
            Category = "notification",
            Sender = "106",
            Status = "queued",
            Total = 3,
            Messages = [new(11, "+8613800000001", "t", 0, 1, 5, null, 1), new(12, "+8613800000003", "t", 0, 1, 5, null, 3)],
            Rejections = [(2, "+8613800000002", "duplicate"), (4, "bad", "invalid_number")],
        };
        request.BeforeGuard();
        request.RefuseByGuard(0, "rate_limited:same_content");
        Assert.Single(request.ApplyGuard());
        Assert.Equal([1, 2, 4], request.Rejections.Select(r => r.Line));

        // The batch failed; the retry starts again from the request as it came, and this time the guard lets all go.
        request.BeforeGuard();
        request.ApplyGuard();
        Assert.Equal([(2, "+8613800000002", "duplicate"), (4, "bad", "invalid_number")], request.Rejections);
        Assert.Equal(2, request.Messages.Count);
    }
}

