using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xinge.Smpp;

namespace Xinge.Smpp.Tests;

public class PduTests
{
    private static T RoundTrip<T>(T pdu) where T : Pdu => (T)PduCodec.Decode(PduCodec.EncodeToArray(pdu));

    [Fact]
    public void Submit_sm_round_trips_every_field_and_tlv()
    {
        var pdu = new SubmitSm
        {
            Sequence = 42,
            ServiceType = "CMT",
            SourceAddrTon = 5,
            SourceAddrNpi = 0,
            SourceAddr = "1069000",
            DestAddrTon = 1,
            DestAddrNpi = 1,
            DestinationAddr = "8613800138000",
            EsmClass = 0x40,
            ProtocolId = 0,
            PriorityFlag = 1,
            ScheduleDeliveryTime = "",
            ValidityPeriod = "000001000000R",
            RegisteredDelivery = 1,
            DataCoding = 8,
            ShortMessage = [5, 0, 3, 1, 2, 1, 0x4F, 0x60],
        };
        pdu.SetTlv(TlvTag.SetDpf, [1]);
        var back = RoundTrip(pdu);
        Assert.Equal(42u, back.Sequence);
        Assert.Equal("CMT", back.ServiceType);
        Assert.Equal("1069000", back.SourceAddr);
        Assert.Equal("8613800138000", back.DestinationAddr);
        Assert.Equal((byte)0x40, back.EsmClass);
        Assert.Equal("000001000000R", back.ValidityPeriod);
        Assert.Equal((byte)8, back.DataCoding);
        Assert.Equal(pdu.ShortMessage, back.ShortMessage);
        Assert.Equal(new byte[] { 1 }, back.GetTlv(TlvTag.SetDpf));
    }

    [Fact]
    public void Binds_responses_and_bodyless_pdus_round_trip()
    {
        var bind = RoundTrip(new Bind(BindType.Transceiver) { SystemId = "ent1", Password = "secret", SystemType = "", Sequence = 1 });
        Assert.Equal(BindType.Transceiver, bind.Type);
        Assert.Equal(("ent1", "secret"), (bind.SystemId, bind.Password));
        var resp = RoundTrip(new SubmitSmResp { Sequence = 9, MessageId = "ABCDEF01" });
        Assert.Equal("ABCDEF01", resp.MessageId);
        Assert.IsType<EnquireLink>(RoundTrip(new EnquireLink { Sequence = 3 }));
        Assert.IsType<Unbind>(RoundTrip(new Unbind { Sequence = 4 }));
        var alert = RoundTrip(new AlertNotification { SourceAddr = "8613800138000", EsmeAddr = "1069" });
        Assert.Equal("8613800138000", alert.SourceAddr);
    }

    [Fact]
    public void An_error_response_without_body_decodes()
    {
        var frame = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(frame, 16);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)CommandId.SubmitSmResp);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), (uint)CommandStatus.EsmeRthrottled);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 7);
        var pdu = PduCodec.Decode(frame);
        Assert.Equal(CommandStatus.EsmeRthrottled, pdu.Status);
    }

    [Fact]
    public void Truncated_and_unknown_pdus_are_format_errors()
    {
        var bytes = PduCodec.EncodeToArray(new SubmitSm { DestinationAddr = "123", ShortMessage = [1, 2, 3] });
        var truncated = bytes[..^2];
        BinaryPrimitives.WriteUInt32BigEndian(truncated, (uint)truncated.Length);
        Assert.Throws<SmppFormatException>(() => PduCodec.Decode(truncated));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), 0x00000999);
        Assert.Equal(CommandStatus.EsmeRinvcmdid, Assert.Throws<SmppFormatException>(() => PduCodec.Decode(bytes)).Status);
    }

    [Fact]
    public void Receipt_text_parses_in_the_customary_form_and_from_tlvs()
    {
        var r = DeliveryReceipt.Parse("id:0A1B2C3D sub:001 dlvrd:001 submit date:2611231010 done date:2611231011 stat:DELIVRD err:000 text:hello world");
        Assert.NotNull(r);
        Assert.Equal("0A1B2C3D", r.MessageId);
        Assert.True(r.IsDelivered);
        Assert.Equal(new DateTime(2026, 11, 23, 10, 11, 0), r.DoneDate);
        Assert.Equal("hello world", r.Text);
        var formatted = new DeliveryReceipt("77", "UNDELIV", "001", null, null).Format();
        Assert.Equal("UNDELIV", DeliveryReceipt.Parse(formatted)!.Stat);

        var pdu = new DeliverSm { EsmClass = EsmClass.DeliveryReceipt, ShortMessage = Encoding.ASCII.GetBytes("garbage") };
        pdu.SetTlv(TlvTag.ReceiptedMessageId, Encoding.ASCII.GetBytes("12345\0"));
        pdu.SetTlv(TlvTag.MessageState, [(byte)MessageState.Delivered]);
        var fromTlv = DeliveryReceipt.FromDeliverSm(pdu);
        Assert.Equal(("12345", "DELIVRD"), (fromTlv!.MessageId, fromTlv.Stat));
        Assert.Null(DeliveryReceipt.Parse("not a receipt"));
    }
}

public class SessionTests
{
    private sealed class Echo : ISmppRequestHandler
    {
        public ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            if (request is Bind b)
            {
                session.BoundAs = b.Type;
                session.Send(b.CreateResponse());
            }
            else if (request is SubmitSm s)
            {
                session.Send(new SubmitSmResp { Sequence = s.Sequence, MessageId = s.Sequence.ToString() });
            }
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Windowed_requests_all_get_their_own_responses()
    {
        await using var listener = new SmppListener(IPAddress.Loopback, 0, () => new Echo());
        listener.Start();
        var session = await SmppClient.BindAsync("127.0.0.1", listener.Port, BindType.Transceiver, "a", "b", "", new Echo(),
            new SmppSessionOptions { WindowSize = 10 }, default);
        var tasks = Enumerable.Range(0, 500).Select(_ => session.SendRequestAsync(new SubmitSm { DestinationAddr = "1" })).ToArray();
        var responses = await Task.WhenAll(tasks);
        Assert.All(responses, r => Assert.Equal(((SubmitSmResp)r).MessageId, r.Sequence.ToString()));
        Assert.Equal(500, responses.Select(r => r.Sequence).Distinct().Count());
        await session.CloseAsync();
    }

    private sealed class Silent : ISmppRequestHandler
    {
        public ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            if (request is Bind b)
            {
                session.BoundAs = b.Type;
                session.Send(b.CreateResponse());
            }
            // Submits are swallowed: the client must time out.
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task An_unanswered_request_times_out_and_frees_its_window_slot()
    {
        await using var listener = new SmppListener(IPAddress.Loopback, 0, () => new Silent());
        listener.Start();
        var session = await SmppClient.BindAsync("127.0.0.1", listener.Port, BindType.Transceiver, "a", "b", "", new Echo(),
            new SmppSessionOptions { WindowSize = 1, ResponseTimeout = TimeSpan.FromSeconds(1), EnquireLinkInterval = TimeSpan.Zero }, default);
        await Assert.ThrowsAsync<TimeoutException>(() => session.SendRequestAsync(new SubmitSm { DestinationAddr = "1" }));
        Assert.Equal(0, session.Outstanding);
        // The one window slot is free again: an enquire_link (answered by the peer's session) goes through.
        Assert.IsType<EnquireLinkResp>(await session.SendRequestAsync(new EnquireLink()));
        await session.CloseAsync();
    }

    [Fact]
    public async Task An_idle_bound_session_sends_enquire_link()
    {
        var peers = new List<SmppSession>();
        await using var listener = new SmppListener(IPAddress.Loopback, 0, () => new Echo());
        listener.Start();
        var session = await SmppClient.BindAsync("127.0.0.1", listener.Port, BindType.Transceiver, "a", "b", "", new Echo(),
            new SmppSessionOptions { EnquireLinkInterval = TimeSpan.FromSeconds(1) }, default);
        var server = listener.Sessions.Single();
        Assert.Equal(0, server.EnquireLinksReceived);
        await Task.Delay(2500);
        Assert.True(server.EnquireLinksReceived >= 1, "no enquire_link reached the peer");
        Assert.True(session.IsOpen);
        await session.CloseAsync();
    }

    [Fact]
    public async Task Malformed_pdu_gets_generic_nack_and_the_session_keeps_serving()
    {
        await using var listener = new SmppListener(IPAddress.Loopback, 0, () => new Echo());
        listener.Start();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, listener.Port);
        var stream = tcp.GetStream();
        // A submit_sm whose body stops in the middle of a C-Octet String.
        var bad = new byte[20];
        BinaryPrimitives.WriteUInt32BigEndian(bad, 20);
        BinaryPrimitives.WriteUInt32BigEndian(bad.AsSpan(4), (uint)CommandId.SubmitSm);
        BinaryPrimitives.WriteUInt32BigEndian(bad.AsSpan(12), 5);
        bad[16] = (byte)'A'; bad[17] = (byte)'B'; bad[18] = (byte)'C'; bad[19] = (byte)'D';
        await stream.WriteAsync(bad);
        await stream.WriteAsync(PduCodec.EncodeToArray(new EnquireLink { Sequence = 6 }));
        var nack = await ReadPdu(stream);
        Assert.IsType<GenericNack>(nack);
        Assert.Equal(5u, nack.Sequence);
        Assert.IsType<EnquireLinkResp>(await ReadPdu(stream));
    }

    private static async Task<Pdu> ReadPdu(NetworkStream stream)
    {
        var header = new byte[4];
        await stream.ReadExactlyAsync(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        var frame = new byte[length];
        header.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(4));
        return PduCodec.Decode(frame);
    }
}

public class SmscMessageIdTests
{
    [Theory]
    [InlineData("0000A1b2", "A1B2")]
    [InlineData(" 0012345\0", "12345")]
    [InlineData("000", "0")]
    public void Ids_compare_without_case_or_leading_zeros(string raw, string canonical) => Assert.Equal(canonical, SmscMessageId.Canonical(raw));

    [Fact]
    public void Hex_ids_are_compared_in_decimal_when_the_smsc_writes_hex()
    {
        Assert.Equal("41394", SmscMessageId.Normalize("0000a1b2", hex: true));
        Assert.Equal("41394", SmscMessageId.Normalize("041394", hex: false));
        Assert.Equal("XYZ", SmscMessageId.Normalize("xyz", hex: true));
    }
}

public class SmppTimeTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Absolute_times_carry_their_offset_in_quarter_hours()
    {
        Assert.True(SmppTime.TryParse("261124093000032+", Now, out var t));
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 9, 30, 0, TimeSpan.FromHours(8)), t);
        Assert.True(SmppTime.TryParse("261124093000000-", Now, out var utc));
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 9, 30, 0, TimeSpan.Zero), utc);
    }

    [Fact]
    public void Relative_times_add_to_now_and_empty_means_unset()
    {
        Assert.True(SmppTime.TryParse("000001020000000R", Now, out var t));
        Assert.Equal(Now.AddDays(1).AddHours(2), t);
        Assert.True(SmppTime.TryParse("", Now, out var none));
        Assert.Null(none);
    }

    [Theory]
    [InlineData("2611240930")]
    [InlineData("261324093000032+")]
    [InlineData("261124093000032X")]
    [InlineData("26112409300003a+")]
    public void Malformed_times_are_refused(string value) => Assert.False(SmppTime.TryParse(value, Now, out _));

    [Fact]
    public void Formatting_writes_utc() => Assert.Equal("261123080000000+", SmppTime.Format(Now));
}
