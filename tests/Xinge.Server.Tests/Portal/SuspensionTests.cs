using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Xinge.Server.Tests.Portal;

/// <summary>The operator suspends an enterprise: what it had waiting is held, not sent, until the suspension ends.</summary>
public sealed class SuspensionTests
{
    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task Waiting_messages_of_a_suspended_enterprise_are_held_and_go_when_it_is_resumed(Store store)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await XingeServer.StartAsync(store, b => b.Services.AddSingleton<TimeProvider>(time));
        var tenant = await server.CreateTenantAsync();
        var numbers = new[] { "13700770001", "13700770002" };
        var sent = await tenant.SendAsync(new { to = numbers, signature = tenant.Signature, category = "notification", text = "定时通知", sendAt = time.GetUtcNow().AddMinutes(10) });
        var job = sent.Str("jobId");
        var ids = sent["messages"]!.AsArray().Select(m => m.Str("id")).ToList();

        (await tenant.Admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { suspended = true })).EnsureSuccessStatusCode();
        // Paused and resumed by the enterprise meanwhile: still held.
        (await tenant.Client.PostAsync($"/api/v1/jobs/{job}/pause", null)).EnsureSuccessStatusCode();
        (await tenant.Client.PostAsync($"/api/v1/jobs/{job}/resume", null)).EnsureSuccessStatusCode();
        time.Advance(TimeSpan.FromMinutes(11));
        await server.RenewOperatorAsync();
        await Task.Delay(1500);
        foreach (var id in ids) Assert.Contains((await tenant.GetAsync($"/api/v1/messages/{id}")).Str("status"), new[] { "scheduled", "queued" });
        foreach (var n in numbers) Assert.Empty((await server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/86{n}/messages"))!);

        (await tenant.Admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}", new { suspended = false })).EnsureSuccessStatusCode();
        foreach (var id in ids) await tenant.WaitForStatusAsync(id, "delivered");
        foreach (var n in numbers) Assert.Single((await server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/86{n}/messages"))!);
    }

    /// <summary>A held message nobody reviewed within the validity period expires, and its money goes back.</summary>
    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_held_message_left_unreviewed_expires_and_is_refunded(Store store)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await XingeServer.StartAsync(store, b => b.Services.AddSingleton<TimeProvider>(time));
        var tenant = await server.CreateTenantAsync();
        (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words = new[] { "贷款" }, action = "hold" })).EnsureSuccessStatusCode();
        var (before, _) = await tenant.BalanceAsync();
        var id = (await tenant.SendAsync(new { to = "13700770101", signature = tenant.Signature, category = "notification", text = "贷款优惠" }))["messages"]![0].Str("id");
        Assert.Equal("held", (await tenant.GetAsync($"/api/v1/messages/{id}")).Str("status"));
        time.Advance(TimeSpan.FromHours(49));
        await server.RenewOperatorAsync();
        var ended = await tenant.WaitForStatusAsync(id, "expired");
        Assert.Equal("validity_period_elapsed", ended.Str("error"));
        await Wait.Until(async () => (await tenant.BalanceAsync()) == (before, 0L), "the reservation is returned");
    }
}
