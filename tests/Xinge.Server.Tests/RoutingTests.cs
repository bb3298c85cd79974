using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Xinge.Server.Tests;

public sealed class SqliteRoutingTests(SqliteFixture fixture) : RoutingTests(fixture.Server), IClassFixture<SqliteFixture>;

public sealed class PostgresRoutingTests(PostgresFixture fixture) : RoutingTests(fixture.Server), IClassFixture<PostgresFixture>;

public sealed class SegmentPrefixTests
{
    [Theory]
    [InlineData("139", "86139")]
    [InlineData("+86139", "86139")]
    [InlineData("86139", "86139")]
    [InlineData("+1415", "1415")]
    [InlineData("13a", null)]
    public void A_segment_is_read_as_e164_digits(string raw, string? prefix) => Assert.Equal(prefix, Xinge.Server.Features.Routing.RoutingEndpoints.PrefixOf(raw));
}

/// <summary>R-S1-15: a number's network from its segment or its porting, its messages routed to that network's connector, statistics per network.</summary>
public abstract class RoutingTests(XingeServer server)
{
    private static async Task<JsonObject> CarrierOfAsync(HttpClient admin, string msisdn) => (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/carrier-of/{msisdn}"))!;

    [Fact]
    public async Task Numbers_go_to_their_networks_connector_ported_numbers_follow_their_new_network_and_reports_count_each_network()
    {
        var tenant = await server.CreateTenantAsync();
        var admin = tenant.Admin;
        foreach (var (number, carrier) in new[] { ("13912345678", "mobile"), ("13012345678", "unicom"), ("13312345678", "telecom"), ("19212345678", "broadnet"), ("17001234567", "virtual"), ("+14155550100", "other") })
            Assert.Equal(carrier, (await CarrierOfAsync(admin, number)).Str("carrier"));

        // Segments imported: a longer segment beats a shorter one; bad rows come back by line.
        var form = new MultipartFormDataContent { { new ByteArrayContent(Encoding.UTF8.GetBytes("prefix,carrier\n1650,mobile\nbad,mobile\n1651,nonsense\n")), "file", "segments.csv" } };
        var imported = (await (await admin.PutAsync("/api/v1/admin/number-segments/import", form)).Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(1, imported["added"]!.GetValue<int>());
        Assert.Equal([3, 4], imported["invalid"]!.AsArray().Select(p => p!["line"]!.GetValue<int>()));
        await Wait.Until(async () => (await CarrierOfAsync(admin, "16501234567")).Str("carrier") == "mobile", "the new segment is used");
        Assert.Equal("virtual", (await CarrierOfAsync(admin, "16521234567")).Str("carrier"));
        Assert.Contains((await admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/number-segments?q=1650"))!["items"]!.AsArray(), s => s!.Str("prefix") == "861650");

        // Mobile goes to a gateway of its own (not bound here), so a mobile number's message waits; a unicom one goes.
        var created = await admin.PostAsJsonAsync("/api/v1/admin/connectors", new { name = "cmcc-gw", host = "127.0.0.1", port = Ports.Free(), systemId = "xinge", password = "secret" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsJsonAsync("/api/v1/admin/routes", new Dictionary<string, string?> { ["mars"] = "cmcc-gw" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsJsonAsync("/api/v1/admin/routes", new Dictionary<string, string?> { ["mobile"] = "nowhere" })).StatusCode);
        (await admin.PutAsJsonAsync("/api/v1/admin/routes", new Dictionary<string, string?> { ["mobile"] = "cmcc-gw" })).EnsureSuccessStatusCode();
        Assert.Equal("cmcc-gw", (await CarrierOfAsync(admin, "13912345678")).Str("connector"));
        Assert.Equal("simulator", (await CarrierOfAsync(admin, "13012345678")).Str("connector"));

        // A mobile-segment number that moved to Unicom goes the Unicom way.
        (await admin.PostAsJsonAsync("/api/v1/admin/ported-numbers", new { numbers = new[] { new { msisdn = "13912340001", carrier = "unicom" } } })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await CarrierOfAsync(admin, "13912340001")).Str("source") == "ported", "the ported number is known");
        Assert.Equal(("unicom", "simulator"), ((await CarrierOfAsync(admin, "13912340001")).Str("carrier"), (await CarrierOfAsync(admin, "13912340001")).Str("connector")));

        var mobile = (await tenant.SendAsync(new { to = "13912340002", signature = tenant.Signature, category = "notification", text = "移动用户的通知" }))["messages"]![0].Str("id");
        var unicom = (await tenant.SendAsync(new { to = "13012340003", signature = tenant.Signature, category = "notification", text = "联通用户的通知" }))["messages"]![0].Str("id");
        var ported = (await tenant.SendAsync(new { to = "13912340001", signature = tenant.Signature, category = "notification", text = "转网用户的通知" }))["messages"]![0].Str("id");
        await tenant.WaitForStatusAsync(unicom, "delivered");
        await tenant.WaitForStatusAsync(ported, "delivered");
        Assert.Equal("queued", (await tenant.GetAsync($"/api/v1/messages/{mobile}")).Str("status"));
        (await tenant.Client.DeleteAsync($"/api/v1/messages/{mobile}")).EnsureSuccessStatusCode();

        var byCarrier = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/reports?by=carrier"))!["rows"]!.AsArray();
        Assert.Equal(2L, byCarrier.Single(r => r!.Str("key") == "unicom")!.Long("delivered"));

        (await admin.PutAsJsonAsync("/api/v1/admin/routes", new Dictionary<string, string?> { ["mobile"] = null })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/admin/ported-numbers/13912340001")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/admin/number-segments/1650")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/admin/number-segments/1650")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/admin/connectors/cmcc-gw")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.GetAsync("/api/v1/admin/routes")).StatusCode);
    }
}
