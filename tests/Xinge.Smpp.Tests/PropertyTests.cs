using System.Collections;
using System.Reflection;
using Xinge.Smpp;

namespace Xinge.Smpp.Tests;

/// <summary>Every PDU type, filled with random valid values, survives encode → decode → encode byte for byte.</summary>
public class PropertyTests
{
    public static IEnumerable<object[]> AllCommands() =>
        Enum.GetValues<CommandId>().Where(c => Pdu.Create(c) is not null).Select(c => new object[] { c });

    [Fact]
    public void Every_command_of_smpp_3_4_has_a_pdu()
    {
        var missing = Enum.GetValues<CommandId>().Where(c => Pdu.Create(c) is null).ToList();
        Assert.Empty(missing);
    }

    [Theory]
    [MemberData(nameof(AllCommands))]
    public void Round_trips_byte_for_byte(CommandId command)
    {
        var random = new Random((int)command);
        Pdu? reused = null;
        for (var i = 0; i < 500; i++)
        {
            var pdu = Pdu.Create(command)!;
            Fill(pdu, random);
            var bytes = PduCodec.EncodeToArray(pdu);
            var decoded = PduCodec.Decode(bytes);
            Assert.Equal(pdu.GetType(), decoded.GetType());
            Assert.Equal(bytes, PduCodec.EncodeToArray(decoded));
            // Decoding into a reused PDU of the same type gives the same bytes, and so do its fields once read.
            reused = PduCodec.Decode(bytes, reused);
            Assert.Equal(bytes, PduCodec.EncodeToArray(reused));
            Touch(reused);
            Assert.Equal(bytes, PduCodec.EncodeToArray(reused));
        }
    }

    /// <summary>Reads every property, so lazily decoded fields are materialized.</summary>
    private static void Touch(Pdu pdu)
    {
        foreach (var p in pdu.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0 && p.PropertyType != typeof(ReadOnlySpan<byte>)))
            _ = p.GetValue(pdu);
    }

    private static string RandomString(Random r, int max) =>
        new(Enumerable.Range(0, r.Next(0, max + 1)).Select(_ => (char)r.Next(0x21, 0x7F)).ToArray());

    private static void Fill(Pdu pdu, Random r)
    {
        pdu.Sequence = (uint)r.Next(1, int.MaxValue);
        // Error responses may come without a body; give responses a success status so the body is compared too.
        pdu.Status = pdu.IsResponse ? CommandStatus.EsmeRok : (CommandStatus)r.Next(0, 256);
        foreach (var p in pdu.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            if (p.Name is nameof(Pdu.Sequence) or nameof(Pdu.Status)) continue;
            var t = p.PropertyType;
            object? value = t switch
            {
                _ when t == typeof(string) => RandomString(r, 5),
                _ when t == typeof(byte) => (byte)r.Next(0, 256),
                _ when t == typeof(byte[]) => Enumerable.Range(0, r.Next(0, 255)).Select(_ => (byte)r.Next(0, 256)).ToArray(),
                _ when t == typeof(MessageState) => (MessageState)r.Next(1, 9),
                _ when t == typeof(List<MultiDestination>) => Enumerable.Range(0, r.Next(0, 8))
                    .Select(_ => r.Next(2) == 0 ? new MultiDestination((byte)r.Next(7), (byte)r.Next(19), RandomString(r, 20)) : new MultiDestination(0, 0, "", RandomString(r, 20)))
                    .ToList(),
                _ when t == typeof(List<UnsuccessfulSme>) => Enumerable.Range(0, r.Next(0, 5))
                    .Select(_ => new UnsuccessfulSme((byte)r.Next(7), (byte)r.Next(19), RandomString(r, 20), (CommandStatus)r.Next())).ToList(),
                _ when t == typeof(List<Tlv>) => r.Next(3) == 0 ? null : Enumerable.Range(0, r.Next(1, 4))
                    .Select(_ => new Tlv((ushort)r.Next(0x1400, 0x3FFF), Enumerable.Range(0, r.Next(0, 20)).Select(_ => (byte)r.Next(256)).ToArray())).ToList(),
                _ => throw new InvalidOperationException($"no generator for {pdu.GetType().Name}.{p.Name} ({t.Name})"),
            };
            p.SetValue(pdu, value);
        }
    }
}
