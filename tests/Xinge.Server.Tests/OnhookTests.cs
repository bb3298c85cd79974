using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Xinge.Server.Tests;

/// <summary>S2 on-hook SMS: the seed's example exactly, the window and the delay on a fake clock, the daily peak on two nodes, the switch's events.</summary>
public sealed class OnhookTests
{
    private static int _hotline = 1000;
    private static long _caller = 13_700_000_000;

    private static string NewHotline() => "40080" + Interlocked.Increment(ref _hotline).ToString("D5");
    private static string NewCaller() => Interlocked.Increment(ref _caller).ToString();

    /// <summary>An enterprise with on-hook SMS opened on a new hotline, and the switch's client.</summary>
    private static async Task<(Tenant Tenant, string Hotline, HttpClient Switch)> OpenAsync(XingeServer server, string? hotline = null)
    {
        var tenant = await server.CreateTenantAsync();
        hotline ??= NewHotline();
        var opened = await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook", new { hotlines = new[] { hotline } });
        Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        var key = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/integration-keys", new { name = "switch " + hotline });
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        return (tenant, hotline, server.Client((await key.Content.ReadFromJsonAsync<JsonObject>())!.Str("key")));
    }

    private static async Task<long> PolicyAsync(Tenant tenant, object body)
    {
        var r = await tenant.Client.PostAsJsonAsync("/api/v1/onhook/policies", body);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"POST /onhook/policies answered {(int)r.StatusCode}: {text}");
        return JsonNode.Parse(text)!["id"]!.GetValue<long>();
    }

    private static object Call(string id, string caller, string hotline, DateTimeOffset ended, string outcome = "answered") =>
        new { callId = id, caller, called = hotline, outcome, diverted = false, startedAt = ended.AddSeconds(-40), endedAt = ended };

    private static async Task<JsonObject> PostCallsAsync(HttpClient @switch, object body)
    {
        var r = await @switch.PostAsJsonAsync("/api/v1/call-events", body);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, $"POST /call-events answered {(int)r.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<JsonArray> HandsetAsync(XingeServer server, string number) =>
        (await server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/86{number}/messages"))!;

    /// <summary>The policy's figures for an outcome, once every SMS it decided has gone to the engine.</summary>
    private static async Task<JsonObject> StatsAsync(Tenant tenant, long policy, string outcome = "answered")
    {
        JsonObject? row = null;
        await Wait.Until(async () =>
        {
            var stats = (await tenant.GetAsync("/api/v1/onhook/stats"))["items"]!.AsArray();
            row = stats.Select(x => x!.AsObject()).FirstOrDefault(x => x["policyId"]!.GetValue<long>() == policy && x.Str("outcome") == outcome);
            return row is not null && row["pending"]!.GetValue<int>() == 0;
        }, "the policy's SMS are all handed to the engine", () => row?.ToJsonString());
        return row!;
    }

    private static int N(JsonObject row, string name) => row[name]!.GetValue<int>();

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task The_seeds_example_holds_exactly_one_SMS_a_caller_a_week_and_at_most_100_a_day(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        var (tenant, hotline, @switch) = await OpenAsync(server);
        const string content = "感谢您致电信鸽科技，我们的营业时间是每天9点到21点。";
        var policy = await PolicyAsync(tenant, new
        {
            name = "status",
            hotline,
            signature = tenant.Signature,
            mode = "immediate",
            contents = new { answered = content },
            noRepeat = true,
            periodDays = 7,
            dailyLimit = 100,
        });

        // The caller's first completed call gets one SMS, on the handset, with the enterprise's signature.
        // Days are the enterprise's (Shanghai's): the first calls three days ago at noon, the 150 yesterday at noon.
        var shanghai = TimeSpan.FromHours(8);
        var noon = new DateTimeOffset(DateTimeOffset.UtcNow.ToOffset(shanghai).Date, shanghai).AddHours(12);
        var caller = NewCaller();
        var earlier = noon.AddDays(-3);
        var first = await PostCallsAsync(@switch, Call("seed-1-" + caller, caller, hotline, earlier));
        Assert.Equal(1, first["served"]!.GetValue<int>());
        await Wait.Until(async () => (await HandsetAsync(server, caller)).Count == 1, "the caller's handset gets the SMS");
        Assert.Equal($"【{tenant.Signature}】{content}", (await HandsetAsync(server, caller))[0].Str("text"));

        // A second call that week gets none.
        await PostCallsAsync(@switch, Call("seed-2-" + caller, caller, hotline, earlier.AddDays(2)));
        var stats = await StatsAsync(tenant, policy);
        Assert.Equal(1, N(stats, "sent"));
        Assert.Equal(1, N(stats, "suppressedRepeat"));

        // Editing the policy keeps its counters: the caller still had this week's SMS, even for a call that reached us late
        // (it ended before the first one).
        var edited = await tenant.Client.PutAsJsonAsync($"/api/v1/onhook/policies/{policy}", new
        {
            name = "status",
            hotline,
            signature = tenant.Signature,
            mode = "immediate",
            contents = new { answered = content + "欢迎再来。" },
            noRepeat = true,
            periodDays = 7,
            dailyLimit = 100,
        });
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        await PostCallsAsync(@switch, Call("seed-3-" + caller, caller, hotline, earlier.AddDays(-1)));
        stats = await StatsAsync(tenant, policy);
        Assert.Equal(1, N(stats, "sent"));
        Assert.Equal(2, N(stats, "suppressedRepeat"));

        // Weighed against every SMS of the week around it: after a second SMS ten days after the first, a call reported
        // late from between them (three days after the first, a full week before the second) gets none.
        // (The two SMS go out seconds apart: their texts differ, or flow control would refuse the same content twice in 30 s.)
        var later = NewCaller();
        await PostCallsAsync(@switch, Call("w-1-" + later, later, hotline, earlier.AddDays(-10)));
        (await tenant.Client.PutAsJsonAsync($"/api/v1/onhook/policies/{policy}", new
        {
            name = "status",
            hotline,
            signature = tenant.Signature,
            mode = "immediate",
            contents = new { answered = content + "期待您的下次来电。" },
            noRepeat = true,
            periodDays = 7,
            dailyLimit = 100,
        })).EnsureSuccessStatusCode();
        await PostCallsAsync(@switch, Call("w-2-" + later, later, hotline, earlier));
        await PostCallsAsync(@switch, Call("w-3-" + later, later, hotline, earlier.AddDays(-7)));
        stats = await StatsAsync(tenant, policy);
        Assert.Equal(3, N(stats, "sent"));
        Assert.Equal(3, N(stats, "suppressedRepeat"));

        // Of 150 distinct callers in one day, exactly 100 get one: the first hundred to hang up.
        var today = noon.AddDays(-1);
        var callers = Enumerable.Range(0, 150).Select(_ => NewCaller()).ToList();
        var batch = await PostCallsAsync(@switch, callers.Select((c, i) => Call($"seed-day-{c}", c, hotline, today.AddSeconds(i))).ToArray());
        Assert.Equal(150, batch["new"]!.GetValue<int>());
        stats = await StatsAsync(tenant, policy);
        Assert.Equal(103, N(stats, "sent"));
        Assert.Equal(50, N(stats, "suppressedPeak"));
        Assert.Equal(0, N(stats, "failed"));
        await Wait.Until(async () => (await HandsetAsync(server, callers[99])).Count == 1, "the hundredth caller's SMS arrives");
        Assert.Empty(await HandsetAsync(server, callers[100]));
        Assert.Empty(await HandsetAsync(server, callers[149]));
        await tenant.AssertLedgerReconcilesAsync();
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task The_daily_peak_is_exact_with_calls_to_one_hotline_arriving_on_two_nodes_at_once(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        await using var second = await server.StartSecondNodeAsync();
        var (tenant, hotline, @switch) = await OpenAsync(server);
        var policy = await PolicyAsync(tenant, new { name = "peak", hotline, signature = tenant.Signature, mode = "immediate", contents = new { busy = "您好，刚才占线，请稍后再拨。" }, dailyLimit = 10 });
        var switch2 = second.Client(@switch.DefaultRequestHeaders.Authorization!.Parameter!);
        var ended = DateTimeOffset.UtcNow.AddMinutes(-5);
        // Forty calls, each its own request, half to each node, all at once.
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
        {
            var caller = NewCaller();
            return PostCallsAsync(i % 2 == 0 ? @switch : switch2, Call($"peak-{caller}", caller, hotline, ended.AddMilliseconds(i), "busy"));
        }));
        Assert.All(answers, a => Assert.Equal(1, a["served"]!.GetValue<int>()));
        var stats = await StatsAsync(tenant, policy, "busy");
        Assert.Equal(10, N(stats, "sent"));
        Assert.Equal(30, N(stats, "suppressedPeak"));
    }

    [Fact]
    public async Task A_call_outside_the_window_gets_nothing_and_a_delayed_SMS_waits_its_minutes()
    {
        // 09:58 in Shanghai.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 1, 58, 0, TimeSpan.Zero));
        await using var server = await XingeServer.StartAsync(Store.Sqlite, b => b.Services.AddSingleton<TimeProvider>(time));
        var (tenant, hotline, @switch) = await OpenAsync(server);
        var policy = await PolicyAsync(tenant, new
        {
            name = "later",
            hotline,
            signature = tenant.Signature,
            mode = "delayed",
            delayMinutes = 5,
            contents = new { no_answer = "抱歉未能接听您的来电，我们会尽快回电。" },
            window = new { from = "08:00", to = "21:00" },
        });
        var late = NewCaller();
        var inTime = NewCaller();
        // 21:00 is outside [08:00, 21:00); 09:57 is inside.
        await PostCallsAsync(@switch, new[]
        {
            Call("late-" + late, late, hotline, new DateTimeOffset(2026, 12, 1, 21, 0, 0, TimeSpan.FromHours(8)), "no_answer"),
            Call("in-" + inTime, inTime, hotline, new DateTimeOffset(2026, 12, 2, 9, 57, 0, TimeSpan.FromHours(8)), "no_answer"),
        });
        var stats = await StatsAsync(tenant, policy, "no_answer");
        Assert.Equal(1, N(stats, "suppressedWindow"));
        Assert.Equal(1, N(stats, "sent"));

        // Due at 10:02, five minutes after the call: not at 10:01, then at 10:02.
        time.Advance(TimeSpan.FromMinutes(3));
        await Task.Delay(1500);
        Assert.Empty(await HandsetAsync(server, inTime));
        time.Advance(TimeSpan.FromMinutes(1));
        await Wait.Until(async () => (await HandsetAsync(server, inTime)).Count == 1, "the delayed SMS arrives when it is due");
        Assert.Empty(await HandsetAsync(server, late));

        // 35 days on, the calls have done their work and go; a call that old is refused anyway, so none can come twice.
        time.Advance(TimeSpan.FromDays(36));
        var retention = server.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Xinge.Server.Features.Calls.CallRetention>().Single();
        Assert.Equal(2, await retention.PurgeAsync(CancellationToken.None));
        var again = await @switch.PostAsJsonAsync("/api/v1/call-events", Call("in-" + inTime, inTime, hotline, new DateTimeOffset(2026, 12, 2, 9, 57, 0, TimeSpan.FromHours(8)), "no_answer"));
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task The_switchs_events_count_once_unknown_hotlines_are_ignored_and_bad_ones_refused(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        var (tenant, hotline, @switch) = await OpenAsync(server);
        await PolicyAsync(tenant, new { name = "all", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "谢谢来电" } });
        var caller = NewCaller();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        // Twice in one batch, again in the next, and a call to a number that is no hotline.
        var once = Call("dup-" + caller, caller, hotline, at);
        // A caller who withheld the number is recorded and gets nothing.
        var first = await PostCallsAsync(@switch, new[] { once, once, Call("stranger-" + caller, caller, "02088886666", at), Call("withheld-" + caller, "", hotline, at) });
        Assert.Equal(4, first["received"]!.GetValue<int>());
        Assert.Equal(3, first["new"]!.GetValue<int>());
        Assert.Equal(1, first["served"]!.GetValue<int>());
        Assert.Equal(2, first["ignored"]!.GetValue<int>());
        var again = await PostCallsAsync(@switch, once);
        Assert.Equal(1, again["duplicates"]!.GetValue<int>());
        await Wait.Until(async () => (await HandsetAsync(server, caller)).Count == 1, "one SMS arrives");
        await Task.Delay(1000);
        Assert.Single(await HandsetAsync(server, caller));

        // Bad events are refused, naming the event; nothing of a refused batch counts.
        async Task<string> RefusedAsync(object body)
        {
            var r = await @switch.PostAsJsonAsync("/api/v1/call-events", body);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonObject>())!.Str("detail");
        }
        var fresh = NewCaller();
        Assert.Contains("outcome", await RefusedAsync(new[] { Call("ok-" + fresh, fresh, hotline, at), Call("bad", fresh, hotline, at, "exploded") }));
        Assert.Contains("event 1", await RefusedAsync(new[] { Call("ok-" + fresh, fresh, hotline, at), Call("bad", fresh, hotline, at, "exploded") }));
        Assert.Contains("offset", await RefusedAsync(new { callId = "x", caller = fresh, called = hotline, outcome = "busy", startedAt = "2026-12-02T10:00:00", endedAt = "2026-12-02T10:01:00" }));
        Assert.Contains("caller", await RefusedAsync(new { callId = "x", caller = "not a number", called = hotline, outcome = "busy", startedAt = at, endedAt = at }));
        Assert.Contains("callId", await RefusedAsync(new { caller = fresh, called = hotline, outcome = "busy", startedAt = at, endedAt = at }));
        Assert.Contains("10000", await RefusedAsync(Enumerable.Range(0, 10_001).Select(i => Call($"many-{i}", fresh, hotline, at)).ToArray()));
        Assert.Contains("body", await RefusedAsync("just text"));
        // A lone surrogate, escaped as JSON allows but no text (a serializer would not write it; a hostile client does).
        var lone = await @switch.PostAsync("/api/v1/call-events", new StringContent(
            $"{{\"callId\":\"\\ud800\",\"caller\":\"{fresh}\",\"called\":\"{hotline}\",\"outcome\":\"busy\",\"startedAt\":\"{at:O}\",\"endedAt\":\"{at:O}\"}}",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, lone.StatusCode);
        Assert.Contains("callId", (await lone.Content.ReadFromJsonAsync<JsonObject>())!.Str("detail"));
        Assert.Contains("endedAt", await RefusedAsync(Call("future", fresh, hotline, new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero))));
        Assert.Contains("endedAt", await RefusedAsync(Call("ancient", fresh, hotline, at.AddDays(-31))));
        await Task.Delay(500);
        Assert.Empty(await HandsetAsync(server, fresh));

        // Only the switch posts calls: an enterprise's key may not.
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.PostAsJsonAsync("/api/v1/call-events", Call("e", fresh, hotline, at))).StatusCode);
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_caller_who_replied_T_gets_no_more_marketing_on_hook_SMS(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        var (tenant, hotline, @switch) = await OpenAsync(server);
        var policy = await PolicyAsync(tenant, new { name = "promo", hotline, signature = tenant.Signature, category = "marketing", mode = "immediate", contents = new { answered = "新品八折，欢迎到店。" } });
        var caller = NewCaller();
        await PostCallsAsync(@switch, Call("promo-1-" + caller, caller, hotline, DateTimeOffset.UtcNow.AddMinutes(-10)));
        await Wait.Until(async () => (await HandsetAsync(server, caller)).Count == 1, "the first SMS arrives");
        var sms = (await HandsetAsync(server, caller))[0]!;
        Assert.EndsWith("退订回T", sms.Str("text"));
        (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/86{caller}/messages", new { to = sms.Str("from"), text = "T" })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonObject>($"/api/v1/opt-outs?q={caller}"))!["items"]!.AsArray().Count == 1, "the reply opts the caller out");

        await PostCallsAsync(@switch, Call("promo-2-" + caller, caller, hotline, DateTimeOffset.UtcNow.AddMinutes(-5)));
        var stats = await StatsAsync(tenant, policy);
        Assert.Equal(1, N(stats, "sent"));
        Assert.Equal(1, N(stats, "suppressedOptOut"));
        Assert.Single(await HandsetAsync(server, caller));
    }

    [Fact]
    public async Task A_hotline_number_signs_in_changes_its_first_password_and_keeps_its_policies_to_its_enterprise()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var (tenant, hotline, _) = await OpenAsync(server);
        var other = await OpenAsync(server);
        var admin = tenant.Admin;

        // The package's quota: one hotline, so a second is refused until the operator raises it; a number is one enterprise's.
        async Task<HttpStatusCode> AddAsync(string number) =>
            (await admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook", new { hotlines = new[] { number } })).StatusCode;
        var second = NewHotline();
        Assert.Equal(HttpStatusCode.UnprocessableEntity, await AddAsync(second));
        Assert.Equal(HttpStatusCode.Conflict, await AddAsync(other.Hotline));
        (await admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { maxHotlines = 2 })).EnsureSuccessStatusCode();
        // With a first password, the hotline added is a login of the enterprise.
        var withLogin = await admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook", new { hotlines = new[] { second }, password = "first-pass-1" });
        Assert.Equal(HttpStatusCode.OK, withLogin.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, await AddAsync(second));
        // Only the operator adds hotlines: an enterprise could otherwise take another's number and its callers.
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await tenant.Client.PostAsJsonAsync("/api/v1/onhook/hotlines", new { number = NewHotline() })).StatusCode);

        // The hotline number is a login name; its first password is the operator's, changed at the first sign-in.
        var signIn = await server.Http.PostAsJsonAsync("/api/v1/auth/token", new { username = second, password = "first-pass-1" });
        var token = (await signIn.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(token["mustChangePassword"]!.GetValue<bool>());
        var person = server.Client(token.Str("token"));
        Assert.Equal(HttpStatusCode.Forbidden, (await person.GetAsync("/api/v1/onhook/policies")).StatusCode);
        var changed = await person.PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = "first-pass-1", newPassword = "my-own-pass-2" });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        person = server.Client((await changed.Content.ReadFromJsonAsync<JsonObject>())!.Str("token"));

        // Policies: checked, listed, edited, kept from other enterprises.
        async Task<HttpStatusCode> CreateAsync(object body) => (await person.PostAsJsonAsync("/api/v1/onhook/policies", body)).StatusCode;
        Assert.Equal(HttpStatusCode.BadRequest, await CreateAsync(new { name = "x", hotline, signature = tenant.Signature, mode = "sometimes", contents = new { answered = "好" } }));
        Assert.Equal(HttpStatusCode.BadRequest, await CreateAsync(new { name = "x", hotline = other.Hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "好" } }));
        Assert.Equal(HttpStatusCode.BadRequest, await CreateAsync(new { name = "x", hotline, signature = tenant.Signature, mode = "immediate", contents = new { } }));
        Assert.Equal(HttpStatusCode.BadRequest, await CreateAsync(new { name = "x", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "好" }, window = new { from = "8am", to = "21:00" } }));
        Assert.Equal(HttpStatusCode.BadRequest, await CreateAsync(new { name = "x", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "好" }, periodDays = 7 }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, await CreateAsync(new { name = "x", hotline, signature = "没批过的", mode = "immediate", contents = new { answered = "好" } }));
        var id = await PolicyAsync(tenant with { Client = person }, new { name = "status", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "谢谢" }, noRepeat = true, periodDays = 7, dailyLimit = 100 });
        var view = await tenant.GetAsync($"/api/v1/onhook/policies/{id}");
        Assert.Equal(7, view["periodDays"]!.GetValue<int>());
        Assert.Equal("immediate", view.Str("mode"));
        var edited = await person.PutAsJsonAsync($"/api/v1/onhook/policies/{id}", new { name = "status", hotline, signature = tenant.Signature, mode = "delayed", delayMinutes = 10, contents = new { busy = "稍后回电" }, enabled = false });
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        Assert.False((await edited.Content.ReadFromJsonAsync<JsonObject>())!["enabled"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await other.Tenant.Client.GetAsync($"/api/v1/onhook/policies/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Tenant.Client.DeleteAsync($"/api/v1/onhook/policies/{id}")).StatusCode);
        Assert.Empty((await other.Tenant.GetAsync("/api/v1/onhook/policies"))["items"]!.AsArray());

        // The operator sees the enterprise's service and policies, read-only.
        var service = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}/onhook"))!;
        Assert.True(service["open"]!.GetValue<bool>());
        Assert.Equal(2, service["hotlines"]!.AsArray().Count);
        Assert.Equal("status", service["policies"]![0].Str("name"));

        // The operator removes a hotline, with its policies; another enterprise's hotline is not this one's to remove.
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook/hotlines/{other.Hotline}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook/hotlines/{hotline}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook/hotlines/{hotline}")).StatusCode);
        service = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}/onhook"))!;
        Assert.Single(service["hotlines"]!.AsArray());
        Assert.Empty(service["policies"]!.AsArray());

        // The preview: the SMS as the caller will see it, its segments and its price.
        var preview = (await (await person.PostAsJsonAsync("/api/v1/onhook/preview", new { signature = tenant.Signature, text = "谢谢来电" })).Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal($"【{tenant.Signature}】谢谢来电", preview.Str("text"));
        Assert.Equal(1, preview["segments"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_reviewed_enterprises_policy_needs_approved_templates_for_its_SMS(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        var tenant = await server.CreateTenantAsync(reviewed: true);
        var hotline = NewHotline();
        (await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook", new { hotlines = new[] { hotline } })).EnsureSuccessStatusCode();
        var body = new { name = "thanks", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "感谢您的来电，祝您生活愉快。" } };
        var refused = await tenant.Client.PostAsJsonAsync("/api/v1/onhook/policies", body);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Equal("template-needed", (await refused.Content.ReadFromJsonAsync<JsonObject>())!.Str("type").Split('/').Last());

        var template = await tenant.Client.PostAsJsonAsync("/api/v1/templates", new { name = "来电感谢", category = "notification", text = "感谢您的来电，祝您生活愉快。" });
        var templateId = (await template.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        var review = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews"))!.Single(r => r!.Str("kind") == "template" && r!["subjectId"]!.GetValue<long>() == templateId)!;
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{review["id"]}/approve", null)).EnsureSuccessStatusCode();
        await PolicyAsync(tenant, body);
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task The_first_policy_by_priority_decides_and_a_failed_SMS_gives_back_its_place(Store store)
    {
        await using var server = await XingeServer.StartAsync(store);
        var (tenant, hotline, @switch) = await OpenAsync(server);
        // Two policies for answered calls: priority 1 decides while enabled; then the other; a policy without busy content leaves busy calls to the next.
        var first = await PolicyAsync(tenant, new { name = "first", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "第一条策略" }, priority = 1, dailyLimit = 1 });
        var second = await PolicyAsync(tenant, new { name = "second", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "第二条策略", busy = "占线了" }, priority = 2 });
        var a = NewCaller();
        var b = NewCaller();
        var at = DateTimeOffset.UtcNow.AddMinutes(-20);
        await PostCallsAsync(@switch, new[] { Call("p-a-" + a, a, hotline, at), Call("p-b-" + b, b, hotline, at.AddSeconds(1), "busy") });
        await Wait.Until(async () => (await HandsetAsync(server, a)).Count == 1 && (await HandsetAsync(server, b)).Count == 1, "both callers get an SMS");
        Assert.EndsWith("第一条策略", (await HandsetAsync(server, a))[0].Str("text"));
        Assert.EndsWith("占线了", (await HandsetAsync(server, b))[0].Str("text"));
        // The first policy's day is full: it suppresses, it does not fall through to the second.
        var c = NewCaller();
        await PostCallsAsync(@switch, Call("p-c-" + c, c, hotline, at.AddSeconds(2)));
        Assert.Equal(1, N(await StatsAsync(tenant, first), "suppressedPeak"));
        // Disabled, it no longer decides.
        var disabled = await tenant.Client.PutAsJsonAsync($"/api/v1/onhook/policies/{first}", new { name = "first", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "第一条策略" }, priority = 1, dailyLimit = 1, enabled = false });
        Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        await PostCallsAsync(@switch, Call("p-c2-" + c, c, hotline, at.AddSeconds(3)));
        await Wait.Until(async () => (await HandsetAsync(server, c)).Count == 1, "the second policy sends");
        Assert.EndsWith("第二条策略", (await HandsetAsync(server, c))[0].Str("text"));

        // An SMS the engine refuses (no balance) fails, and gives back the caller's turn and the day's place.
        var poor = await server.CreateTenantAsync("穷企业", credit: 0);
        var poorLine = NewHotline();
        (await poor.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{poor.Id}/onhook", new { hotlines = new[] { poorLine } })).EnsureSuccessStatusCode();
        var once = await PolicyAsync(poor, new { name = "once", hotline = poorLine, signature = poor.Signature, mode = "immediate", contents = new { answered = "只发一次" }, noRepeat = true, dailyLimit = 1 });
        var caller = NewCaller();
        await PostCallsAsync(@switch, Call("poor-1-" + caller, caller, poorLine, at));
        var row = await StatsAsync(poor, once);
        Assert.Equal((0, 1), (N(row, "sent"), N(row, "failed")));
        (await poor.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{poor.Id}/credit", new { amount = 1000 })).EnsureSuccessStatusCode();
        await PostCallsAsync(@switch, Call("poor-2-" + caller, caller, poorLine, at.AddMinutes(1)));
        row = await StatsAsync(poor, once);
        Assert.Equal((1, 1, 0, 0), (N(row, "sent"), N(row, "failed"), N(row, "suppressedRepeat"), N(row, "suppressedPeak")));
        await Wait.Until(async () => (await HandsetAsync(server, caller)).Count == 1, "the SMS goes once there is balance");
    }
}
