using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Xinge.Server.Tests.Portal;

public sealed class PortalTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    /// <summary>
    /// The whole loop in the browser: the operator opens an enterprise, its administrator signs in with the issued
    /// password and chooses their own, applies for a signature that the operator approves, sends an SMS that shows on
    /// the simulator's phone, the phone replies, the reply shows in the inbox, and the dashboard counts the message.
    /// </summary>
    [Fact]
    public async Task Operator_opens_an_enterprise_that_sends_from_the_console_and_sees_the_reply()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var op = await browser.NewPageAsync(server.BaseAddress);

        // An anonymous visitor gets the sign-in page; the operator signs in to the dashboard.
        await op.GotoAsync("/");
        await Expect(op).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
        await op.SignInAsync("admin", XingeServer.AdminPassword);
        await Expect(op.Locator("#dashboard")).ToBeVisibleAsync();
        await op.ShotAsync("operator-dashboard-zh");

        // The operator creates, verifies and credits an enterprise and issues its administrator a password.
        await op.GotoAsync("/admin/enterprises");
        var licence = PlatformClient.NewLicence();
        await op.EnterAsync("#new-name", "鸿雁物流");
        await op.EnterAsync("#new-licence", licence);
        await op.ClickAsync("#create-enterprise");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("鸿雁物流");
        await op.ClickAsync("#verify");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("已认证");
        await op.EnterAsync("#credit-amount", "50");
        await op.ClickAsync("#credit");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("50.00");
        await op.EnterAsync("#new-username", "hongyan");
        await op.EnterAsync("#new-password", "Issued-Pass-2026");
        await op.ClickAsync("#create-user");
        await op.SnackAsync("用户已创建");
        await op.ShotAsync("operator-enterprises-zh");

        // The administrator signs in with the issued password and must choose their own first.
        var ent = await browser.NewPageAsync(server.BaseAddress);
        await ent.SignInAsync("hongyan", "Issued-Pass-2026");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/password"));
        await ent.GotoAsync("/send");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/password"));
        await ent.FillAsync("#current", "Issued-Pass-2026");
        await ent.FillAsync("#next", "Own-Pass-2026-x");
        await ent.FillAsync("#confirm", "Own-Pass-2026-x");
        await ent.ClickAsync("#change-password");
        await Expect(ent.Locator("#dashboard")).ToBeVisibleAsync();

        // A signature goes to the operator's review queue and is approved in one click.
        await ent.GotoAsync("/signatures");
        await ent.EnterAsync("#new-signature", "鸿雁");
        await ent.ClickAsync("#register-signature");
        await Expect(ent.Locator("#signatures")).ToContainTextAsync("待审核");
        await op.GotoAsync("/admin/reviews");
        await Expect(op.Locator("#reviews")).ToContainTextAsync("鸿雁");
        await op.ShotAsync("operator-reviews-zh");
        await op.Locator("#reviews button[id^=approve-]").First.ClickAsync();
        await Expect(op.Locator("#reviews")).ToContainTextAsync("没有待审核");
        await ent.ReloadAsync();
        await Expect(ent.Locator("#signatures")).ToContainTextAsync("已通过");

        // The console counts characters, segments and price as the text is typed.
        await ent.GotoAsync("/send");
        await ent.FillAsync("#numbers", "13800138000");
        await ent.FillAsync("#text", "您的快递已到达驿站，请凭取件码 8888 取件。");
        await Expect(ent.Locator("#preview-text")).ToHaveTextAsync("【鸿雁】您的快递已到达驿站，请凭取件码 8888 取件。");
        await Expect(ent.Locator("#count-encoding")).ToHaveTextAsync("UCS-2");
        await Expect(ent.Locator("#count-segments")).ToHaveTextAsync("1");
        await Expect(ent.Locator("#count-price")).ToHaveTextAsync("0.05");
        await ent.ShotAsync("enterprise-send-zh");
        await ent.ClickAsync("#send");
        await ent.SnackAsync("已提交发送");

        // The message arrives on the simulator's phone; the phone replies.
        await op.GotoAsync("/simulator");
        var phone = op.Locator("#phone-8613800138000");
        await Expect(phone).ToContainTextAsync("【鸿雁】您的快递已到达驿站");
        await op.FillAsync("#reply-text-8613800138000", "收到，谢谢");
        await op.ClickAsync("#reply-send-8613800138000");
        await Expect(phone).ToContainTextAsync("收到，谢谢");
        await op.ShotAsync("simulator-phones-zh");

        // The reply shows in the enterprise's inbox without a reload, and the dashboard counts the delivered message.
        await ent.GotoAsync("/inbox");
        await Expect(ent.Locator("#inbox")).ToContainTextAsync("收到，谢谢");
        await ent.ShotAsync("enterprise-inbox-zh");
        await ent.GotoAsync("/");
        await Expect(ent.Locator("#total-delivered")).ToHaveTextAsync("1", new() { Timeout = 30_000 });
        await Expect(ent.Locator("#report-chart svg")).ToBeVisibleAsync();
        await ent.ShotAsync("enterprise-dashboard-zh");

        // Signing out ends the session: the same cookie opens nothing afterwards.
        await ent.ClickAsync("#sign-out");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
        await ent.GotoAsync("/send");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
    }
}
