using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Xinge.Server.Tests.Portal;

public sealed class OnhookPortalTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>
    /// S2 in the browser: the operator opens on-hook SMS with a hotline and issues the hotline its login; the enterprise
    /// signs in with the hotline number, chooses its own password, creates the seed's policy watching its preview; a call
    /// ends, and the SMS shows on the simulator's phone and in the policy's statistics.
    /// </summary>
    [Fact]
    public async Task An_enterprise_signs_in_with_its_hotline_sets_the_seeds_policy_and_sees_the_SMS_of_a_call()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        const string hotline = "4008009999";

        var op = await browser.NewPageAsync(server.BaseAddress);
        await op.SignInAsync("admin", XingeServer.AdminPassword);
        await op.GotoAsync("/admin/enterprises");
        await op.ClickAsync($"#open-{tenant.Id}");
        // The hotline with its login's first password.
        await op.EnterAsync("#onhook-new-hotline", hotline);
        await op.EnterAsync("#onhook-new-password", "Issued-Pass-2026");
        await op.ClickAsync("#onhook-add-hotline");
        await Expect(op.Locator("#onhook-admin")).ToContainTextAsync(hotline);
        await Expect(op.Locator("#onhook-state")).ToHaveTextAsync("已开通");
        await op.ShotAsync("operator-onhook");

        // The hotline number signs in and must choose its own password first.
        var ent = await browser.NewPageAsync(server.BaseAddress);
        await ent.SignInAsync(hotline, "Issued-Pass-2026");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/password"));
        await ent.FillAsync("#current", "Issued-Pass-2026");
        await ent.FillAsync("#next", "Own-Pass-2026-x");
        await ent.FillAsync("#confirm", "Own-Pass-2026-x");
        await ent.ClickAsync("#change-password");
        await Expect(ent.Locator("#dashboard")).ToBeVisibleAsync();

        // The seed's policy: "status", immediate, no repeat within a week, at most 100 a day; the preview shows the SMS.
        await ent.GotoAsync("/onhook");
        await Expect(ent.Locator("#onhook-hotlines")).ToContainTextAsync(hotline);
        await ent.EnterAsync("#policy-name", "status");
        await ent.EnterAsync("#policy-signature", tenant.Signature);
        await ent.EnterAsync("#content-answered", "感谢致电，本店营业时间每天9点到21点。");
        await Expect(ent.Locator("#policy-preview")).ToContainTextAsync($"【{tenant.Signature}】感谢致电，本店营业时间每天9点到21点。");
        await Expect(ent.Locator("#policy-preview")).ToContainTextAsync("计费条数: 1");
        await ent.Locator("#policy-no-repeat").CheckAsync();
        await ent.EnterAsync("#policy-period", "7");
        await ent.EnterAsync("#policy-daily", "100");
        await ent.ShotAsync("enterprise-onhook-policy");
        await ent.ClickAsync("#save-policy");
        await ent.SnackAsync("已创建");
        await Expect(ent.Locator("#policies")).ToContainTextAsync("status");
        await Expect(ent.Locator("#policies")).ToContainTextAsync("7 天内一次");

        // A call to the hotline ends; the caller's phone gets the SMS, and the statistics count it.
        var key = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/integration-keys", new { name = "switch" });
        var @switch = server.Client((await key.Content.ReadFromJsonAsync<JsonObject>())!.Str("key"));
        var ended = DateTimeOffset.UtcNow.AddSeconds(-5);
        var call = await @switch.PostAsJsonAsync("/api/v1/call-events", new
        {
            callId = "browser-1",
            caller = "13900139077",
            called = hotline,
            outcome = "answered",
            diverted = false,
            startedAt = ended.AddSeconds(-60),
            endedAt = ended,
        });
        Assert.Equal(HttpStatusCode.Accepted, call.StatusCode);
        await op.GotoAsync("/simulator");
        await Expect(op.Locator("#phones")).ToContainTextAsync("感谢致电，本店营业时间每天9点到21点。", new() { Timeout = 15_000 });
        await op.ShotAsync("flow-onhook-phone");
        await ent.ClickAsync("#refresh-stats");
        await Expect(ent.Locator("#onhook-stats-rows td.sent").First).ToHaveTextAsync("1");
        await Expect(ent.Locator("#onhook-stats-rows")).ToContainTextAsync("接通");
        await ent.ShotAsync("enterprise-onhook-stats");
    }
}
