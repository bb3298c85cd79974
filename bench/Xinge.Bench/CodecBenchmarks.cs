using BenchmarkDotNet.Attributes;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Bench;

[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly SubmitSm _submit = new()
    {
        SourceAddr = "106900001",
        DestAddrTon = 1,
        DestAddrNpi = 1,
        DestinationAddr = "8613800138000",
        RegisteredDelivery = 1,
        DataCoding = 8,
        ShortMessage = Ucs2.Encode("【信鸽科技】您的验证码是482913，五分钟内有效。"),
    };
    private readonly string _chinese = "【信鸽科技】" + string.Concat(Enumerable.Repeat("信鸽短信平台测试内容", 20)) + "😀";

    private readonly SubmitSm _decoded = new();

    /// <summary>Encode into a pooled buffer and decode into a reused PDU, as a session's steady state does: no allocation.</summary>
    [Benchmark]
    public int SubmitSmEncodeDecode()
    {
        var (buffer, length) = PduCodec.Encode(_submit);
        var pdu = (SubmitSm)PduCodec.Decode(buffer.AsSpan(0, length), _decoded);
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        return pdu.ShortMessageSpan.Length;
    }

    /// <summary>The same, reading the destination as a string (what routing needs): one string allocated.</summary>
    [Benchmark]
    public int SubmitSmEncodeDecodeReadingTheNumber()
    {
        var (buffer, length) = PduCodec.Encode(_submit);
        var pdu = (SubmitSm)PduCodec.Decode(buffer.AsSpan(0, length), _decoded);
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        return pdu.DestinationAddr.Length;
    }

    [Benchmark]
    public int PlanAndSegmentChinese() => SmsText.Encode(_chinese, SmsText.Plan(_chinese).Encoding, 1).Count;
}
