using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Xinge.Server.Features.Compliance;

namespace Xinge.Server.Tests;

public sealed class SensitiveWordMatcherTests
{
    private static readonly SensitiveWordMatcher Matcher = new([("发票", WordAction.Refuse), ("代开发票", WordAction.Hold), ("casino", WordAction.Refuse), ("贷款", WordAction.Hold)]);

    [Theory]
    [InlineData("本公司可代开发票", "发票")]
    [InlineData("ＣＡＳＩＮＯ 开业", "casino")]
    [InlineData("Online Casino!", "casino")]
    [InlineData("低息贷款，另有发票", "发票")]
    public void A_word_to_refuse_is_found_whatever_its_width_and_case(string text, string word) =>
        Assert.Equal(new WordHit(word, WordAction.Refuse), Matcher.Find(text));

    [Fact]
    public void A_word_to_hold_is_found_when_none_to_refuse_is() => Assert.Equal(new WordHit("贷款", WordAction.Hold), Matcher.Find("低息贷款"));

    [Theory]
    [InlineData("您的验证码是 482913")]
    [InlineData("发 票")]
    [InlineData("")]
    public void Other_text_passes(string text) => Assert.Null(Matcher.Find(text));

    [Fact]
    public void Ten_thousand_words_match_like_one()
    {
        var words = Enumerable.Range(0, 10_000).Select(i => ($"词{i:D5}", WordAction.Refuse)).Append(("违禁", WordAction.Refuse));
        var big = new SensitiveWordMatcher(words);
        Assert.Equal(10_001, big.Count);
        Assert.Equal("违禁", big.Find("这是一条含有违禁内容的短信")!.Value.Word);
        Assert.Equal("词09999", big.Find("……词09999……")!.Value.Word);
        Assert.Null(big.Find("这是一条正常的短信"));
    }
}

public sealed class SqliteSensitiveWordTests(SqliteFixture fixture) : SensitiveWordTests(fixture.Server), IClassFixture<SqliteFixture>;

public sealed class PostgresSensitiveWordTests(PostgresFixture fixture) : SensitiveWordTests(fixture.Server), IClassFixture<PostgresFixture>;

/// <summary>R-S1-7: the operator's words stop messages on every node, naming the word; the list imports and exports.</summary>
public abstract class SensitiveWordTests(XingeServer server)
{
    private static int _next;

    [Fact]
    public async Task A_listed_word_refuses_the_message_naming_it_on_every_node_until_removed()
    {
        var tenant = await server.CreateTenantAsync();
        await using var second = await server.StartSecondNodeAsync();
        var there = second.Client(tenant.ApiKey);
        var word = "违禁" + Guid.NewGuid().ToString("N")[..4];
        async Task<string?> RefusalAsync(HttpClient client, string text) =>
            (await (await client.PostAsJsonAsync("/api/v1/messages", new { to = "1350013" + Interlocked.Increment(ref _next).ToString("D4"), signature = tenant.Signature, category = "notification", text }))
                .Content.ReadFromJsonAsync<JsonObject>())!["rejected"]?.AsArray().FirstOrDefault()?.Str("reason");
        Assert.Null(await RefusalAsync(there, $"含有{word}的短信"));

        var added = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words = new[] { word.ToUpperInvariant(), "" } });
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        Assert.Equal(1, (await added.Content.ReadFromJsonAsync<JsonObject>())!["added"]!.GetValue<int>());
        Assert.Equal($"content_rejected:{word}", await RefusalAsync(tenant.Client, $"含有{word}的短信"));
        // Full width or upper case: the same word.
        var wide = string.Concat(word.Select(ch => ch is >= 'a' and <= 'z' ? (char)(ch - 'a' + 'Ａ') : ch));
        Assert.Equal($"content_rejected:{word}", await RefusalAsync(tenant.Client, $"含有{wide}的短信"));
        await Wait.Until(async () => await RefusalAsync(there, $"含有{word}的短信") is not null, "the other node refuses too", seconds: 10);

        // In a template's values: only that recipient is refused.
        var job = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new
        {
            recipients = new object[] { new { to = "13500135002", @params = new { name = "张三" } }, new { to = "13500135003", @params = new { name = word } } },
            signature = tenant.Signature,
            category = "notification",
            text = "${name}您好",
        });
        var accepted = (await job.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal((1, 1), (accepted["accepted"]!.GetValue<int>(), accepted["rejected"]!.GetValue<int>()));
        var rejections = (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{accepted.Str("jobId")}/rejections"))!;
        Assert.Equal((2, $"content_rejected:{word}"), (rejections[0]!["line"]!.GetValue<int>(), rejections[0].Str("reason")));

        var listed = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/sensitive-words?q={word}"))!["items"]!.AsArray();
        var id = Assert.Single(listed)!.Long("id");
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync($"/api/v1/admin/sensitive-words/{id}")).StatusCode);
        Assert.Null(await RefusalAsync(tenant.Client, $"含有{word}的短信"));
        await Wait.Until(async () => await RefusalAsync(there, $"含有{word}的短信") is null, "the other node lets it go again", seconds: 10);

        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words = new[] { "x" }, action = "later" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words = Array.Empty<string>() })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.GetAsync("/api/v1/admin/sensitive-words")).StatusCode);
    }

    [Fact]
    public async Task The_word_list_imports_from_csv_and_exports_to_it()
    {
        var admin = server.Client(await server.AdminTokenAsync());
        var tag = Guid.NewGuid().ToString("N")[..4];
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes($"\uFEFF敏感词,动作\r\n赌博{tag},refuse\r\n\"=cmd{tag}\",\r\n,refuse\r\n代开{tag},maybe\r\n"));
        var imported = await admin.PutAsync("/api/v1/admin/sensitive-words/import", new MultipartFormDataContent { { file, "file", "words.csv" } });
        Assert.True(imported.IsSuccessStatusCode, await imported.Content.ReadAsStringAsync());
        var change = (await imported.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(2, change["added"]!.GetValue<int>());
        Assert.Equal([4, 5], change["invalid"]!.AsArray().Select(p => p!["line"]!.GetValue<int>()));
        var export = await (await admin.GetAsync("/api/v1/admin/sensitive-words/export")).Content.ReadAsStringAsync();
        Assert.Contains($"赌博{tag},refuse,", export);
        Assert.Contains($"'=cmd{tag},refuse,", export);
    }

    [Fact]
    public async Task A_word_to_hold_keeps_the_request_held_until_the_operator_approves_or_rejects_it()
    {
        var tenant = await server.CreateTenantAsync();
        var word = "贷款" + Guid.NewGuid().ToString("N")[..4];
        (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words = new[] { word }, action = "hold" })).EnsureSuccessStatusCode();
        var (before, _) = await tenant.BalanceAsync();

        var approved = await tenant.SendAsync(new { to = new[] { "13500135101", "13500135102" }, signature = tenant.Signature, category = "notification", text = $"低息{word}，欢迎咨询" });
        var rejected = await tenant.SendAsync(new { to = "13500135103", signature = tenant.Signature, category = "notification", text = $"{word}，速来" });
        var ids = approved["messages"]!.AsArray().Select(m => m.Str("id")).ToList();
        var rejectedId = rejected["messages"]![0].Str("id");
        foreach (var id in ids.Append(rejectedId)) Assert.Equal("held", (await tenant.GetAsync($"/api/v1/messages/{id}")).Str("status"));
        await Task.Delay(500);
        Assert.Empty((await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/8613500135101/messages"))!);

        var reviews = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews?limit=1000"))!.Where(r => r!.Long("enterpriseId") == tenant.Id && r.Str("kind") == "held").ToList();
        Assert.Equal(2, reviews.Count);
        var first = reviews.Single(r => r.Long("subjectId").ToString() == approved.Str("jobId"))!;
        Assert.Contains($"content_held:{word}", first.Str("content"));
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{first.Long("id")}/approve", null)).EnsureSuccessStatusCode();
        foreach (var id in ids) await tenant.WaitForStatusAsync(id, "delivered");

        var second = reviews.Single(r => r.Long("subjectId").ToString() == rejected.Str("jobId"))!;
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/reviews/{second.Long("id")}/reject", new { reason = "金融营销须另行报备" })).EnsureSuccessStatusCode();
        var ended = await tenant.WaitForStatusAsync(rejectedId, "failed");
        Assert.Equal("content_rejected:金融营销须另行报备", ended.Str("error"));
        // Charged for the two delivered, the rejected one refunded.
        await Wait.Until(async () => (await tenant.BalanceAsync()) == (before - 2 * approved["messages"]![0].Long("price"), 0L), "the rejected message is refunded");
        Assert.Equal(HttpStatusCode.Conflict, (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{second.Long("id")}/approve", null)).StatusCode);

        // A held job the enterprise cancels ends cancelled; approving it afterwards sends nothing.
        var third = await tenant.SendAsync(new { to = new[] { "13500135104", "13500135105" }, signature = tenant.Signature, category = "notification", text = $"{word}，取消" });
        (await tenant.Client.PostAsync($"/api/v1/jobs/{third.Str("jobId")}/cancel", null)).EnsureSuccessStatusCode();
        foreach (var m in third["messages"]!.AsArray()) Assert.Equal("cancelled", (await tenant.WaitForStatusAsync(m.Str("id"), "failed")).Str("error"));
        var thirdReview = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews?limit=1000"))!.Single(r => r!.Long("subjectId").ToString() == third.Str("jobId"))!;
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{thirdReview.Long("id")}/approve", null)).EnsureSuccessStatusCode();
        await Task.Delay(500);
        Assert.Empty((await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/8613500135104/messages"))!);

        // Text that is not valid Unicode is answered, not crashed on.
        var odd = await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = "13500135106", signature = tenant.Signature, category = "notification", text = "坏\uFFFE字\uD800" });
        Assert.True((int)odd.StatusCode < 500, await odd.Content.ReadAsStringAsync());
        await tenant.AssertLedgerReconcilesAsync();
    }
}
