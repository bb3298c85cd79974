using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Xinge.Server.Tests;

public sealed class ServerFixture : IAsyncLifetime
{
    private readonly Store _store;
    private readonly string[] _extra;
    public ServerFixture(Store store, params string[] extra) => (_store, _extra) = (store, extra);
    public XingeServer Server { get; private set; } = null!;
    public async Task InitializeAsync() => Server = await XingeServer.StartAsync(_store, _extra);
    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The engine tests' receivers (webhooks) listen on 127.0.0.1, as an on-premises deployment's would.</summary>
public sealed class SqliteFixture() : IAsyncLifetime
{
    private readonly ServerFixture _inner = new(Store.Sqlite, "--Xinge:Webhooks:AllowPrivateNetworks=true");
    public XingeServer Server => _inner.Server;
    public Task InitializeAsync() => _inner.InitializeAsync();
    public Task DisposeAsync() => _inner.DisposeAsync();
}

public sealed class PostgresFixture() : IAsyncLifetime
{
    private readonly ServerFixture _inner = new(Store.Postgres, "--Xinge:Webhooks:AllowPrivateNetworks=true");
    public XingeServer Server => _inner.Server;
    public Task InitializeAsync() => _inner.InitializeAsync();
    public Task DisposeAsync() => _inner.DisposeAsync();
}

public sealed class SqliteEngineTests(SqliteFixture fixture) : EngineTests(fixture.Server, "1380010"), IClassFixture<SqliteFixture>;

public sealed class PostgresEngineTests(PostgresFixture fixture) : EngineTests(fixture.Server, "1390010"), IClassFixture<PostgresFixture>;

/// <summary>The messaging engine end to end over HTTP and SMPP, on each store.</summary>
public abstract class EngineTests(XingeServer server, string numberBase)
{
    private static int _next;

    /// <summary>A handset number no other test uses (national format, as enterprises often write them).</summary>
    protected string NewNumber() => numberBase + Interlocked.Increment(ref _next).ToString("D4");

    private static string E164(string national) => "+86" + national;

    private async Task<List<JsonObject>> HandsetAsync(string national) =>
        (await server.Simulator.GetFromJsonAsync<List<JsonObject>>($"/api/v1/simulator/handsets/{E164(national)}/messages"))!;

    [Fact]
    public async Task Chinese_and_long_ascii_messages_arrive_reassembled_and_the_balance_moves_by_the_price()
    {
        var tenant = await server.CreateTenantAsync();
        var (before, _) = await tenant.BalanceAsync();
        var chinese = string.Concat(Enumerable.Range(0, 100).Select(i => "信鸽短信平台测试内容"[i % 10])) + "😀";
        var ascii = string.Concat(Enumerable.Range(0, 200).Select(i => (char)('a' + i % 26)));
        var a = NewNumber();
        var b = NewNumber();
        var first = await tenant.SendAsync(new { to = a, signature = tenant.Signature, category = "notification", text = chinese });
        var second = await tenant.SendAsync(new { to = new[] { b }, signature = tenant.Signature, category = "notification", text = ascii });
        var messages = new[] { first["messages"]![0]!, second["messages"]![0]! };
        Assert.Equal(E164(a), messages[0].Str("to"));
        // 【信鸽科技】 + 101 characters + an emoji's second unit = 108 UCS-2 units: 2 parts of 67.
        Assert.Equal(2, messages[0].Long("segments"));
        // 【信鸽科技】 makes the ASCII text UCS-2 too: 206 units = 4 parts.
        Assert.Equal(4, messages[1].Long("segments"));
        foreach (var m in messages) await tenant.WaitForStatusAsync(m.Str("id"), "delivered");

        Assert.Equal($"【{tenant.Signature}】{chinese}", Assert.Single(await HandsetAsync(a))["text"]!.GetValue<string>());
        Assert.Equal($"【{tenant.Signature}】{ascii}", Assert.Single(await HandsetAsync(b))["text"]!.GetValue<string>());
        var price = messages.Sum(m => m.Long("price"));
        Assert.Equal(6 * 5, price);
        var (after, reserved) = await tenant.BalanceAsync();
        Assert.Equal(before - price, after);
        Assert.Equal(0, reserved);
        var detail = await tenant.GetAsync($"/api/v1/messages/{messages[0].Str("id")}");
        Assert.NotNull(detail["submittedAt"]);
        Assert.NotNull(detail["doneAt"]);
        Assert.Equal(messages[0].Long("price"), detail.Long("charged"));
        var ledger = await tenant.AssertLedgerReconcilesAsync();
        Assert.Equal(price, ledger.Long("charges"));
        Assert.Equal(2, ledger.Long("chargedMessages"));
    }

    [Fact]
    public async Task Failing_handset_ends_failed_and_the_reservation_is_refunded()
    {
        var tenant = await server.CreateTenantAsync();
        var n = NewNumber();
        (await server.Simulator.PutAsJsonAsync($"/api/v1/simulator/handsets/{E164(n)}", new { reachable = true, deliveryFailure = "undeliverable" })).EnsureSuccessStatusCode();
        var (before, _) = await tenant.BalanceAsync();
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "otp", text = "您的验证码是 482913" });
        var m = await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "failed");
        Assert.Equal("undeliverable", m.Str("error"));
        Assert.Equal(0, m.Long("charged"));
        await Wait.Until(async () => await tenant.BalanceAsync() == (before, 0), "the refund is back in the balance");
        Assert.Empty(await HandsetAsync(n));
        var ledger = await tenant.AssertLedgerReconcilesAsync();
        Assert.Equal((0L, 1L), (ledger.Long("charges"), ledger.Long("refundedMessages")));
    }

    [Fact]
    public async Task An_enterprise_sends_over_smpp_through_the_same_pipeline()
    {
        var tenant = await server.CreateTenantAsync();
        var account = await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId = "esme" + tenant.Id, password = "pw" + tenant.Id });
        Assert.Equal(HttpStatusCode.Created, account.StatusCode);
        var handler = new Inbox();

        var refused = await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() => Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort,
            Xinge.Smpp.BindType.Transceiver, "esme" + tenant.Id, "wrong", "", handler, null, default));
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvpaswd, refused.Status);

        var session = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transceiver, "esme" + tenant.Id, "pw" + tenant.Id, "", handler, null, default);
        var n = NewNumber();
        var submit = new Xinge.Smpp.SubmitSm
        {
            SourceAddr = "",
            DestAddrTon = 1,
            DestAddrNpi = 1,
            DestinationAddr = "86" + n,
            DataCoding = 8,
            RegisteredDelivery = 1,
            ShortMessage = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】经由SMPP提交"),
        };
        var resp = (Xinge.Smpp.SubmitSmResp)await session.SendRequestAsync(submit);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, resp.Status);
        await tenant.WaitForStatusAsync(resp.MessageId, "delivered");
        Assert.Equal($"【{tenant.Signature}】经由SMPP提交", Assert.Single(await HandsetAsync(n))["text"]!.GetValue<string>());

        var unsigned = new Xinge.Smpp.SubmitSm { DestAddrTon = 1, DestinationAddr = "86" + NewNumber(), ShortMessage = "no signature"u8.ToArray() };
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRsubmitfail, (await session.SendRequestAsync(unsigned)).Status);
        await session.CloseAsync();
    }

    private async Task<(string SystemId, string Password)> SmppAccountAsync(Tenant tenant)
    {
        var systemId = "esme" + tenant.Id;
        var password = "pw" + tenant.Id;
        var r = await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password });
        if (r.StatusCode != HttpStatusCode.Conflict) Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (systemId, password);
    }

    private static Xinge.Smpp.SubmitSm Submit(string to, byte[] shortMessage, byte esmClass = 0, byte registeredDelivery = 1) => new()
    {
        DestAddrTon = 1,
        DestAddrNpi = 1,
        DestinationAddr = to,
        DataCoding = 8,
        EsmClass = esmClass,
        RegisteredDelivery = registeredDelivery,
        ShortMessage = shortMessage,
    };

    [Fact]
    public async Task An_esme_gets_receipts_for_its_submits_and_its_concatenated_submits_arrive_whole()
    {
        var tenant = await server.CreateTenantAsync();
        var (systemId, password) = await SmppAccountAsync(tenant);
        var inbox = new Inbox();
        var session = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transceiver, systemId, password, "", inbox, null, default);
        var n = NewNumber();
        var text = $"【{tenant.Signature}】" + string.Concat(Enumerable.Repeat("长短信分段提交测试", 12));
        var parts = Xinge.Text.SmsText.Encode(text, Xinge.Text.SmsEncoding.Ucs2, 0x5A);
        Assert.Equal(2, parts.Count);
        var responses = await Task.WhenAll(parts.Select(p => session.SendRequestAsync(Submit("86" + n, p.ShortMessage, Xinge.Smpp.EsmClass.UdhIndicator))));
        var ids = responses.Cast<Xinge.Smpp.SubmitSmResp>().Select(r => (r.Status, r.MessageId)).Distinct().ToList();
        var (status, id) = Assert.Single(ids);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, status);
        await tenant.WaitForStatusAsync(id, "delivered");
        Assert.Equal(text, Assert.Single(await HandsetAsync(n))["text"]!.GetValue<string>());

        await Wait.Until(() => Task.FromResult(inbox.Received.OfType<Xinge.Smpp.DeliverSm>().Any()), "the receipt reaches the ESME");
        var receipt = Xinge.Smpp.DeliveryReceipt.FromDeliverSm(inbox.Received.OfType<Xinge.Smpp.DeliverSm>().Single())!;
        Assert.Equal((id, "DELIVRD"), (receipt.MessageId, receipt.Stat));
        var text2 = System.Text.Encoding.ASCII.GetString(inbox.Received.OfType<Xinge.Smpp.DeliverSm>().Single().ShortMessage);
        Assert.Matches(@"^id:\d+ sub:001 dlvrd:001 submit date:\d{10} done date:\d{10} stat:DELIVRD err:000 text:", text2);

        // A reply from the handset reaches the bound ESME as deliver_sm too.
        var from = (await tenant.GetAsync($"/api/v1/messages/{id}")).Str("from");
        (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/{E164(n)}/messages", new { to = from, text = "好的，收到" })).EnsureSuccessStatusCode();
        await Wait.Until(() => Task.FromResult(inbox.Received.OfType<Xinge.Smpp.DeliverSm>().Count() == 2), "the reply reaches the ESME");
        var mo = inbox.Received.OfType<Xinge.Smpp.DeliverSm>().Last();
        Assert.Equal(("86" + n, "好的，收到"), (mo.SourceAddr, Xinge.Text.SmsText.Decode(mo.ShortMessage, mo.DataCoding)));
        await session.CloseAsync();
    }

    [Fact]
    public async Task Receipts_wait_for_an_esme_that_is_not_bound_and_reach_it_when_it_binds()
    {
        var tenant = await server.CreateTenantAsync();
        var (systemId, password) = await SmppAccountAsync(tenant);
        var transmitter = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transmitter, systemId, password, "", new Inbox(), null, default);
        var resp = (Xinge.Smpp.SubmitSmResp)await transmitter.SendRequestAsync(Submit("86" + NewNumber(), Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】先发后收")));
        await transmitter.CloseAsync();
        await tenant.WaitForStatusAsync(resp.MessageId, "delivered");
        await Task.Delay(300);

        var inbox = new Inbox();
        var receiver = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Receiver, systemId, password, "", inbox, null, default);
        await Wait.Until(() => Task.FromResult(!inbox.Received.IsEmpty), "the kept receipt arrives after the bind");
        var receipt = Xinge.Smpp.DeliveryReceipt.FromDeliverSm((Xinge.Smpp.DeliverSm)inbox.Received.Single())!;
        Assert.Equal((resp.MessageId, "DELIVRD"), (receipt.MessageId, receipt.Stat));
        await Task.Delay(500);
        Assert.Single(inbox.Received);
        await receiver.CloseAsync();
    }

    [Fact]
    public async Task Esmes_can_query_cancel_send_data_sm_and_submit_multi()
    {
        var tenant = await server.CreateTenantAsync();
        var (systemId, password) = await SmppAccountAsync(tenant);
        var session = await Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transceiver, systemId, password, "", new Inbox(), null, default);
        var body = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】多种PDU");

        var (a, b) = (NewNumber(), NewNumber());
        var multi = new Xinge.Smpp.SubmitMulti
        {
            DataCoding = 8,
            RegisteredDelivery = 0,
            ShortMessage = body,
            Destinations = [new(1, 1, "86" + a), new(1, 1, "86" + b), new(1, 1, "86000"), new(0, 0, "", "vip-list")],
        };
        var multiResp = (Xinge.Smpp.SubmitMultiResp)await session.SendRequestAsync(multi);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, multiResp.Status);
        Assert.Equal(
            new[] { ("vip-list", Xinge.Smpp.CommandStatus.EsmeRinvdlname), ("86000", Xinge.Smpp.CommandStatus.EsmeRinvdstadr) }.Order(),
            multiResp.Unsuccessful.Select(u => (u.Address, u.Error)).Order());
        await Wait.Until(async () => (await HandsetAsync(a)).Count == 1 && (await HandsetAsync(b)).Count == 1, "both destinations receive it");

        var data = new Xinge.Smpp.DataSm { DestAddrTon = 1, DestAddrNpi = 1, DestinationAddr = "86" + NewNumber(), DataCoding = 8, RegisteredDelivery = 1 };
        data.SetTlv(Xinge.Smpp.TlvTag.MessagePayload, body);
        var dataResp = (Xinge.Smpp.DataSmResp)await session.SendRequestAsync(data);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, dataResp.Status);
        await tenant.WaitForStatusAsync(dataResp.MessageId, "delivered");

        var query = (Xinge.Smpp.QuerySmResp)await session.SendRequestAsync(new Xinge.Smpp.QuerySm { MessageId = dataResp.MessageId });
        Assert.Equal((Xinge.Smpp.CommandStatus.EsmeRok, Xinge.Smpp.MessageState.Delivered), (query.Status, query.MessageState));
        Assert.Matches(@"^\d{12}000\+$", query.FinalDate);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvmsgid, (await session.SendRequestAsync(new Xinge.Smpp.QuerySm { MessageId = "12345" })).Status);

        // A scheduled message can be withdrawn, once, and its price comes back.
        var before = await tenant.BalanceAsync();
        var later = await tenant.SendAsync(new { to = NewNumber(), signature = tenant.Signature, category = "notification", text = "明天再发", sendAt = DateTimeOffset.UtcNow.AddDays(1) });
        var laterId = later["messages"]![0].Str("id");
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, (await session.SendRequestAsync(new Xinge.Smpp.CancelSm { MessageId = laterId })).Status);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRcancelfail, (await session.SendRequestAsync(new Xinge.Smpp.CancelSm { MessageId = laterId })).Status);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRcancelfail, (await session.SendRequestAsync(new Xinge.Smpp.CancelSm { MessageId = dataResp.MessageId })).Status);
        var cancelled = await tenant.GetAsync($"/api/v1/messages/{laterId}");
        Assert.Equal(("failed", "cancelled"), (cancelled.Str("status"), cancelled.Str("error")));
        Assert.Equal(before, await tenant.BalanceAsync());

        // Scheduled over SMPP (relative time, one day), then replaced by a longer text: the reservation follows the price.
        var scheduled = Submit("86" + NewNumber(), body, registeredDelivery: 0);
        scheduled.ScheduleDeliveryTime = "000001000000000R";
        var scheduledResp = (Xinge.Smpp.SubmitSmResp)await session.SendRequestAsync(scheduled);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, scheduledResp.Status);
        Assert.Equal(("scheduled", 5L), ((await tenant.GetAsync($"/api/v1/messages/{scheduledResp.MessageId}")).Str("status"), (await tenant.GetAsync($"/api/v1/messages/{scheduledResp.MessageId}")).Long("price")));
        var longer = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】" + string.Concat(Enumerable.Repeat("改期通知", 20)));
        var replace = new Xinge.Smpp.ReplaceSm { MessageId = scheduledResp.MessageId, ShortMessage = longer };
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRok, (await session.SendRequestAsync(replace)).Status);
        var replacedMessage = await tenant.GetAsync($"/api/v1/messages/{scheduledResp.MessageId}");
        Assert.Equal((2L, 10L), (replacedMessage.Long("segments"), replacedMessage.Long("price")));
        Assert.Equal((before.Balance - 10, before.Reserved + 10), await tenant.BalanceAsync());
        var wrongSignature = new Xinge.Smpp.ReplaceSm { MessageId = scheduledResp.MessageId, ShortMessage = Xinge.Text.Ucs2.Encode("【别人】冒充") };
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRreplacefail, (await session.SendRequestAsync(wrongSignature)).Status);
        // A new text goes through the same rules as a new message: a listed word fails the replace.
        var banned = "禁" + Guid.NewGuid().ToString("N")[..6];
        (await tenant.Admin.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words = new[] { banned } })).EnsureSuccessStatusCode();
        var withWord = new Xinge.Smpp.ReplaceSm { MessageId = scheduledResp.MessageId, ShortMessage = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】含{banned}") };
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRreplacefail, (await session.SendRequestAsync(withWord)).Status);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRreplacefail, (await session.SendRequestAsync(new Xinge.Smpp.ReplaceSm { MessageId = dataResp.MessageId, ShortMessage = longer })).Status);
        var badTime = Submit("86" + NewNumber(), body);
        badTime.ScheduleDeliveryTime = "yesterday";
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvsched, (await session.SendRequestAsync(badTime)).Status);
        await tenant.AssertLedgerReconcilesAsync();
        await session.CloseAsync();
    }

    [Fact]
    public async Task Repeated_wrong_passwords_lock_the_smpp_account_out()
    {
        var tenant = await server.CreateTenantAsync();
        var (systemId, password) = await SmppAccountAsync(tenant);
        for (var i = 0; i < 5; i++)
        {
            var wrong = await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() => Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort,
                Xinge.Smpp.BindType.Transceiver, systemId, "nope" + i, "", new Inbox(), null, default));
            Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvpaswd, wrong.Status);
        }
        // Locked out for a while: even the right password is refused now.
        var locked = await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() => Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort,
            Xinge.Smpp.BindType.Transceiver, systemId, password, "", new Inbox(), null, default));
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRbindfail, locked.Status);
    }

    [Fact]
    public async Task Smpp_accounts_enforce_their_address_list_bind_count_and_rate()
    {
        var tenant = await server.CreateTenantAsync();
        async Task<string> Account(object extra)
        {
            var systemId = "lim" + Guid.NewGuid().ToString("N")[..8];
            var body = System.Text.Json.JsonSerializer.SerializeToNode(extra)!.AsObject();
            body["systemId"] = systemId;
            body["password"] = "secret";
            var r = await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", body);
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            return systemId;
        }
        Task<Xinge.Smpp.SmppSession> Bind(string systemId) =>
            Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort, Xinge.Smpp.BindType.Transceiver, systemId, "secret", "", new Inbox(), null, default);

        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts",
            new { systemId = "badip", password = "x", allowedIps = new[] { "not-an-ip" } })).StatusCode);
        var elsewhere = await Account(new { allowedIps = new[] { "10.0.0.0/8" } });
        // From an address the account does not allow, the right password is answered as a wrong one.
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvpaswd, (await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() => Bind(elsewhere))).Status);
        var local = await Account(new { allowedIps = new[] { "127.0.0.0/8", "::1" }, maxBinds = 1 });
        var first = await Bind(local);
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRbindfail, (await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() => Bind(local))).Status);
        await first.CloseAsync();
        await Wait.Until(async () =>
        {
            try
            {
                await (await Bind(local)).CloseAsync();
                return true;
            }
            catch (Xinge.Smpp.SmppRequestFailedException)
            {
                return false;
            }
        }, "the bind count frees up after an unbind");

        var slow = await Account(new { maxTps = 3 });
        var session = await Bind(slow);
        var body = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】限速");
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => session.SendRequestAsync(Submit("86" + NewNumber(), body, registeredDelivery: 0))));
        Assert.Contains(answers, a => a.Status == Xinge.Smpp.CommandStatus.EsmeRok);
        Assert.True(answers.Count(a => a.Status == Xinge.Smpp.CommandStatus.EsmeRthrottled) >= 6, string.Join(",", answers.Select(a => a.Status)));
        await session.CloseAsync();
    }

    [Fact]
    public async Task Smpp_requests_before_bind_are_refused_and_garbage_does_not_stop_the_server()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.SmppPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Xinge.Smpp.PduCodec.EncodeToArray(new Xinge.Smpp.SubmitSm { Sequence = 9, DestinationAddr = "1" }));
        var frame = new byte[64];
        var read = await stream.ReadAsync(frame);
        var pdu = Xinge.Smpp.PduCodec.Decode(frame.AsSpan(0, read));
        Assert.Equal((Xinge.Smpp.CommandId.SubmitSmResp, Xinge.Smpp.CommandStatus.EsmeRinvbndsts, 9u), (pdu.CommandId, pdu.Status, pdu.Sequence));
        await stream.WriteAsync(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3 });
        await Task.Delay(100);
        var health = await server.Http.GetFromJsonAsync<JsonObject>("/healthz");
        Assert.Equal("up", health.Str("status"));
    }

    [Fact]
    public async Task A_tenant_never_sees_another_tenants_messages_jobs_or_replies()
    {
        var owner = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync("别家公司");
        var n = NewNumber();
        var sent = await owner.SendAsync(new { to = n, signature = owner.Signature, category = "notification", text = "仅本企业可见" });
        var id = sent["messages"]![0].Str("id");
        Assert.Equal(HttpStatusCode.OK, (await owner.Client.GetAsync($"/api/v1/messages/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync($"/api/v1/messages/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync($"/api/v1/jobs/{sent.Str("jobId")}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync($"/api/v1/jobs/{sent.Str("jobId")}/rejections")).StatusCode);
        // Another tenant's signature is not this tenant's to use.
        var stolen = await other.Client.PostAsJsonAsync("/api/v1/messages", new { to = n, signature = owner.Signature, category = "notification", text = "x" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, stolen.StatusCode);
        await owner.WaitForStatusAsync(id, "delivered");
        var sender = (await owner.GetAsync($"/api/v1/messages/{id}")).Str("from");
        (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/{E164(n)}/messages", new { to = sender, text = "收到，谢谢" })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await owner.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Count == 1, "the reply reaches its enterprise");
        Assert.Empty((await other.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!);
    }

    [Fact]
    public async Task A_job_rejects_invalid_and_duplicate_numbers_row_by_row_and_sends_the_rest()
    {
        var tenant = await server.CreateTenantAsync();
        var good = Enumerable.Range(0, 20).Select(_ => NewNumber()).ToList();
        var rows = good.Select(n => new { to = n }).ToList();
        rows.Insert(3, new { to = "12345" });
        rows.Insert(7, new { to = good[0] });
        rows.Add(new { to = "+86" + good[1] });
        rows.Add(new { to = "not a number" });
        var r = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new { recipients = rows, signature = tenant.Signature, category = "notification", text = "批量通知" });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        var job = (await r.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(20, job.Long("accepted"));
        Assert.Equal(4, job.Long("rejected"));
        var rejections = (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{job.Str("jobId")}/rejections"))!;
        Assert.Equal(
            new[] { (4L, "invalid_number"), (8L, "duplicate"), (23L, "duplicate"), (24L, "invalid_number") },
            rejections.Select(x => (x.Long("line"), x.Str("reason"))).ToArray());
        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{job.Str("jobId")}")).Str("status") == "completed", "the job completes");
        var status = await tenant.GetAsync($"/api/v1/jobs/{job.Str("jobId")}");
        Assert.Equal(24, status.Long("total"));
        Assert.Equal(20, status["counts"].Long("delivered"));
        Assert.Equal(4, status["counts"].Long("rejected"));
        // The job's counters agree with its message rows.
        var database = server.Services.GetRequiredService<Xinge.Server.Data.Database>();
        await using (var c = await database.OpenAsync())
        {
            var recount = (await Dapper.SqlMapper.QueryAsync<(string Status, long Count)>(c, "SELECT status, COUNT(*) FROM messages WHERE job_id = @id GROUP BY status",
                new { id = long.Parse(job.Str("jobId")) })).ToDictionary(r => r.Status, r => r.Count);
            foreach (var (name, value) in status["counts"]!.AsObject())
                if (name != "rejected") Assert.Equal(recount.GetValueOrDefault(name), value!.GetValue<long>());
        }
        foreach (var n in good) Assert.Equal("【信鸽科技】批量通知", Assert.Single(await HandsetAsync(n))["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Per_recipient_variables_fill_the_text()
    {
        var tenant = await server.CreateTenantAsync();
        var (a, b) = (NewNumber(), NewNumber());
        var r = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new
        {
            recipients = new object[] { new { to = a, @params = new { name = "张三" } }, new { to = b } },
            signature = tenant.Signature,
            category = "notification",
            text = "${name}您好，您的快递已到",
        });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        var job = (await r.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(1, job.Long("rejected"));
        await Wait.Until(async () => (await HandsetAsync(a)).Count == 1, "the handset receives the filled text");
        Assert.Equal("【信鸽科技】张三您好，您的快递已到", (await HandsetAsync(a))[0]["text"]!.GetValue<string>());
        var rejection = (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{job.Str("jobId")}/rejections"))!.Single();
        Assert.Equal("missing_param:name", rejection.Str("reason"));
    }

    [Fact]
    public async Task Unverified_enterprise_unapproved_signature_and_empty_balance_are_refused_with_problem_details()
    {
        var unverified = await server.CreateTenantAsync(verify: false);
        var r1 = await unverified.Client.PostAsJsonAsync("/api/v1/messages", new { to = NewNumber(), signature = unverified.Signature, category = "otp", text = "1234" });
        Assert.Equal(HttpStatusCode.Forbidden, r1.StatusCode);
        Assert.EndsWith("/enterprise-not-verified", (await r1.Content.ReadFromJsonAsync<JsonObject>()).Str("type"));

        var pending = await server.CreateTenantAsync("待审签名", approve: false);
        var r2 = await pending.Client.PostAsJsonAsync("/api/v1/messages", new { to = NewNumber(), signature = pending.Signature, category = "otp", text = "1234" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r2.StatusCode);
        Assert.EndsWith("/signature-not-approved", (await r2.Content.ReadFromJsonAsync<JsonObject>()).Str("type"));

        var poor = await server.CreateTenantAsync(credit: 0);
        var r3 = await poor.Client.PostAsJsonAsync("/api/v1/messages", new { to = NewNumber(), signature = poor.Signature, category = "otp", text = "1234" });
        Assert.Equal(HttpStatusCode.PaymentRequired, r3.StatusCode);
        var problem = (await r3.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.EndsWith("/insufficient-balance", problem.Str("type"));
        Assert.False(string.IsNullOrEmpty(problem.Str("detail")));
        Assert.Equal((0L, 0L), await poor.BalanceAsync());
    }

    [Fact]
    public async Task Concurrent_requests_racing_for_a_short_balance_get_exactly_what_it_covers()
    {
        // 5 fen a one-part message: the balance covers 12 of the 40 requests, which arrive at once, so the store meets
        // batches the balance covers only in part.
        var tenant = await server.CreateTenantAsync(credit: 60);
        var numbers = Enumerable.Range(0, 40).Select(_ => NewNumber()).ToList();
        var answers = await Task.WhenAll(numbers.Select(n =>
            tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = n, signature = tenant.Signature, category = "notification", text = "余额竞争" })));
        Assert.All(answers, a => Assert.True(a.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.PaymentRequired, a.StatusCode.ToString()));
        Assert.Equal(12, answers.Count(a => a.StatusCode == HttpStatusCode.Accepted));
        var accepted = numbers.Where((_, i) => answers[i].StatusCode == HttpStatusCode.Accepted).ToList();
        foreach (var n in accepted) await Wait.Until(async () => (await HandsetAsync(n)).Count == 1, "an accepted message arrives");
        foreach (var n in numbers.Except(accepted)) Assert.Empty(await HandsetAsync(n));
        await Wait.Until(async () => await tenant.BalanceAsync() == (0, 0), "every accepted message is charged");
        var ledger = await tenant.AssertLedgerReconcilesAsync();
        Assert.Equal(60, ledger.Long("charges"));
    }

    [Fact]
    public async Task Hostile_and_malformed_requests_get_clear_problems_never_500()
    {
        var tenant = await server.CreateTenantAsync();
        async Task Expect(HttpStatusCode code, HttpResponseMessage r)
        {
            Assert.Equal(code, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            Assert.False(string.IsNullOrEmpty((await r.Content.ReadFromJsonAsync<JsonObject>()).Str("detail")));
        }
        await Expect(HttpStatusCode.BadRequest, await tenant.Client.PostAsync("/api/v1/messages", new StringContent("{\"to\":", Encoding.UTF8, "application/json")));
        await Expect(HttpStatusCode.BadRequest, await tenant.Client.PostAsync("/api/v1/messages", new StringContent("null", Encoding.UTF8, "application/json")));
        await Expect(HttpStatusCode.BadRequest, await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = 42, signature = tenant.Signature, category = "otp", text = "x" }));
        await Expect(HttpStatusCode.BadRequest, await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = NewNumber(), signature = tenant.Signature, category = "spam", text = "x" }));
        await Expect(HttpStatusCode.BadRequest, await tenant.Client.PostAsJsonAsync("/api/v1/messages",
            new { to = Enumerable.Range(0, 1001).Select(i => "138" + i.ToString("D8")).ToArray(), signature = tenant.Signature, category = "otp", text = "x" }));
        await Expect(HttpStatusCode.UnprocessableEntity, await tenant.Client.PostAsJsonAsync("/api/v1/messages",
            new { to = NewNumber(), signature = tenant.Signature, category = "marketing", text = new string('长', 300) }));
        await Expect(HttpStatusCode.UnprocessableEntity, await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = "000", signature = tenant.Signature, category = "otp", text = "x" }));
        await Expect(HttpStatusCode.Unauthorized, await server.Http.PostAsJsonAsync("/api/v1/messages", new { }));
        await Expect(HttpStatusCode.Unauthorized, await server.Client("xk_forged").GetAsync("/api/v1/balance"));
        await Expect(HttpStatusCode.Forbidden, await tenant.Client.PostAsJsonAsync("/api/v1/admin/enterprises", new { name = "x", licenceNumber = "1" }));
        await Expect(HttpStatusCode.NotFound, await tenant.Client.GetAsync("/api/v1/messages/not-an-id"));
        await Expect(HttpStatusCode.BadRequest, await tenant.Client.PostAsJsonAsync("/api/v1/signatures", new { text = "这个签名实在是太长了啊" }));
        await Expect(HttpStatusCode.BadRequest, await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/credit", new { amount = -5 }));
        await Expect(HttpStatusCode.NotFound, await tenant.Admin.PostAsJsonAsync("/api/v1/admin/enterprises/999999/credit", new { amount = 5 }));
        await Expect(HttpStatusCode.Unauthorized, await server.Http.PostAsJsonAsync("/api/v1/auth/token", new { username = "admin", password = "wrong" }));
    }

    [Fact]
    public async Task An_idempotency_key_answers_a_repeat_with_the_first_answer_and_charges_once()
    {
        var tenant = await server.CreateTenantAsync();
        var (n, n2) = (NewNumber(), NewNumber());
        var body = new Once(n, tenant.Signature, "notification", "只发一次");
        Task<string> Post() => PostWith("order-7781");
        async Task<string> PostWith(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/messages") { Content = JsonContent.Create(body with { To = key == "order-7781" ? n : n2 }) };
            request.Headers.Add("Idempotency-Key", key);
            var r = await tenant.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonObject>())!["messages"]![0].Str("id");
        }
        var first = await Post();
        var second = await Post();
        Assert.Equal(first, second);
        // Retries while the first is still on its way: one message, every answer the same.
        var racing = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostWith("order-7782")));
        Assert.Single(racing.Distinct());
        await tenant.WaitForStatusAsync(first, "delivered");
        await Task.Delay(300);
        Assert.Single(await HandsetAsync(n));
        await Wait.Until(async () => (await tenant.BalanceAsync()) == (100_000L - 10, 0L), "two messages charged, once each");
    }

    private sealed record Once(string To, string Signature, string Category, string Text);

    [Fact]
    public async Task Replies_reach_the_inbox_and_a_signed_webhook_and_unsubscribe_stops_marketing()
    {
        var tenant = await server.CreateTenantAsync();
        await using var hook = await HttpSink.StartAsync(failFirst: true);
        const string secret = "webhook-secret-0123456789";
        (await tenant.Client.PutAsJsonAsync("/api/v1/webhook", new { url = hook.Url + "/hook", secret })).EnsureSuccessStatusCode();
        var n = NewNumber();
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "marketing", text = "双十一大促" });
        var id = sent["messages"]![0].Str("id");
        var m = await tenant.WaitForStatusAsync(id, "delivered");
        Assert.Equal("【信鸽科技】双十一大促退订回T", Assert.Single(await HandsetAsync(n))["text"]!.GetValue<string>());
        (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/{E164(n)}/messages", new { to = m.Str("from"), text = "退订" })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Count == 1, "the reply is in the inbox");
        var reply = (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))![0]!;
        Assert.Equal((E164(n), "退订"), (reply.Str("from"), reply.Str("text")));
        Assert.Empty((await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/inbound?after={reply.Str("id")}"))!);

        await Wait.Until(() => Task.FromResult(hook.On("/hook").Count >= 2), "both events reach the webhook", () => string.Join("\n", hook.On("/hook").Select(x => x.Body)));
        foreach (var (_, _, body, signature) in hook.On("/hook"))
        {
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));
            Assert.Equal(expected, signature);
        }
        var events = hook.On("/hook").Select(x => JsonNode.Parse(x.Body)!).ToList();
        // Every try carries its delivery id and when it was sent, under the signature: a receiver can refuse replays.
        Assert.All(events, e => Assert.InRange(e!["timestamp"]!.GetValue<long>(), DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1));
        Assert.All(events, e => Assert.False(string.IsNullOrEmpty(e.Str("deliveryId"))));
        Assert.Contains(events, e => e.Str("type") == "message.status" && e.Str("messageId") == id && e.Str("status") == "delivered");
        Assert.Contains(events, e => e.Str("type") == "inbound" && e.Str("text") == "退订");

        var again = await tenant.Client.PostAsJsonAsync("/api/v1/messages", new { to = n, signature = tenant.Signature, category = "marketing", text = "再次促销" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, again.StatusCode);
        Assert.Contains("opted_out", await again.Content.ReadAsStringAsync());
        // Notifications still go to a number that left marketing.
        await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "您的订单已发货" });
    }

    [Fact]
    public async Task A_long_reply_arrives_reassembled_in_the_inbox()
    {
        var tenant = await server.CreateTenantAsync();
        var n = NewNumber();
        var sent = await tenant.SendAsync(new { to = n, signature = tenant.Signature, category = "notification", text = "请回复您的地址" });
        var from = (await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "delivered")).Str("from");
        var reply = string.Concat(Enumerable.Repeat("北京市海淀区中关村大街一号院", 12));
        (await server.Simulator.PostAsJsonAsync($"/api/v1/simulator/handsets/{E164(n)}/messages", new { to = from + "88", text = reply })).EnsureSuccessStatusCode();
        await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Count == 1, "the reply is in the inbox");
        var inbound = (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))![0]!;
        Assert.Equal(reply, inbound.Str("text"));
        Assert.Equal(from + "88", inbound.Str("to"));
    }

    [Fact]
    public async Task Health_and_openapi_are_served()
    {
        var health = await server.Http.GetFromJsonAsync<JsonObject>("/healthz");
        Assert.Equal("up", health.Str("status"));
        var openapi = await server.Http.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/v1/messages", openapi);
    }
}

public sealed class Inbox : Xinge.Smpp.ISmppRequestHandler
{
    public System.Collections.Concurrent.ConcurrentQueue<Xinge.Smpp.Pdu> Received { get; } = new();

    public ValueTask HandleAsync(Xinge.Smpp.SmppSession session, Xinge.Smpp.Pdu request)
    {
        Received.Enqueue(request);
        if (request is Xinge.Smpp.DeliverSm d) session.Send(d.CreateResponse());
        return ValueTask.CompletedTask;
    }
}
