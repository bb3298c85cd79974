using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Xinge.Server.Tests;

/// <summary>R-S1-8: marketing reaches a phone only in the day of its owner; outside those hours it waits, then goes.</summary>
public sealed class MarketingHoursTests
{
    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task Marketing_at_night_waits_for_the_morning_where_the_recipient_is_and_then_goes(Store store)
    {
        // 22:00 in Beijing.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 14, 0, 0, TimeSpan.Zero));
        await using var server = await XingeServer.StartAsync(store, b => b.Services.AddSingleton<TimeProvider>(time),
            "--Xinge:Compliance:MarketingHours:From=08:00", "--Xinge:Compliance:MarketingHours:To=20:00");
        var tenant = await server.CreateTenantAsync();
        var marketing = (await tenant.SendAsync(new { to = "13400134001", signature = tenant.Signature, category = "marketing", text = "双十二大促" }))["messages"]![0].Str("id");
        var notice = (await tenant.SendAsync(new { to = "13400134002", signature = tenant.Signature, category = "notification", text = "您的包裹已发出" }))["messages"]![0].Str("id");

        await tenant.WaitForStatusAsync(notice, "delivered");
        var waiting = await tenant.GetAsync($"/api/v1/messages/{marketing}");
        Assert.Equal("scheduled", waiting.Str("status"));
        Assert.Equal(new DateTimeOffset(2026, 12, 3, 8, 0, 0, TimeSpan.FromHours(8)), DateTimeOffset.Parse(waiting.Str("sendAt")));
        Assert.Empty((await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/8613400134001/messages"))!);

        time.Advance(TimeSpan.FromHours(10) + TimeSpan.FromMinutes(1));
        await server.RenewOperatorAsync();
        await tenant.WaitForStatusAsync(marketing, "delivered");
        Assert.Single((await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/8613400134001/messages"))!);
    }

    /// <summary>The operator sets how long a signature may be; 2 to 8 characters unless set.</summary>
    [Fact]
    public async Task The_signature_length_is_the_operators_setting()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite, "--Xinge:Compliance:SignatureLength:Min=3", "--Xinge:Compliance:SignatureLength:Max=4");
        var tenant = await server.CreateTenantAsync("四字签名");
        foreach (var text in new[] { "两字", "五个字签名" })
        {
            var refused = await tenant.Client.PostAsJsonAsync("/api/v1/signatures", new { text });
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("3 to 4 characters", await refused.Content.ReadAsStringAsync());
        }
        Assert.Equal(System.Net.HttpStatusCode.Created, (await tenant.Client.PostAsJsonAsync("/api/v1/signatures", new { text = "三个字" })).StatusCode);
    }
}
