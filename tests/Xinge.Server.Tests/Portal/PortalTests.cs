using System.Net;
using System.Net.Http.Json;
using System.Text;
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
        await op.ShotAsync("flow-operator-dashboard");

        // The operator creates and credits an enterprise and issues its administrator a password.
        await op.GotoAsync("/admin/enterprises");
        var licence = PlatformClient.NewLicence();
        await op.EnterAsync("#new-name", "鸿雁物流");
        await op.EnterAsync("#new-licence", licence);
        await op.ClickAsync("#create-enterprise");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("鸿雁物流");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("未认证");
        await op.EnterAsync("#credit-amount", "50");
        await op.ClickAsync("#credit");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("50.00");
        await op.EnterAsync("#user-name", "hongyan");
        await op.EnterAsync("#user-password", "Issued-Pass-2026");
        await op.ClickAsync("#create-user");
        await op.SnackAsync("用户已创建");

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

        // It uploads the business licence; the operator opens it and verifies the enterprise against it.
        await ent.GotoAsync("/profile");
        var scan = Encoding.ASCII.GetBytes("%PDF-1.4\n% licence scan\n" + new string('x', 300_000));
        await ent.Locator(".licence-input").SetInputFilesAsync(new FilePayload { Name = "营业执照.pdf", MimeType = "application/pdf", Buffer = scan });
        await ent.SnackAsync("营业执照已上传");
        await Expect(ent.Locator("#licence-document")).ToContainTextAsync("营业执照.pdf");
        await op.ReloadAsync();
        await op.ClickAsync("#open-1");
        await Expect(op.Locator("#licence-info")).ToContainTextAsync("营业执照.pdf");
        var download = await op.RunAndWaitForDownloadAsync(() => op.Locator("#licence-info a").ClickAsync());
        Assert.Equal(scan, await File.ReadAllBytesAsync((await download.PathAsync())!));
        await op.ClickAsync("#verify");
        await Expect(op.Locator("#enterprise-panel")).ToContainTextAsync("已认证");
        await op.ShotAsync("flow-operator-enterprises");

        // A signature and a template go to the operator's review queue and are approved in one click each.
        await ent.GotoAsync("/signatures");
        await ent.EnterAsync("#new-signature", "鸿雁");
        await ent.ClickAsync("#register-signature");
        await Expect(ent.Locator("#signatures")).ToContainTextAsync("待审核");
        await ent.GotoAsync("/templates");
        await ent.EnterAsync("#template-name", "取件通知");
        await ent.EnterAsync("#template-text", "您的快递已到达驿站，请凭取件码 ${code} 取件。");
        await ent.ClickAsync("#create-template");
        await Expect(ent.Locator("#templates")).ToContainTextAsync("待审核");
        await ent.ShotAsync("flow-enterprise-templates");
        await op.GotoAsync("/admin/reviews");
        await Expect(op.Locator("#reviews")).ToContainTextAsync("鸿雁");
        await Expect(op.Locator("#reviews")).ToContainTextAsync("取件码 ${code}");
        await op.ShotAsync("flow-operator-reviews");
        await op.Locator("#reviews button[id^=approve-]").First.ClickAsync();
        await op.SnackAsync("已通过");
        await Expect(op.Locator("#reviews tbody tr")).ToHaveCountAsync(1);
        await op.Locator("#reviews button[id^=approve-]").First.ClickAsync();
        await Expect(op.Locator("#reviews")).ToContainTextAsync("没有待审核");
        await ent.ReloadAsync();
        await Expect(ent.Locator("#templates")).ToContainTextAsync("已通过");
        await ent.GotoAsync("/signatures");
        await Expect(ent.Locator("#signatures")).ToContainTextAsync("已通过");

        // The console counts characters, segments and price as the text is typed.
        await ent.GotoAsync("/send");
        await ent.FillAsync("#numbers", "13800138000");
        await ent.FillAsync("#text", "您的快递已到达驿站，请凭取件码 8888 取件。");
        await Expect(ent.Locator("#preview-text")).ToHaveTextAsync("【鸿雁】您的快递已到达驿站，请凭取件码 8888 取件。");
        await Expect(ent.Locator("#count-encoding")).ToHaveTextAsync("UCS-2");
        await Expect(ent.Locator("#count-segments")).ToHaveTextAsync("1");
        await Expect(ent.Locator("#count-price")).ToHaveTextAsync("0.05");
        await ent.ShotAsync("flow-enterprise-send");
        await ent.ClickAsync("#send");
        await ent.SnackAsync("已提交发送");

        // The message arrives on the simulator's phone; the phone replies.
        await op.GotoAsync("/simulator");
        var phone = op.Locator("#phone-8613800138000");
        await Expect(phone).ToContainTextAsync("【鸿雁】您的快递已到达驿站");
        await op.FillAsync("#reply-text-8613800138000", "收到，谢谢");
        await op.ClickAsync("#reply-send-8613800138000");
        await Expect(phone).ToContainTextAsync("收到，谢谢");
        await op.ShotAsync("flow-simulator-phones");

        // The reply shows in the enterprise's inbox without a reload, and the dashboard counts the delivered message.
        await ent.GotoAsync("/inbox");
        await Expect(ent.Locator("#inbox")).ToContainTextAsync("收到，谢谢");
        await ent.ShotAsync("flow-enterprise-inbox");
        await ent.GotoAsync("/");
        await Expect(ent.Locator("#total-delivered")).ToHaveTextAsync("1", new() { Timeout = 30_000 });
        await Expect(ent.Locator("#report-chart svg")).ToBeVisibleAsync();
        await ent.ShotAsync("flow-enterprise-dashboard");

        // The search exports as a spreadsheet and the statistics as CSV, as downloads the browser shows.
        await ent.GotoAsync("/messages");
        await Expect(ent.Locator("#messages")).ToContainTextAsync("8613800138000");
        var xlsx = await ent.RunAndWaitForDownloadAsync(() => ent.ClickAsync("#export-xlsx"));
        Assert.Equal("messages.xlsx", xlsx.SuggestedFilename);
        Assert.Equal("PK"u8.ToArray(), (await File.ReadAllBytesAsync((await xlsx.PathAsync())!))[..2]);
        await ent.GotoAsync("/reports");
        await Expect(ent.Locator("#report-rows")).ToBeVisibleAsync();
        var csv = await ent.RunAndWaitForDownloadAsync(() => ent.ClickAsync("#report-export"));
        Assert.Contains("total,1,1,0,1,5,1", await File.ReadAllTextAsync((await csv.PathAsync())!));

        // Signing out ends the session: the same cookie opens nothing afterwards.
        await ent.ClickAsync("#sign-out");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
        await ent.GotoAsync("/send");
        await Expect(ent).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
    }

    private static readonly string[] OperatorPages =
        ["/", "/admin/enterprises", "/admin/users", "/admin/integration-keys", "/admin/blacklist", "/admin/sensitive-words", "/admin/reviews", "/admin/connectors", "/admin/routing", "/admin/roles", "/admin/audit", "/admin/reports", "/simulator"];

    private static readonly string[] EnterprisePages =
        ["/", "/send", "/jobs", "/messages", "/inbox", "/signatures", "/templates", "/opt-outs", "/test-numbers", "/onhook", "/profile", "/balance", "/api-keys", "/webhook", "/users", "/reports"];

    /// <summary>A new person of the enterprise with that role, signed in on a page of their own.</summary>
    private async Task<IPage> SignedInAsync(XingeServer server, Tenant tenant, string role = "enterprise_admin")
    {
        var (username, password) = await PersonAsync(server, tenant, role);
        var page = await browser.NewPageAsync(server.BaseAddress);
        await page.SignInAsync(username, password);
        return page;
    }

    /// <summary>A person of an enterprise with a password of their own (the issued one changed through the API).</summary>
    private static async Task<(string Username, string Password)> PersonAsync(XingeServer server, Tenant tenant, string role)
    {
        var username = role + Guid.NewGuid().ToString("N")[..6];
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/users", new { username, password = "Issued-Pass-2026", role })).EnsureSuccessStatusCode();
        var token = (await (await server.Http.PostAsJsonAsync("/api/v1/auth/token", new { username, password = "Issued-Pass-2026" })).Content.ReadFromJsonAsync<JsonObject>())!.Str("token");
        var person = server.Client(token);
        (await person.PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = "Issued-Pass-2026", newPassword = "Own-Pass-2026-x" })).EnsureSuccessStatusCode();
        return (username, "Own-Pass-2026-x");
    }

    /// <summary>Every main page opens for its people in Chinese and in English, at desktop and at phone width, with no error shown.</summary>
    [Fact]
    public async Task Every_main_page_opens_in_both_languages_and_at_phone_width()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        await tenant.SendAsync(new { to = "13800138001", signature = tenant.Signature, category = "notification", text = "截图用的短信" });
        var (username, password) = await PersonAsync(server, tenant, "enterprise_admin");
        foreach (var (who, user, secret, pages) in new[] { ("operator", "admin", XingeServer.AdminPassword, OperatorPages), ("enterprise", username, password, EnterprisePages) })
        {
            foreach (var (width, suffix) in new[] { (1280, ""), (390, "-phone") })
            {
                var page = await browser.NewPageAsync(server.BaseAddress, width, 844);
                await page.SignInAsync(user, secret);
                await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
                foreach (var lang in new[] { "zh-CN", "en" })
                {
                    foreach (var path in suffix == "" ? pages : pages.Take(3))
                    {
                        await page.GotoAsync($"{path}?lang={lang}");
                        await Expect(page.Locator("h1, .mud-typography-h5").First).ToBeVisibleAsync();
                        await Expect(page.Locator("#denied")).ToHaveCountAsync(0);
                        await Expect(page.Locator(".mud-alert-filled-error, .mud-snackbar.mud-alert-filled-error")).ToHaveCountAsync(0);
                        Assert.Equal(lang, await page.Locator("html").GetAttributeAsync("lang"));
                        var name = path == "/" ? "dashboard" : path.Trim('/').Replace('/', '-');
                        await page.ShotAsync($"{who}-{name}-{lang}{suffix}");
                    }
                }
                await page.Context.CloseAsync();
            }
        }
    }

    /// <summary>
    /// ?lang= switches the browser's language and it stays for the next pages; the switch in the bar also keeps the
    /// choice with the person, so it comes with them to another browser.
    /// </summary>
    [Fact]
    public async Task The_language_chosen_is_remembered_for_the_browser_and_the_person()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var page = await browser.NewPageAsync(server.BaseAddress);
        await page.GotoAsync("/signin?lang=en");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Sign in");
        await page.SignInAsync("admin", XingeServer.AdminPassword);
        await Expect(page.Locator("#dashboard")).ToHaveTextAsync("Dashboard");
        await page.GotoAsync("/admin/enterprises");
        await Expect(page.Locator(".mud-nav-link", new() { HasText = "Enterprises" })).ToBeVisibleAsync();

        // Another browser, Chinese by its own settings: ?lang= was this browser's choice only.
        var elsewhere = await browser.NewPageAsync(server.BaseAddress);
        await elsewhere.SignInAsync("admin", XingeServer.AdminPassword);
        await Expect(elsewhere.Locator("#dashboard")).ToHaveTextAsync("概览");
        // The switch in the bar is the person's choice: it stays on this page, and comes with them to the first browser.
        await elsewhere.GotoAsync("/admin/audit");
        await elsewhere.ClickAsync("#switch-language");
        await Expect(elsewhere).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/admin/audit$"));
        await Expect(elsewhere.Locator(".mud-nav-link", new() { HasText = "Enterprises" })).ToBeVisibleAsync();
        var third = await browser.NewPageAsync(server.BaseAddress);
        await third.SignInAsync("admin", XingeServer.AdminPassword);
        await Expect(third.Locator("#dashboard")).ToHaveTextAsync("Dashboard");

        await page.ClickAsync("#switch-language");
        await Expect(page.Locator(".mud-nav-link", new() { HasText = "企业" })).ToBeVisibleAsync();
        await page.GotoAsync("/");
        await Expect(page.Locator("#dashboard")).ToHaveTextAsync("概览");
    }

    /// <summary>
    /// A user without a right sees no menu for it and is refused at its address; a person of one enterprise cannot
    /// reach another's objects by editing a URL; the portal's cookie opens no API call.
    /// </summary>
    [Fact]
    public async Task Rights_and_tenants_hold_in_the_portal_whatever_the_url()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var mine = await server.CreateTenantAsync();
        var theirs = await server.CreateTenantAsync();
        var theirJob = (await theirs.SendAsync(new { to = new[] { "13800138002", "13800138003" }, signature = theirs.Signature, category = "notification", text = "别人的短信" })).Str("jobId");
        var page = await SignedInAsync(server, mine, "enterprise_user");
        await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();

        // An enterprise user may send and read, not manage people, keys or the webhook, and nothing of the operator's.
        var menu = page.Locator(".mud-navmenu");
        await Expect(menu).ToContainTextAsync("发送短信");
        foreach (var hidden in new[] { "用户", "API 密钥", "回调设置", "企业", "审核队列", "模拟手机" })
            await Expect(menu.Locator(".mud-nav-link", new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^\\s*" + System.Text.RegularExpressions.Regex.Escape(hidden) + "\\s*$") })).ToHaveCountAsync(0);
        foreach (var path in new[] { "/users", "/api-keys", "/webhook", "/admin/enterprises", "/admin/reviews", "/admin/audit", "/simulator", "/admin/reports" })
        {
            await page.GotoAsync(path);
            await Expect(page.Locator("#denied")).ToBeVisibleAsync();
        }

        // Another enterprise's job by its id: nothing of it shows, nor exports.
        await page.GotoAsync($"/messages?jobId={theirJob}");
        await Expect(page.Locator("#messages")).ToContainTextAsync("暂无数据");
        await Expect(page.Locator("#messages")).Not.ToContainTextAsync("13800138002");
        var export = await page.APIRequest.GetAsync($"/download/api/v1/messages/export?format=csv&jobId={theirJob}");
        Assert.Equal(200, export.Status);
        Assert.DoesNotContain("8613800138002", await export.TextAsync());
        Assert.Equal(404, (await page.APIRequest.GetAsync("/download/api/v1/balance")).Status);

        // The cookie is the portal's: the JSON API asks for a bearer even from the signed-in browser.
        Assert.Equal(401, (await page.APIRequest.GetAsync("/api/v1/balance")).Status);
        Assert.Equal(401, (await page.APIRequest.PostAsync("/api/v1/messages", new() { DataObject = new { to = "13800138004", signature = mine.Signature, text = "x" } })).Status);
    }

    /// <summary>An open page follows its session: signed out elsewhere (here: its password reset by the operator), it goes back to the sign-in.</summary>
    [Fact]
    public async Task A_session_ended_elsewhere_ends_in_the_open_portal()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        var (username, password) = await PersonAsync(server, tenant, "enterprise_admin");
        var page = await browser.NewPageAsync(server.BaseAddress);
        await page.SignInAsync(username, password);
        await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
        var users = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}/users"))!["items"]!.AsArray();
        var id = users.Single(u => u.Str("username") == username)!.Long("id");
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/users/{id}/disable", new { })).EnsureSuccessStatusCode();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"), new() { Timeout = 20_000 });
        await page.SignInAsync(username, password);
        await Expect(page.Locator(".plain-error")).ToBeVisibleAsync();
    }

    /// <summary>Signing in and reaching the send button take the keyboard alone.</summary>
    [Fact]
    public async Task The_portal_works_from_the_keyboard()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        var (username, password) = await PersonAsync(server, tenant, "enterprise_admin");
        var page = await browser.NewPageAsync(server.BaseAddress);
        await page.GotoAsync("/signin");
        await page.Keyboard.TypeAsync(username);
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync(password);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
        await page.GotoAsync("/send");
        await Expect(page.Locator("#send")).ToBeVisibleAsync();
        for (var i = 0; i < 60 && await page.EvaluateAsync<string>("document.activeElement?.id ?? ''") != "send"; i++) await page.Keyboard.PressAsync("Tab");
        Assert.Equal("send", await page.EvaluateAsync<string>("document.activeElement?.id ?? ''"));
    }

    /// <summary>The operator trusts an enterprise's content, sets one of its flow limits, and routes a network to a connector; the enterprise sees its limit.</summary>
    [Fact]
    public async Task The_operator_trusts_an_enterprise_sets_its_limits_and_routes_a_network()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync(reviewed: true);
        var op = await browser.NewPageAsync(server.BaseAddress);
        await op.SignInAsync("admin", XingeServer.AdminPassword);
        await op.GotoAsync("/admin/enterprises");
        await op.ClickAsync($"#open-{tenant.Id}");
        await op.ClickAsync("#review-exempt");
        await Expect(op.Locator("#exempt-chip")).ToBeVisibleAsync();
        await op.EnterAsync("#limit-notification_per_day", "20");
        await op.ClickAsync("#save-limits");
        await op.SnackAsync("已保存");
        await op.ShotAsync("operator-enterprise-limits");

        await op.GotoAsync("/admin/routing");
        await op.Locator("div.mud-select:has(#route-unicom)").First.ClickAsync();
        await op.Locator(".mud-popover-open .mud-list-item", new() { HasText = "simulator" }).First.ClickAsync();
        await op.ClickAsync("#save-routes");
        await op.SnackAsync("已保存");
        await op.EnterAsync("#lookup-number", "13012345678");
        await op.ClickAsync("#lookup");
        await Expect(op.Locator("#lookup-result")).ToContainTextAsync("中国联通 (号段) → simulator");
        await op.ShotAsync("operator-routing");

        var ent = await SignedInAsync(server, tenant);
        await ent.GotoAsync("/test-numbers");
        await Expect(ent.Locator("#limit-notification_per_day")).ToHaveTextAsync("20");
        await ent.EnterAsync("#test-numbers-input", "13800138900 13800138901");
        await ent.ClickAsync("#add-test-numbers");
        await Expect(ent.Locator("#test-numbers")).ToContainTextAsync("+8613800138901");
        var free = await tenant.SendAsync(new { to = "13800138900", signature = tenant.Signature, category = "notification", text = "免审的内容" });
        Assert.NotEqual("held", (await tenant.GetAsync($"/api/v1/messages/{free["messages"]![0].Str("id")}")).Str("status"));
    }

    /// <summary>A CSV file goes up with its bar, is summed up before sending (rows, valid, repeated, invalid, columns), and its rows get their own text.</summary>
    [Fact]
    public async Task An_enterprise_uploads_a_csv_and_sends_after_the_summary()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        var page = await SignedInAsync(server, tenant);
        await page.GotoAsync("/send");
        var csv = "姓名,手机号\n张三,13800138301\n李四,13800138302\n张三again,+86 138 0013 8301\n坏号,12345\n";
        await page.Locator(".job-file-input").SetInputFilesAsync(new FilePayload { Name = "客户.csv", MimeType = "text/csv", Buffer = Encoding.UTF8.GetBytes(csv) });
        await Expect(page.Locator("#file-summary")).ToContainTextAsync("4 行 · 有效: 2 · 已去重: 1 · 无效: 1");
        await Expect(page.Locator("#file-summary")).ToContainTextAsync("手机号列: 手机号 · 变量: 姓名");
        await page.FillAsync("#text", "${姓名}您好，您的会员积分已到账。");
        await Expect(page.Locator("#preview-text")).ToHaveTextAsync($"【{tenant.Signature}】张三您好，您的会员积分已到账。");
        await Expect(page.Locator("#count-total")).ToHaveTextAsync("0.10");
        await page.ShotAsync("flow-enterprise-upload");
        await page.ClickAsync("#send");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/jobs"));
        await Expect(page.Locator("#jobs .job-status").First).ToHaveTextAsync("已完成", new() { Timeout = 30_000 });
        await Expect(page.Locator("#jobs .job-counts").First).ToContainTextAsync("成功 2");
        var received = (await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/8613800138302/messages"))!;
        Assert.Equal($"【{tenant.Signature}】李四您好，您的会员积分已到账。", received.Single()!.Str("text"));
    }

    /// <summary>Pasted numbers are checked before sending (valid, repeated, not numbers); the job then shows its progress to the end.</summary>
    [Fact]
    public async Task A_bulk_job_from_pasted_numbers_shows_its_summary_first_and_its_progress_after()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        var page = await SignedInAsync(server, tenant);
        await page.GotoAsync("/send");
        await page.FillAsync("#numbers", "13800138101, 13800138102\n+8613800138102 13800138103；12345 not-a-number");
        await Expect(page.Locator("#numbers-summary")).ToContainTextAsync("有效: 3 · 已去重: 1 · 无效: 2");
        await page.FillAsync("#text", "群发测试");
        await Expect(page.Locator("#count-total")).ToHaveTextAsync("0.15");
        await page.ClickAsync("#send");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/jobs"));
        await Expect(page.Locator("#jobs .job-status").First).ToHaveTextAsync("已完成", new() { Timeout = 30_000 });
        await Expect(page.Locator("#jobs .job-counts").First).ToContainTextAsync("成功 3");
        await page.Locator("#jobs button[id^=details-]").First.ClickAsync();
        await Expect(page.Locator("#job-details")).ToContainTextAsync("成功 3");
        await page.ShotAsync("flow-enterprise-jobs");

        // A job that cannot finish yet (its phones are off) is paused, resumed and cancelled from the list.
        foreach (var n in new[] { "8613800138201", "8613800138202" })
            (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/{n}", new { reachable = false })).EnsureSuccessStatusCode();
        await page.GotoAsync("/send");
        await page.FillAsync("#numbers", "13800138201 13800138202");
        await page.FillAsync("#text", "关机测试");
        await page.ClickAsync("#send");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/jobs"));
        var newest = page.Locator("#jobs tbody tr").First;
        await Expect(newest.Locator(".job-status")).ToHaveTextAsync("发送中");
        await newest.Locator("button[id^=pause-]").ClickAsync();
        await Expect(newest.Locator(".job-status")).ToHaveTextAsync("已暂停");
        await newest.Locator("button[id^=resume-]").ClickAsync();
        await Expect(newest.Locator(".job-status")).ToHaveTextAsync("发送中");
        await newest.Locator("button[id^=cancel-]").ClickAsync();
        await Expect(newest.Locator(".job-status")).ToHaveTextAsync("已取消");
    }

    /// <summary>The operator keeps the platform blacklist in the portal: numbers typed in, a file imported with its bad rows shown, the whole list exported.</summary>
    [Fact]
    public async Task The_operator_keeps_the_platform_blacklist_in_the_portal()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var page = await browser.NewPageAsync(server.BaseAddress);
        await page.SignInAsync("admin", XingeServer.AdminPassword);
        await page.GotoAsync("/admin/blacklist");
        await page.FillAsync("#blacklist-numbers", "13900139001");
        await page.EnterAsync("#blacklist-reason", "用户投诉");
        await page.ClickAsync("#blacklist-add");
        await Expect(page.Locator("#blacklist")).ToContainTextAsync("+8613900139001");
        await page.Locator(".blacklist-input").SetInputFilesAsync(new FilePayload
        {
            Name = "黑名单.csv",
            MimeType = "text/csv",
            Buffer = Encoding.UTF8.GetBytes("号码,范围,原因\n13900139002,marketing,营销投诉\nabc,all,\n"),
        });
        await Expect(page.Locator("#upload-problems")).ToContainTextAsync("abc");
        await Expect(page.Locator("#blacklist")).ToContainTextAsync("+8613900139002");
        await Expect(page.Locator("#blacklist")).ToContainTextAsync("仅营销");
        var export = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#blacklist-export"));
        var text = await File.ReadAllTextAsync((await export.PathAsync())!);
        Assert.Contains("+8613900139001,all,用户投诉", text);
        Assert.Contains("+8613900139002,marketing,营销投诉", text);
        await page.ShotAsync("operator-admin-blacklist-flow");
    }

    /// <summary>A word listed to hold in the portal holds the message that has it; the operator approves it from the review queue and it reaches the phone.</summary>
    [Fact]
    public async Task A_held_message_is_approved_from_the_review_queue_and_reaches_the_phone()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        var tenant = await server.CreateTenantAsync();
        var page = await browser.NewPageAsync(server.BaseAddress);
        await page.SignInAsync("admin", XingeServer.AdminPassword);
        await page.GotoAsync("/admin/sensitive-words");
        await page.FillAsync("#words-new", "贷款");
        await page.Locator("div.mud-select:has(#words-action)").First.ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item", new() { HasText = "待审核" }).ClickAsync();
        await page.ClickAsync("#words-add");
        await Expect(page.Locator("#words")).ToContainTextAsync("贷款");

        var sent = await tenant.SendAsync(new { to = "13600136001", signature = tenant.Signature, category = "notification", text = "低息贷款，当天放款" });
        var id = sent["messages"]![0].Str("id");
        Assert.Equal("held", (await tenant.GetAsync($"/api/v1/messages/{id}")).Str("status"));
        await page.GotoAsync("/admin/reviews");
        await Expect(page.Locator("#reviews")).ToContainTextAsync("content_held:贷款");
        await page.ShotAsync("operator-admin-reviews-held");
        await page.Locator("#reviews button[id^=approve-]").First.ClickAsync();
        await tenant.WaitForStatusAsync(id, "delivered");
        await page.GotoAsync("/simulator");
        await Expect(page.Locator("#phone-8613600136001")).ToContainTextAsync("低息贷款，当天放款");
    }
}
