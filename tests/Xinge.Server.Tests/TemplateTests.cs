using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xinge.Server.Features.Compliance;

namespace Xinge.Server.Tests;

public sealed class TemplatePatternTests
{
    [Theory]
    [InlineData("您的验证码是${code}，5分钟内有效", "您的验证码是482913，5分钟内有效", true)]
    [InlineData("您的验证码是${code}，5分钟内有效", "您的验证码是，5分钟内有效", false)]
    [InlineData("您的验证码是${code}，5分钟内有效", "您的验证码是482913，10分钟内有效", false)]
    [InlineData("${name}您好，订单${order}已发货", "张三您好，订单A-1已发货", true)]
    [InlineData("${name}您好，订单${order}已发货", "您好，订单A-1已发货", false)]
    [InlineData("${name}您好，订单${order}已发货", "张三您好，订单已发货", false)]
    [InlineData("尊敬的${a}${b}，欢迎", "尊敬的王先生，欢迎", true)]
    [InlineData("订单${x}，订单${y}完成", "订单1，订单，订单2完成", true)]
    [InlineData("订单${x}，订单${y}完成", "订单1，订单完成", false)]
    [InlineData("没有变量的模板", "没有变量的模板", true)]
    [InlineData("没有变量的模板", "没有变量的模板。", false)]
    [InlineData("您好${name}", "您好${name}", true)]
    public void A_text_matches_a_template_when_its_fixed_pieces_are_there_in_order_with_something_for_each_placeholder(string template, string text, bool matches) =>
        Assert.Equal(matches, TemplatePattern.Matches(TemplatePattern.Pieces(template), text));

    [Theory]
    [InlineData("验证码${code", "no closing")]
    [InlineData("验证码${}", "is not")]
    [InlineData("验证码${a b}", "is not")]
    public void A_placeholder_written_wrong_is_named(string text, string problem) =>
        Assert.Contains(problem, TemplatePattern.Placeholders(text).Problem);
}

public sealed class SqliteTemplateTests(SqliteFixture fixture) : TemplateTests(fixture.Server, "1350400"), IClassFixture<SqliteFixture>;

public sealed class PostgresTemplateTests(PostgresFixture fixture) : TemplateTests(fixture.Server, "1350500"), IClassFixture<PostgresFixture>;

/// <summary>R-S1-7: templates reviewed once; content that matches none waits for the operator; a trusted enterprise skips review.</summary>
public abstract class TemplateTests(XingeServer server, string prefix)
{
    private static int _next;
    private string Number() => prefix + Interlocked.Increment(ref _next).ToString("D4");

    private static async Task<JsonObject?> ReviewOfAsync(Tenant tenant, string kind, string subjectId) =>
        (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews?limit=1000"))!
            .FirstOrDefault(r => r!.Long("enterpriseId") == tenant.Id && r.Str("kind") == kind && r.Long("subjectId").ToString() == subjectId)?.AsObject();

    private async Task<HttpResponseMessage> CreateAsync(Tenant tenant, string name, string category, string text) =>
        await tenant.Client.PostAsJsonAsync("/api/v1/templates", new { name, category, text });

    [Fact]
    public async Task A_template_is_checked_reviewed_once_and_then_sends_without_review_by_id_or_by_matching_text()
    {
        var tenant = await server.CreateTenantAsync(reviewed: true);
        foreach (var (category, text, problem) in new[]
        {
            ("otp", "您的验证码已发送，请查收", "code as a placeholder"),
            ("marketing", "双十一全场五折，${name}速来", "opt-out wording"),
            ("notification", "订单${a b}已发货", "is not"),
            ("notification", "${name}", "fixed text"),
            ("spam", "订单已发货", "category"),
        })
        {
            var bad = await CreateAsync(tenant, "bad", category, text);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains(problem, await bad.Content.ReadAsStringAsync());
        }

        var created = await CreateAsync(tenant, "验证码", "otp", "您的验证码是${code}，5分钟内有效");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var template = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("pending", template.Str("status"));
        var templateId = template.Long("id");
        Assert.Equal(HttpStatusCode.Conflict, (await CreateAsync(tenant, "验证码", "otp", "验证码${code}")).StatusCode);

        // Pending: not sendable by id; the same text free is held for review.
        var early = await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, templateId, @params = new { code = "1" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, early.StatusCode);
        Assert.Contains("template-not-approved", await early.Content.ReadAsStringAsync());
        var heldPhone = Number();
        var held = await tenant.SendAsync(new { to = heldPhone, signature = tenant.Signature, category = "otp", text = "您的验证码是111111，5分钟内有效" });
        var heldId = held["messages"]![0].Str("id");
        Assert.Equal("held", (await tenant.GetAsync($"/api/v1/messages/{heldId}")).Str("status"));
        Assert.Contains("content_review", (await ReviewOfAsync(tenant, "held", held.Str("jobId")))!.Str("content"));

        var review = (await ReviewOfAsync(tenant, "template", templateId.ToString()))!;
        Assert.Contains("您的验证码是${code}", review.Str("content"));
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{review.Long("id")}/approve", null)).EnsureSuccessStatusCode();
        Assert.Equal("approved", (await tenant.GetAsync($"/api/v1/templates/{templateId}")).Str("status"));

        // By id, with its params; on another node too, which learns of the approval within a second.
        await using var second = await server.StartSecondNodeAsync();
        var phone = Number();
        var byId = await tenant.SendAsync(new { to = phone, signature = tenant.Signature, templateId = templateId.ToString(), @params = new { code = "482913" } });
        await tenant.WaitForStatusAsync(byId["messages"]![0].Str("id"), "delivered");
        var received = (await server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/86{phone}/messages"))!;
        Assert.Equal($"【{tenant.Signature}】您的验证码是482913，5分钟内有效", received.Single()!.Str("text"));
        var there = second.Client(tenant.ApiKey);
        var free = await there.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, category = "otp", text = "您的验证码是654321，5分钟内有效" });
        Assert.Equal(HttpStatusCode.Accepted, free.StatusCode);
        var freeId = (await free.Content.ReadFromJsonAsync<JsonObject>())!["messages"]![0].Str("id");
        await tenant.WaitForStatusAsync(freeId, "delivered");

        // Values are text: a null or a control character is refused, not crashed on.
        foreach (var bad in new object[] { new { code = (string?)null }, new { code = "12\u0007" } })
            Assert.Equal(HttpStatusCode.BadRequest,
                (await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, templateId, @params = bad })).StatusCode);

        // Its category is the template's; a missing param refuses that recipient, naming it.
        Assert.Equal(HttpStatusCode.BadRequest,
            (await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, category = "marketing", templateId })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, templateId, text = "x" })).StatusCode);
        var job = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new
        {
            signature = tenant.Signature,
            templateId,
            recipients = new object[] { new { to = Number(), @params = new { code = "1234" } }, new { to = Number() } },
        });
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
        var jobId = (await job.Content.ReadFromJsonAsync<JsonObject>())!.Str("jobId");
        Assert.Equal("missing_param:code", (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{jobId}/rejections"))![0]!.Str("reason"));

        // The held message goes once the operator approves it.
        var heldReview = (await ReviewOfAsync(tenant, "held", held.Str("jobId")))!;
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{heldReview.Long("id")}/approve", null)).EnsureSuccessStatusCode();
        await tenant.WaitForStatusAsync(heldId, "delivered");

        // Another enterprise neither sees nor sends it.
        var other = await server.CreateTenantAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync($"/api/v1/templates/{templateId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.DeleteAsync($"/api/v1/templates/{templateId}")).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity,
            (await other.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = other.Signature, templateId, @params = new { code = "1" } })).StatusCode);

        // Removed: no longer sent by id, and matching text is held again, on the other node too.
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Client.DeleteAsync($"/api/v1/templates/{templateId}")).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity,
            (await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, templateId, @params = new { code = "1" } })).StatusCode);
        await Wait.Until(async () =>
        {
            var r = await (await there.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, category = "otp", text = "您的验证码是777777，5分钟内有效" }))
                .Content.ReadFromJsonAsync<JsonObject>();
            return (await tenant.GetAsync($"/api/v1/messages/{r!["messages"]![0].Str("id")}")).Str("status") == "held";
        }, "the other node holds the text once the template is gone", seconds: 10);
        await tenant.AssertLedgerReconcilesAsync();
    }

    [Fact]
    public async Task A_rejected_template_says_why_a_marketing_one_keeps_its_own_opt_out_and_a_trusted_enterprise_skips_review()
    {
        var tenant = await server.CreateTenantAsync(reviewed: true);
        var rejected = (await (await CreateAsync(tenant, "促销", "marketing", "全场五折，仅限今日")).Content.ReadFromJsonAsync<JsonObject>());
        Assert.Null(rejected!["id"]);
        var promo = (await (await CreateAsync(tenant, "促销", "marketing", "${name}，全场五折，仅限今日。退订回T")).Content.ReadFromJsonAsync<JsonObject>())!.Long("id");
        var vague = (await (await CreateAsync(tenant, "含糊", "notification", "您有一条新${what}")).Content.ReadFromJsonAsync<JsonObject>())!.Long("id");
        (await tenant.Admin.PostAsync($"/api/v1/admin/reviews/{(await ReviewOfAsync(tenant, "template", promo.ToString()))!.Long("id")}/approve", null)).EnsureSuccessStatusCode();
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/reviews/{(await ReviewOfAsync(tenant, "template", vague.ToString()))!.Long("id")}/reject", new { reason = "内容过于笼统" }))
            .EnsureSuccessStatusCode();
        var list = (await tenant.GetAsync("/api/v1/templates"))["items"]!.AsArray();
        Assert.Equal("内容过于笼统", list.Single(t => t!.Long("id") == vague)!.Str("reason"));
        Assert.Equal("rejected", list.Single(t => t!.Long("id") == vague)!.Str("status"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity,
            (await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = Number(), signature = tenant.Signature, templateId = vague, @params = new { what = "消息" } })).StatusCode);

        var phone = Number();
        var sent = await tenant.SendAsync(new { to = phone, signature = tenant.Signature, templateId = promo, @params = new { name = "李女士" } });
        await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "delivered");
        var text = (await server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/86{phone}/messages"))!.Single()!.Str("text");
        Assert.Equal($"【{tenant.Signature}】李女士，全场五折，仅限今日。退订回T", text);

        // Trusted: free text goes at once; words still apply.
        var free = await tenant.SendAsync(new { to = Number(), signature = tenant.Signature, category = "notification", text = "您的快递已到驿站" });
        Assert.Equal("held", (await tenant.GetAsync($"/api/v1/messages/{free["messages"]![0].Str("id")}")).Str("status"));
        var exempt = await tenant.Admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { reviewExempt = true, maxHotlines = 3 });
        var view = (await exempt.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(view["reviewExempt"]!.GetValue<bool>());
        Assert.Equal(3, view["maxHotlines"]!.GetValue<int>());
        await Wait.Until(async () =>
        {
            var r = await tenant.SendAsync(new { to = Number(), signature = tenant.Signature, category = "notification", text = "您的快递已到驿站" });
            return (await tenant.GetAsync($"/api/v1/messages/{r["messages"]![0].Str("id")}")).Str("status") != "held";
        }, "a trusted enterprise's text is not held", seconds: 10);
    }
}
