using System.Collections.Concurrent;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Simulator.Tests;

public class SimulatorTests
{
    private sealed class Collector : ISmppRequestHandler
    {
        public readonly ConcurrentQueue<Pdu> Received = new();
        public ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            Received.Enqueue(request);
            if (request is DeliverSm d) session.Send(d.CreateResponse());
            return ValueTask.CompletedTask;
        }
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in 10 s");
            await Task.Delay(20);
        }
    }

    private static async Task<IReadOnlyList<string>> Submit(SmppSession session, string to, string text, bool dpf = false)
    {
        var encoding = SmsText.ChooseEncoding(text);
        var ids = new List<string>();
        foreach (var part in SmsText.Encode(text, encoding, 33))
        {
            var submit = new SubmitSm
            {
                SourceAddr = "10690001",
                DestAddrTon = 1,
                DestAddrNpi = 1,
                DestinationAddr = to,
                EsmClass = part.HasUdh ? EsmClass.UdhIndicator : (byte)0,
                DataCoding = (byte)encoding,
                RegisteredDelivery = 1,
                ShortMessage = part.ShortMessage,
            };
            if (dpf) submit.SetTlv(TlvTag.SetDpf, [1]);
            var resp = (SubmitSmResp)await session.SendRequestAsync(submit);
            Assert.Equal(CommandStatus.EsmeRok, resp.Status);
            ids.Add(resp.MessageId);
        }
        return ids;
    }

    [Fact]
    public async Task Concatenated_message_arrives_reassembled_with_a_receipt_per_part()
    {
        await using var sim = new SmscSimulator(new SimulatorOptions { Port = 0 });
        sim.Start();
        var collector = new Collector();
        var session = await SmppClient.BindAsync("127.0.0.1", sim.Port, BindType.Transceiver, "x", "y", "", collector, null, default);
        var text = string.Concat(Enumerable.Repeat("短信测试", 25)) + "😀";
        var ids = await Submit(session, "8613800138000", text);
        Assert.Equal(2, ids.Count);
        await Until(() => collector.Received.Count(p => p is DeliverSm) == 2);
        var messages = sim.MessagesOf("+8613800138000");
        Assert.Equal(text, Assert.Single(messages).Text);
        var receipts = collector.Received.OfType<DeliverSm>().Select(DeliveryReceipt.FromDeliverSm).ToList();
        Assert.All(receipts, r => Assert.True(r!.IsDelivered));
        Assert.Equal(ids.Order(), receipts.Select(r => r!.MessageId).Order());
    }

    [Fact]
    public async Task Failing_handset_gets_undeliverable_receipts_and_no_message()
    {
        await using var sim = new SmscSimulator(new SimulatorOptions { Port = 0 });
        sim.Start();
        sim.SetHandset("8613900000001", true, DeliveryFailure.Undeliverable);
        var collector = new Collector();
        var session = await SmppClient.BindAsync("127.0.0.1", sim.Port, BindType.Transceiver, "x", "y", "", collector, null, default);
        await Submit(session, "8613900000001", "hello");
        await Until(() => !collector.Received.IsEmpty);
        Assert.Equal(DeliveryReceipt.Undeliverable, DeliveryReceipt.FromDeliverSm((DeliverSm)collector.Received.Single())!.Stat);
        Assert.Empty(sim.MessagesOf("8613900000001"));
    }

    [Fact]
    public async Task Switched_off_handset_holds_messages_and_alerts_when_back()
    {
        await using var sim = new SmscSimulator(new SimulatorOptions { Port = 0 });
        sim.Start();
        sim.SetHandset("8613900000002", false, null);
        var collector = new Collector();
        var session = await SmppClient.BindAsync("127.0.0.1", sim.Port, BindType.Transceiver, "x", "y", "", collector, null, default);
        await Submit(session, "8613900000002", "are you there", dpf: true);
        await Task.Delay(200);
        Assert.Empty(collector.Received);
        Assert.Empty(sim.MessagesOf("8613900000002"));
        sim.SetHandset("8613900000002", true, null);
        await Until(() => collector.Received.Count == 2);
        Assert.Equal("are you there", Assert.Single(sim.MessagesOf("8613900000002")).Text);
        var alert = Assert.Single(collector.Received.OfType<AlertNotification>());
        Assert.Equal("8613900000002", alert.SourceAddr);
        Assert.Equal("10690001", alert.EsmeAddr);
    }

    [Fact]
    public async Task Handset_sends_mobile_originated_sms_to_a_bound_receiver()
    {
        await using var sim = new SmscSimulator(new SimulatorOptions { Port = 0 });
        sim.Start();
        var collector = new Collector();
        await SmppClient.BindAsync("127.0.0.1", sim.Port, BindType.Receiver, "x", "y", "", collector, null, default);
        Assert.True(sim.SendFromHandset("+8613800138000", "106900011", "退订"));
        await Until(() => !collector.Received.IsEmpty);
        var mo = (DeliverSm)collector.Received.Single();
        Assert.Equal(("8613800138000", "106900011"), (mo.SourceAddr, mo.DestinationAddr));
        Assert.Equal("退订", SmsText.Decode(mo.ShortMessage, mo.DataCoding));
    }
}
