using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Xinge.Smpp;

namespace Xinge.Server.Tests;

/// <summary>The SMPP server fed thousands of random and mutated PDUs stays up and keeps serving a valid client.</summary>
public sealed class FuzzTests(SqliteFixture fixture) : IClassFixture<SqliteFixture>
{
    private static IEnumerable<byte[]> Seeds()
    {
        yield return PduCodec.EncodeToArray(new Bind(BindType.Transceiver) { SystemId = "fuzz", Password = "fuzz" });
        yield return PduCodec.EncodeToArray(new SubmitSm { DestAddrTon = 1, DestinationAddr = "8613800138000", ShortMessage = [0x4F, 0x60], DataCoding = 8 });
        yield return PduCodec.EncodeToArray(new SubmitMulti { Destinations = [new(1, 1, "8613800138000"), new(0, 0, "", "list")], ShortMessage = [1, 2, 3] });
        yield return PduCodec.EncodeToArray(new QuerySm { MessageId = "1" });
        yield return PduCodec.EncodeToArray(new EnquireLink());
        var withTlv = new DeliverSm { ShortMessage = [1] };
        withTlv.SetTlv(TlvTag.MessagePayload, new byte[40]);
        yield return PduCodec.EncodeToArray(withTlv);
    }

    private static byte[] Mutate(byte[] seed, Random r)
    {
        var b = (byte[])seed.Clone();
        switch (r.Next(5))
        {
            case 0: // flip bytes in the body
                for (var i = 0; i < 1 + r.Next(4) && b.Length > 16; i++) b[16 + r.Next(b.Length - 16)] ^= (byte)r.Next(1, 256);
                return b;
            case 1: // truncate, keeping the length field honest
                var cut = b[..Math.Max(16, b.Length - r.Next(1, Math.Max(2, b.Length - 15)))];
                BinaryPrimitives.WriteUInt32BigEndian(cut, (uint)cut.Length);
                return cut;
            case 2: // an unknown or response command id
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), (uint)r.Next());
                return b;
            case 3: // pure noise with a plausible length
                var noise = new byte[16 + r.Next(200)];
                r.NextBytes(noise);
                BinaryPrimitives.WriteUInt32BigEndian(noise, (uint)noise.Length);
                return noise;
            default: // strip every NUL so C-strings never end
                var noNul = b.Select(x => x == 0 ? (byte)0x41 : x).ToArray();
                BinaryPrimitives.WriteUInt32BigEndian(noNul, (uint)noNul.Length);
                return noNul;
        }
    }

    [Fact]
    public async Task Thousands_of_hostile_pdus_leave_the_server_serving()
    {
        var server = fixture.Server;
        // The enterprise and its ESME were there before the attack, from the same address: the flood of failed binds
        // locks that address (LoginGuard), but not for the accounts that signed in from it before.
        var tenant = await server.CreateTenantAsync();
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId = "fz" + tenant.Id, password = "pw" })).EnsureSuccessStatusCode();
        await (await SmppClient.BindAsync("127.0.0.1", server.SmppPort, BindType.Transceiver, "fz" + tenant.Id, "pw", "", new Inbox(), null, default)).CloseAsync();
        var seeds = Seeds().ToList();
        var random = new Random(20261123);
        var sent = 0;
        for (var connection = 0; connection < 20; connection++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, server.SmppPort);
            var stream = tcp.GetStream();
            var drain = Task.Run(async () =>
            {
                var sink = new byte[8192];
                try
                {
                    while (await stream.ReadAsync(sink) > 0) { }
                }
                catch (IOException)
                {
                }
            });
            try
            {
                for (var i = 0; i < 250; i++)
                {
                    var pdu = Mutate(seeds[random.Next(seeds.Count)], random);
                    await stream.WriteAsync(pdu);
                    sent++;
                }
                // Some connections end with garbage framing, which closes them.
                if (connection % 4 == 3) await stream.WriteAsync(new byte[] { 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 });
            }
            catch (IOException)
            {
                // The server may hang up on a stream it cannot frame: that is its answer.
            }
            tcp.Client.Shutdown(SocketShutdown.Send);
            await Task.WhenAny(drain, Task.Delay(2000));
        }
        Assert.Equal(5000, sent);

        Assert.NotNull(await server.AdminTokenAsync());
        var session = await SmppClient.BindAsync("127.0.0.1", server.SmppPort, BindType.Transceiver, "fz" + tenant.Id, "pw", "", new Inbox(), null, default);
        var resp = (SubmitSmResp)await session.SendRequestAsync(new SubmitSm
        {
            DestAddrTon = 1,
            DestAddrNpi = 1,
            DestinationAddr = "8613600990001",
            DataCoding = 8,
            ShortMessage = Xinge.Text.Ucs2.Encode($"【{tenant.Signature}】仍在服务"),
        });
        Assert.Equal(CommandStatus.EsmeRok, resp.Status);
        await tenant.WaitForStatusAsync(resp.MessageId, "delivered");
        Assert.Equal("up", (await server.Http.GetFromJsonAsync<JsonObject>("/healthz")).Str("status"));
        await session.CloseAsync();
    }
}
