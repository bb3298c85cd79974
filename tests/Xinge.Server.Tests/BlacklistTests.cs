using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Xinge.Server.Tests;

public sealed class SqliteBlacklistTests(SqliteFixture fixture) : BlacklistTests(fixture.Server, "1360040"), IClassFixture<SqliteFixture>;

public sealed class PostgresBlacklistTests(PostgresFixture fixture) : BlacklistTests(fixture.Server, "1360050"), IClassFixture<PostgresFixture>;

/// <summary>R-S1-16: the operator's platform blacklist beats every enterprise, on every node, and is imported and exported.</summary>
public abstract class BlacklistTests(XingeServer server, string numberBase)
{
    private static int _next;
    private string NewNumber() => numberBase + Interlocked.Increment(ref _next).ToString("D4");

    private static async Task<JsonObject> SendAsync(HttpClient client, Tenant tenant, string to, string category) =>
        (await (await client.PostAsJsonAsync("/api/v1/messages", new { to, signature = tenant.Signature, category, text = "黑名单测试 " + Guid.NewGuid().ToString("N")[..6] })).Content.ReadFromJsonAsync<JsonObject>())!;

    [Fact]
    public async Task A_blacklisted_number_is_refused_by_name_for_its_scope_on_every_node_until_removed()
    {
        var tenant = await server.CreateTenantAsync();
        await using var second = await server.StartSecondNodeAsync();
        var there = second.Client(tenant.ApiKey);
        var (all, marketing) = (NewNumber(), NewNumber());
        Assert.Empty((await SendAsync(there, tenant, all, "notification"))["rejected"]!.AsArray());

        var added = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/blacklist", new { numbers = new[] { all, "not-a-number" }, reason = "投诉" });
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        var change = (await added.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(1, change["added"]!.GetValue<int>());
        Assert.Equal((2, "invalid_number"), (change["invalid"]![0]!["line"]!.GetValue<int>(), change["invalid"]![0].Str("reason")));
        (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/blacklist", new { numbers = new[] { marketing }, scope = "marketing" })).EnsureSuccessStatusCode();

        foreach (var category in new[] { "otp", "notification", "marketing" })
        {
            var refused = await SendAsync(tenant.Client, tenant, all, category);
            Assert.Equal("blacklisted:platform", refused["rejected"]![0].Str("reason"));
        }
        Assert.Equal("blacklisted:platform", (await SendAsync(tenant.Client, tenant, marketing, "marketing"))["rejected"]![0].Str("reason"));
        Assert.Empty((await SendAsync(tenant.Client, tenant, marketing, "notification"))["rejected"]!.AsArray());
        await Wait.Until(async () => (await SendAsync(there, tenant, all, "notification"))["rejected"]!.AsArray().Count == 1, "the other node refuses too", seconds: 10);

        var found = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/blacklist?q={all}"))!["items"]!.AsArray();
        Assert.Equal(("+86" + all, "all", "投诉"), (found[0].Str("msisdn"), found[0].Str("scope"), found[0].Str("reason")));
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync($"/api/v1/admin/blacklist/%2B86{all}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Admin.DeleteAsync($"/api/v1/admin/blacklist/%2B86{all}")).StatusCode);
        Assert.Empty((await SendAsync(tenant.Client, tenant, all, "marketing"))["rejected"]!.AsArray());
        await Wait.Until(async () => (await SendAsync(there, tenant, all, "notification"))["rejected"]!.AsArray().Count == 0, "the other node lets it go again", seconds: 10);

        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.GetAsync("/api/v1/admin/blacklist")).StatusCode);
        foreach (var bad in new object[] { new { numbers = Array.Empty<string>() }, new { numbers = new[] { all }, scope = "sometimes" }, new { numbers = new[] { all }, reason = new string('x', 300) } })
            Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/blacklist", bad)).StatusCode);
    }

    [Fact]
    public async Task The_blacklist_imports_from_a_csv_file_and_exports_to_one()
    {
        var admin = server.Client(await server.AdminTokenAsync());
        var (a, b) = (NewNumber(), NewNumber());
        var csv = $"\uFEFF号码,范围,原因\r\n{a},all,投诉\r\n+86{b},marketing\r\n12345,all,\r\n{a},sometimes,\r\n";
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        var imported = await admin.PutAsync("/api/v1/admin/blacklist/import", new MultipartFormDataContent { { file, "file", "blacklist.csv" } });
        Assert.True(imported.IsSuccessStatusCode, await imported.Content.ReadAsStringAsync());
        var change = (await imported.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(2, change["added"]!.GetValue<int>());
        Assert.Equal([4, 5], change["invalid"]!.AsArray().Select(p => p!["line"]!.GetValue<int>()));

        var export = await admin.GetAsync("/api/v1/admin/blacklist/export");
        Assert.Equal("text/csv", export.Content.Headers.ContentType!.MediaType);
        var lines = (await export.Content.ReadAsStringAsync()).TrimStart('\uFEFF').Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("number,scope,reason,added_at,added_by", lines[0]);
        Assert.Contains(lines, l => l.StartsWith($"'+86{a},all,投诉,", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"'+86{b},marketing,,", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await admin.PutAsJsonAsync("/api/v1/admin/blacklist/import", new { })).StatusCode);
    }

    [Fact]
    public async Task Replies_opt_out_and_back_in_whatever_the_keyboard_did_and_the_list_imports_and_exports()
    {
        var tenant = await server.CreateTenantAsync();
        var n = NewNumber();
        var first = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "欢迎" });
        var from = (await tenant.WaitForStatusAsync(first["messages"]![0].Str("id"), "delivered")).Str("from");
        async Task ReplyAsync(string text, int count)
        {
            (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/86{n}/messages", new { to = from, text })).EnsureSuccessStatusCode();
            await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Count == count, $"reply {text} arrives");
        }
        async Task<string?> MarketingRefusalAsync() =>
            (await SendAsync(tenant.Client, tenant, n, "marketing"))["rejected"]!.AsArray().FirstOrDefault()?.Str("reason");

        await ReplyAsync(" ＴＤ。", 1);
        Assert.Equal("opted_out", await MarketingRefusalAsync());
        Assert.Empty((await SendAsync(tenant.Client, tenant, n, "notification"))["rejected"]!.AsArray());
        Assert.Equal("+86" + n, (await tenant.Client.GetFromJsonAsync<JsonObject>($"/api/v1/opt-outs?q={n}"))!["items"]![0].Str("msisdn"));
        await ReplyAsync("start!", 2);
        Assert.Null(await MarketingRefusalAsync());
        await ReplyAsync("【退订】", 3);
        Assert.Equal("opted_out", await MarketingRefusalAsync());
        await ReplyAsync("订阅", 4);
        Assert.Null(await MarketingRefusalAsync());

        // Numbers that opted out elsewhere come in as a file; the list goes out as one.
        var other = NewNumber();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes($"手机号\r\n{other}\r\nnope\r\n"));
        var imported = await tenant.Client.PutAsync("/api/v1/opt-outs/import", new MultipartFormDataContent { { file, "file", "opt-outs.csv" } });
        var change = (await imported.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(1, change["added"]!.GetValue<int>());
        Assert.Equal(3, change["invalid"]![0]!["line"]!.GetValue<int>());
        Assert.Equal("opted_out", (await SendAsync(tenant.Client, tenant, other, "marketing"))["rejected"]![0].Str("reason"));
        var export = await (await tenant.Client.GetAsync("/api/v1/opt-outs/export")).Content.ReadAsStringAsync();
        Assert.Contains($"'+86{other},", export);
        Assert.DoesNotContain($"+86{n},", export);
        // Another enterprise's list is its own.
        var stranger = await server.CreateTenantAsync();
        Assert.Empty((await stranger.Client.GetFromJsonAsync<JsonObject>("/api/v1/opt-outs"))!["items"]!.AsArray());
        Assert.Null((await SendAsync(stranger.Client, stranger, other, "marketing"))["rejected"]!.AsArray().FirstOrDefault());
    }
}
