using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Xinge.Server.Tests.Portal;

public sealed class SqlitePortalApiTests(SqliteFixture fixture) : PortalApiTests(fixture.Server, "1370020"), IClassFixture<SqliteFixture>;

public sealed class PostgresPortalApiTests(PostgresFixture fixture) : PortalApiTests(fixture.Server, "1370030"), IClassFixture<PostgresFixture>;

/// <summary>The API the portal's pages stand on: statistics, exports, the statement, the inbox browsed newest first, the webhook test.</summary>
public abstract class PortalApiTests(XingeServer server, string numberBase)
{
    private static int _next;
    private string NewNumber() => numberBase + Interlocked.Increment(ref _next).ToString("D4");

    [Fact]
    public async Task Reports_count_each_settled_message_once_per_day_connector_and_reason_for_its_enterprise_only()
    {
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        var (a, b, c) = (NewNumber(), NewNumber(), NewNumber());
        (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/86{c}", new { reachable = true, deliveryFailure = "undeliverable" })).EnsureSuccessStatusCode();
        var ids = new List<string>();
        foreach (var n in new[] { a, b, c })
            ids.Add((await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "您的订单已发货" }))["messages"]![0].Str("id"));
        await tenant.WaitForStatusAsync(ids[0], "delivered");
        await tenant.WaitForStatusAsync(ids[1], "delivered");
        var failed = await tenant.WaitForStatusAsync(ids[2], "failed", "rejected", "expired");
        var price = failed.Long("price");

        // Counted in the transaction that ended each message: no waiting once the messages show their end.
        var report = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/reports"))!;
        var total = report["total"]!;
        Assert.Equal((3L, 2L, 1L, 2 * price), (total.Long("messages"), total.Long("delivered"), total.Long("failed"), total.Long("revenue")));
        Assert.Equal(7, report["rows"]!.AsArray().Count);
        Assert.Equal(1L, Assert.Single(report["failures"]!.AsArray())!.Long("messages"));
        var byConnector = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/reports?by=connector"))!;
        Assert.Equal("simulator", Assert.Single(byConnector["rows"]!.AsArray())!.Str("key"));
        var hourly = (await tenant.Client.GetFromJsonAsync<JsonObject>($"/api/v1/reports?by=hour&from={report.Str("to")}&to={report.Str("to")}"))!;
        Assert.Equal(24, hourly["rows"]!.AsArray().Count);
        Assert.Equal(3L, hourly["rows"]!.AsArray().Sum(r => r!.Long("messages")));

        // Another enterprise sees only its own; the operator sees every enterprise, or one.
        Assert.Equal(0L, (await other.Client.GetFromJsonAsync<JsonObject>("/api/v1/reports"))!["total"]!.Long("messages"));
        var platform = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/reports?by=enterprise&enterpriseId={tenant.Id}"))!;
        Assert.Equal(tenant.Id.ToString(), Assert.Single(platform["rows"]!.AsArray())!.Str("key"));
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.GetAsync("/api/v1/admin/reports")).StatusCode);

        var csv = await tenant.Client.GetAsync("/api/v1/reports?format=csv&by=category");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimStart('\uFEFF').Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["category,messages,delivered,failed,segments,revenue_fen,delivery_rate", $"notification,3,2,1,3,{2 * price},0.6667", $"total,3,2,1,3,{2 * price},0.6667"], lines);

        foreach (var bad in new[] { "by=week", "from=2026-13-01", "to=9999-12-31", "from=0001-01-01", "from=2026-12-10&to=2026-12-01", "from=2024-01-01&to=2026-01-01", "by=hour&from=2026-01-01&to=2026-03-01", "format=pdf" })
            Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Client.GetAsync("/api/v1/reports?" + bad)).StatusCode);
    }

    [Fact]
    public async Task A_search_exports_as_csv_and_xlsx_with_only_the_enterprises_own_messages()
    {
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        var job = (await tenant.SendAsync(new
        {
            to = new[] { NewNumber(), NewNumber(), NewNumber() },
            signature = tenant.Signature,
            category = "notification",
            text = "导出测试",
            clientRef = "=HYPERLINK(\"x\")"
        })).Str("jobId");

        var csv = await tenant.Client.GetAsync($"/api/v1/messages/export?format=csv&jobId={job}");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        var bytes = await csv.Content.ReadAsByteArrayAsync();
        Assert.Equal([0xEF, 0xBB, 0xBF], bytes[..3]);
        var lines = Encoding.UTF8.GetString(bytes[3..]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("id,job_id,to,from,category,status", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.All(lines[1..], l => Assert.Contains(job, l));
        // What the enterprise wrote stays text in a spreadsheet: a formula is defused.
        Assert.All(lines[1..], l => Assert.EndsWith(",\"'=HYPERLINK(\"\"x\"\")\"", l));

        var xlsx = await tenant.Client.GetAsync($"/api/v1/messages/export?format=xlsx&jobId={job}");
        Assert.Equal("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx.Content.Headers.ContentType!.MediaType);
        using var zip = new System.IO.Compression.ZipArchive(new MemoryStream(await xlsx.Content.ReadAsByteArrayAsync()));
        var sheet = new StreamReader(zip.Entries.First(e => e.FullName.StartsWith("xl/worksheets/", StringComparison.Ordinal)).Open()).ReadToEnd();
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(sheet, "<x:row |<row ").Count);
        Assert.DoesNotContain("<x:f>", sheet);
        Assert.DoesNotContain("<f>", sheet);

        var foreign = await (await other.Client.GetAsync($"/api/v1/messages/export?format=csv&jobId={job}")).Content.ReadAsStringAsync();
        Assert.Single(foreign.Split("\r\n", StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Client.GetAsync("/api/v1/messages/export?format=pdf")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Client.GetAsync("/api/v1/messages/export?format=csv&to=not-a-number")).StatusCode);
    }

    [Fact]
    public async Task Replies_browse_newest_first_and_the_statement_lists_each_movement_of_money()
    {
        var tenant = await server.CreateTenantAsync();
        var n = NewNumber();
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "请回复" });
        var m = await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "delivered");
        foreach (var text in new[] { "一", "二", "三" })
        {
            (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/86{n}/messages", new { to = m.Str("from"), text })).EnsureSuccessStatusCode();
            await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Any(r => r.Str("text") == text), $"reply {text} arrives");
        }
        var newest = (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound?before=0&limit=2"))!;
        Assert.Equal(["三", "二"], newest.Select(r => r.Str("text")));
        var older = (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/inbound?before={newest[1].Str("id")}"))!;
        Assert.Equal(["一"], older.Select(r => r.Str("text")));
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Client.GetAsync("/api/v1/inbound?before=1&after=1")).StatusCode);

        var statement = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/ledger/entries?limit=1"))!;
        var entry = Assert.Single(statement["items"]!.AsArray())!;
        Assert.Equal("charge", entry.Str("kind"));
        var all = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/ledger/entries"))!["items"]!.AsArray();
        Assert.Equal(["charge", "reserve", "credit"], all.Select(e => e.Str("kind")));
        Assert.Equal(100_000L, all[2].Long("amount"));
        var page2 = (await tenant.Client.GetFromJsonAsync<JsonObject>($"/api/v1/ledger/entries?limit=1&cursor={statement.Str("next")}"))!;
        Assert.Equal("reserve", page2["items"]![0].Str("kind"));
    }

    [Fact]
    public async Task A_test_event_reaches_the_webhook_signed_and_reports_what_the_endpoint_answered()
    {
        var tenant = await server.CreateTenantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Client.PostAsync("/api/v1/webhook/test", null)).StatusCode);
        await using var hook = await HttpSink.StartAsync(failFirst: true);
        const string secret = "webhook-secret-test-0123";
        (await tenant.Client.PutAsJsonAsync("/api/v1/webhook", new { url = hook.Url + "/hook", secret })).EnsureSuccessStatusCode();

        var first = (await (await tenant.Client.PostAsync("/api/v1/webhook/test", null)).Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.False(first["ok"]!.GetValue<bool>());
        Assert.Equal(503, first["status"]!.GetValue<int>());
        var second = (await (await tenant.Client.PostAsync("/api/v1/webhook/test", null)).Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(second["ok"]!.GetValue<bool>());
        var (_, _, body, signature) = Assert.Single(hook.On("/hook"));
        Assert.Equal("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body))), signature);
        Assert.Equal("test", JsonNode.Parse(body).Str("type"));
    }

    [Fact]
    public async Task Enterprises_list_a_page_at_a_time_and_search_by_name()
    {
        var admin = server.Client(await server.AdminTokenAsync());
        var tag = Guid.NewGuid().ToString("N")[..8];
        foreach (var i in Enumerable.Range(1, 3))
            (await admin.PostAsJsonAsync("/api/v1/admin/enterprises", new { name = $"Paging {tag} {i}", licenceNumber = PlatformClient.NewLicence() })).EnsureSuccessStatusCode();
        var first = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises?q={tag}&limit=2"))!;
        Assert.Equal([$"Paging {tag} 3", $"Paging {tag} 2"], first["items"]!.AsArray().Select(e => e.Str("name")));
        var second = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises?q={tag}&limit=2&cursor={first.Str("next")}"))!;
        Assert.Equal([$"Paging {tag} 1"], second["items"]!.AsArray().Select(e => e.Str("name")));
        Assert.Null(second["next"]);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/api/v1/admin/enterprises?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/api/v1/admin/enterprises?cursor=nonsense")).StatusCode);
    }

    [Fact]
    public async Task Only_this_process_may_say_whom_a_request_is_for()
    {
        var user = "forger" + Guid.NewGuid().ToString("N")[..6];
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/token") { Content = JsonContent.Create(new { username = user, password = "wrong-password-1" }) };
        request.Headers.Add("X-Xinge-Portal", "guessed-secret");
        request.Headers.Add("X-Xinge-Portal-For", "10.9.9.9");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http.SendAsync(request)).StatusCode);
        var admin = server.Client(await server.AdminTokenAsync());
        var audit = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/audit?actor=user:{user}"))!;
        Assert.Equal("127.0.0.1", Assert.Single(audit["items"]!.AsArray())!.Str("source"));
    }

    [Fact]
    public async Task Suspending_an_enterprise_stops_its_sending_on_every_node_and_a_new_price_holds_everywhere()
    {
        var tenant = await server.CreateTenantAsync();
        await using var second = await server.StartSecondNodeAsync();
        var there = second.Client(tenant.ApiKey);
        async Task<HttpResponseMessage> SendThereAsync() =>
            await there.PostAsJsonAsync("/api/v1/messages", new { to = NewNumber(), signature = tenant.Signature, category = "notification", text = "暂停测试" });
        Assert.Equal(HttpStatusCode.Accepted, (await SendThereAsync()).StatusCode);

        var suspended = await tenant.Admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { suspended = true });
        Assert.True(suspended.IsSuccessStatusCode, await suspended.Content.ReadAsStringAsync());
        Assert.True((await suspended.Content.ReadFromJsonAsync<JsonObject>())!["suspended"]!.GetValue<bool>());
        var refused = await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = NewNumber(), signature = tenant.Signature, category = "notification", text = "暂停测试" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("enterprise-suspended", await refused.Content.ReadAsStringAsync());
        await Wait.Until(async () => (await SendThereAsync()).StatusCode == HttpStatusCode.Forbidden, "the other node refuses too", seconds: 10);
        // It still reads its own data.
        Assert.Equal(HttpStatusCode.OK, (await tenant.Client.GetAsync("/api/v1/messages")).StatusCode);

        (await tenant.Admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { suspended = false, unitPrice = 7 })).EnsureSuccessStatusCode();
        JsonObject? sent = null;
        await Wait.Until(async () =>
        {
            var r = await SendThereAsync();
            if (r.StatusCode != HttpStatusCode.Accepted) return false;
            sent = (await r.Content.ReadFromJsonAsync<JsonObject>())!;
            return sent["messages"]![0].Long("price") == 7;
        }, "the other node sends again at the new price", seconds: 10);

        foreach (var bad in new object[] { new { maxHotlines = 1001 }, new { }, new { unitPrice = -1 } })
            Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", bad)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Admin.PatchAsJsonAsync("/api/v1/admin/enterprises/999999999", new { suspended = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { suspended = false })).StatusCode);
        var audit = (await tenant.Admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/audit?action=enterprise.updated"))!["items"]!.AsArray();
        Assert.Contains(audit, a => a.Str("target") == $"enterprise:{tenant.Id}" && a.Str("detail") == "suspended");
    }

    [Fact]
    public async Task The_licence_document_goes_from_the_enterprise_to_the_operator_and_nothing_else_is_taken_for_one()
    {
        var tenant = await server.CreateTenantAsync(verify: false);
        var other = await server.CreateTenantAsync();
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.Concat(RandomNumberGenerator.GetBytes(1000)).ToArray();
        async Task<HttpResponseMessage> UploadAsync(byte[] content, string name = "licence.png", string type = "image/png")
        {
            var file = new ByteArrayContent(content);
            file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(type);
            return await tenant.Client.PutAsync("/api/v1/enterprise/licence-document", new MultipartFormDataContent { { file, "file", name } });
        }
        Assert.Null((await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/enterprise"))!["licenceDocument"]);
        var uploaded = await UploadAsync(png, "执照.png", "application/pdf");
        Assert.True(uploaded.IsSuccessStatusCode, await uploaded.Content.ReadAsStringAsync());
        var profile = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/enterprise"))!;
        Assert.False(profile["verified"]!.GetValue<bool>());
        Assert.Null(profile["verificationNote"]);
        Assert.Equal(("执照.png", "image/png", 1008L), (profile["licenceDocument"].Str("fileName"), profile["licenceDocument"].Str("contentType"), profile["licenceDocument"].Long("size")));

        // The operator does not verify it yet, and says why; the enterprise sees the reason until it is verified.
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/reject-verification", new { reason = "" })).StatusCode);
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/reject-verification", new { reason = "执照扫描件不清晰" })).EnsureSuccessStatusCode();
        Assert.Equal("执照扫描件不清晰", (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/enterprise"))!.Str("verificationNote"));
        (await tenant.Admin.PostAsync($"/api/v1/admin/enterprises/{tenant.Id}/verify", null)).EnsureSuccessStatusCode();
        Assert.Null((await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/enterprise"))!["verificationNote"]);
        Assert.Equal(HttpStatusCode.Conflict, (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/reject-verification", new { reason = "晚了" })).StatusCode);

        var document = await tenant.Admin.GetAsync($"/api/v1/admin/enterprises/{tenant.Id}/licence-document");
        Assert.Equal(png, await document.Content.ReadAsByteArrayAsync());
        Assert.Equal("image/png", document.Content.Headers.ContentType!.MediaType);
        Assert.Equal("attachment", document.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal("nosniff", document.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(HttpStatusCode.Forbidden, (await other.Client.GetAsync($"/api/v1/admin/enterprises/{tenant.Id}/licence-document")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Admin.GetAsync($"/api/v1/admin/enterprises/{other.Id}/licence-document")).StatusCode);

        Assert.Equal(HttpStatusCode.BadRequest, (await UploadAsync("<html><script>alert(1)</script>"u8.ToArray(), "x.pdf", "application/pdf")).StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await UploadAsync([.. "%PDF-"u8, .. new byte[5 * 1024 * 1024]])).StatusCode);
        var cut = new StringContent("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-", Encoding.UTF8);
        cut.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Client.PutAsync("/api/v1/enterprise/licence-document", cut)).StatusCode);
        var json = await tenant.Client.PutAsync("/api/v1/enterprise/licence-document", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Equal("application/problem+json", json.Content.Headers.ContentType!.MediaType);
        Assert.Contains("multipart", await json.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_removed_smpp_account_loses_its_sessions_on_every_node_and_binds_no_more()
    {
        var tenant = await server.CreateTenantAsync();
        await using var second = await server.StartSecondNodeAsync();
        var systemId = "rm" + Guid.NewGuid().ToString("N")[..8];
        var created = await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password = "pw123456" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!.Long("id");
        var listed = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts"))!["items"]!.AsArray();
        Assert.Equal(systemId, Assert.Single(listed)!.Str("systemId"));

        var here = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transceiver, systemId, "pw123456", "", new Inbox(), null, default);
        var there = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", second.SmppPort, Xinge.Smpp.BindType.Transceiver, systemId, "pw123456", "", new Inbox(), null, default);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Admin.DeleteAsync($"/api/v1/admin/enterprises/{tenant.Id + 1000}/smpp-accounts/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts/{id}")).StatusCode);
        await here.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await there.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var refused = await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() =>
            Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transceiver, systemId, "pw123456", "", new Inbox(), null, default));
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvpaswd, refused.Status);
        Assert.Empty((await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts"))!["items"]!.AsArray());
    }

    [Fact]
    public async Task A_job_tells_why_its_messages_failed_to_its_enterprise_only()
    {
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        var (a, b) = (NewNumber(), NewNumber());
        (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/86{b}", new { reachable = true, deliveryFailure = "undeliverable" })).EnsureSuccessStatusCode();
        var sent = await tenant.SendAsync(new { to = new[] { a, b }, signature = tenant.Signature, category = "notification", text = "任务失败原因" });
        var ended = new List<JsonObject>();
        foreach (var m in sent["messages"]!.AsArray()) ended.Add(await tenant.WaitForStatusAsync(m.Str("id"), "delivered", "failed", "rejected", "expired"));
        var failed = ended.Single(m => m.Str("to") == "+86" + b);
        var failures = (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{sent.Str("jobId")}/failures"))!;
        var only = Assert.Single(failures)!;
        Assert.Equal((failed["error"]?.GetValue<string>() ?? failed.Str("status"), 1L), (only.Str("reason"), only.Long("messages")));
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync($"/api/v1/jobs/{sent.Str("jobId")}/failures")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Client.GetAsync("/api/v1/jobs/nonsense/failures")).StatusCode);
    }
}
