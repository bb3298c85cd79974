using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xinge.Server.Features.SmppServer;
using Xinge.Smpp;

namespace Xinge.Server.Tests;

/// <summary>Defects found by trying the engine as a user and as an attacker would (ISSUE 10), each pinned by a test.</summary>
public sealed class DefectTests(SqliteFixture fixture) : IClassFixture<SqliteFixture>
{
    private readonly XingeServer _server = fixture.Server;

    [Fact]
    public async Task Invalid_utf8_in_a_number_is_a_clear_400_not_a_500()
    {
        var tenant = await _server.CreateTenantAsync();
        foreach (var to in new[] { "\"13800\xFF\xFE001\"", "[\"1380013\xC3\"]" })
        {
            var json = Encoding.UTF8.GetBytes($"{{\"signature\":\"{tenant.Signature}\",\"category\":\"otp\",\"text\":\"x\",\"to\":");
            var bytes = json.Concat(Encoding.Latin1.GetBytes(to)).Concat("}"u8.ToArray()).ToArray();
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new("application/json");
            var r = await tenant.Client.PostAsync("/api/v1/messages", content);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("problems/validation", await r.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task A_handset_cannot_send_more_than_a_handset_can()
    {
        var r = await _server.Simulator.PostAsJsonAsync("/api/v1/simulator/handsets/8613700123456/messages", new { to = "106900001", text = new string('长', 20_000) });
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
    }

    [Fact]
    public async Task Smpp_answers_a_refused_number_with_submitfail_and_only_a_bad_number_with_invdstadr()
    {
        var tenant = await _server.CreateTenantAsync();
        var systemId = "optout" + tenant.Id;
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password = "pw" })).EnsureSuccessStatusCode();
        var n = "+8613700550001";
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "marketing", text = "第一次促销" });
        await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "delivered");
        var from = (await _server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/{n}/messages"))![0].Str("from");
        (await _server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/{n}/messages", new { to = from, text = "T" })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Count == 1, "the T reaches the enterprise");

        var session = await SmppClient.BindAsync("127.0.0.1", _server.SmppPort, BindType.Transceiver, systemId, "pw", "", new Inbox(), null, default);
        SubmitSm Marketing(string to) => new()
        {
            ServiceType = "MKT",
            DestAddrTon = 1,
            DestAddrNpi = 1,
            DestinationAddr = to,
            DataCoding = 8,
            ShortMessage = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】又一次促销"),
        };
        Assert.Equal(CommandStatus.EsmeRsubmitfail, (await session.SendRequestAsync(Marketing("8613700550001"))).Status);
        Assert.Equal(CommandStatus.EsmeRinvdstadr, (await session.SendRequestAsync(Marketing("86000"))).Status);
        Assert.Equal(CommandStatus.EsmeRok, (await session.SendRequestAsync(Marketing("8613700550002"))).Status);
        await session.CloseAsync();
    }

    [Fact]
    public async Task Health_reports_the_smpp_server_down_once_its_listener_is_gone()
    {
        await using var server = await XingeServer.StartAsync(Store.Sqlite);
        Assert.Equal("up", (await server.Http.GetFromJsonAsync<JsonObject>("/healthz")).Str("status"));
        await server.Services.GetRequiredService<SmppServerHost>().StopAsync(default);
        var r = await server.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        Assert.Equal("down", (await r.Content.ReadFromJsonAsync<JsonObject>())!["checks"].Str("smpp"));
    }

    [Fact]
    public async Task An_incomplete_multipart_submit_is_answered_when_its_patience_runs_out_without_more_traffic()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await XingeServer.StartAsync(Store.Sqlite, b => b.Services.AddSingleton<TimeProvider>(time));
        var tenant = await server.CreateTenantAsync();
        var systemId = "parts" + tenant.Id;
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password = "pw" })).EnsureSuccessStatusCode();
        var session = await SmppClient.BindAsync("127.0.0.1", server.SmppPort, BindType.Transceiver, systemId, "pw", "", new Inbox(), null, default);
        var parts = Xinge.Text.SmsText.Encode($"【{tenant.Signature}】" + new string('半', 100), Xinge.Text.SmsEncoding.Ucs2, 0x21);
        var first = new SubmitSm
        {
            DestAddrTon = 1,
            DestAddrNpi = 1,
            DestinationAddr = "8613700660001",
            DataCoding = 8,
            EsmClass = EsmClass.UdhIndicator,
            ShortMessage = parts[0].ShortMessage,
        };
        var answer = session.SendRequestAsync(first);
        await Task.Delay(500);
        Assert.False(answer.IsCompleted);
        // The second part never comes, and neither does anything else on this session.
        time.Advance(TimeSpan.FromSeconds(70));
        Assert.Equal(CommandStatus.EsmeRsubmitfail, (await answer.WaitAsync(TimeSpan.FromSeconds(10))).Status);
        await session.CloseAsync();
    }

    [Fact]
    public async Task An_esmes_validity_period_ends_a_message_the_handset_never_took_and_a_past_one_is_refused()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await XingeServer.StartAsync(Store.Sqlite, b => b.Services.AddSingleton<TimeProvider>(time));
        var tenant = await server.CreateTenantAsync();
        var systemId = "valid" + tenant.Id;
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password = "pw" })).EnsureSuccessStatusCode();
        var n = "+8613700770002";
        (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/{n}", new { reachable = false })).EnsureSuccessStatusCode();
        var session = await SmppClient.BindAsync("127.0.0.1", server.SmppPort, BindType.Transceiver, systemId, "pw", "", new Inbox(), null, default);
        SubmitSm Submit(string validity) => new()
        {
            DestAddrTon = 1,
            DestAddrNpi = 1,
            DestinationAddr = n[1..],
            DataCoding = 8,
            RegisteredDelivery = 1,
            ValidityPeriod = validity,
            ShortMessage = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】十分钟内有效"),
        };
        // SMPP 3.4 §7.1.1 relative time: ten minutes.
        var resp = (SubmitSmResp)await session.SendRequestAsync(Submit("000000001000000R"));
        Assert.Equal(CommandStatus.EsmeRok, resp.Status);
        await tenant.WaitForStatusAsync(resp.MessageId, "submitted");
        Assert.Equal(CommandStatus.EsmeRinvexpiry, (await session.SendRequestAsync(Submit(SmppTime.Format(time.GetUtcNow().AddHours(-1))))).Status);

        time.Advance(TimeSpan.FromMinutes(11));
        var expired = await tenant.WaitForStatusAsync(resp.MessageId, "expired");
        Assert.Equal("validity_period_elapsed", expired.Str("error"));
        Assert.Equal((100_000L, 0L), await tenant.BalanceAsync());
        await session.CloseAsync();
    }
}
