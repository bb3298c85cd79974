using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Xinge.Server.Tests;

public sealed class SqliteTimeTests() : TimeTests(Store.Sqlite);

public sealed class PostgresTimeTests() : TimeTests(Store.Postgres);

/// <summary>Time is a <see cref="FakeTimeProvider"/>: the validity period passes without waiting 48 hours.</summary>
public abstract class TimeTests(Store store)
{
    [Fact]
    public async Task A_message_without_a_receipt_expires_and_is_refunded_and_a_late_receipt_changes_nothing()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await XingeServer.StartAsync(store, b => b.Services.AddSingleton<TimeProvider>(time));
        var tenant = await server.CreateTenantAsync();
        var n = "+8613700990001";
        (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/{n}", new { reachable = false })).EnsureSuccessStatusCode();
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "关机时发送" });
        var id = sent["messages"]![0].Str("id");
        await tenant.WaitForStatusAsync(id, "submitted");
        Assert.Equal((100_000L - 5, 5L), await tenant.BalanceAsync());

        time.Advance(TimeSpan.FromHours(49));
        // Session tokens last 12 hours; the API key does not expire.
        tenant = tenant with { Admin = server.Client(await server.AdminTokenAsync()) };
        await server.RenewOperatorAsync();
        var expired = await tenant.WaitForStatusAsync(id, "expired");
        Assert.Equal("validity_period_elapsed", expired.Str("error"));
        Assert.Equal((100_000L, 0L), await tenant.BalanceAsync());

        // The handset comes back: the SMSC delivers and reports DELIVRD, but the message has already ended and been refunded.
        (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/{n}", new { reachable = true })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await server.Simulator.GetFromJsonAsync<List<object>>($"/api/v1/simulator/handsets/{n}/messages"))!.Count == 1, "the held message reaches the handset");
        await Task.Delay(500);
        Assert.Equal("expired", (await tenant.GetAsync($"/api/v1/messages/{id}")).Str("status"));
        Assert.Equal((100_000L, 0L), await tenant.BalanceAsync());
        await tenant.AssertLedgerReconcilesAsync();
    }

    [Fact]
    public async Task A_scheduled_message_waits_for_its_time_then_goes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await XingeServer.StartAsync(store, b => b.Services.AddSingleton<TimeProvider>(time));
        var tenant = await server.CreateTenantAsync();
        var n = "+8613700990002";
        var sendAt = time.GetUtcNow().AddHours(2);
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "定时发送", sendAt });
        var id = sent["messages"]![0].Str("id");
        await Task.Delay(1500);
        Assert.Equal("scheduled", (await tenant.GetAsync($"/api/v1/messages/{id}")).Str("status"));
        Assert.Empty((await server.Simulator.GetFromJsonAsync<List<object>>($"/api/v1/simulator/handsets/{n}/messages"))!);
        Assert.Equal((100_000L - 5, 5L), await tenant.BalanceAsync());

        time.Advance(TimeSpan.FromHours(2));
        await tenant.WaitForStatusAsync(id, "delivered");
        Assert.Single((await server.Simulator.GetFromJsonAsync<List<object>>($"/api/v1/simulator/handsets/{n}/messages"))!);
    }
}
