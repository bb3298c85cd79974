using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Xinge.Smpp;

/// <summary>Writes PDU fields into a pooled, growable buffer. The command_length is patched in at <see cref="Finish"/>.</summary>
public ref struct PduWriter
{
    private byte[] _buffer;
    private int _position;

    public PduWriter(int capacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(capacity);
        _position = 0;
    }

    public readonly int Length => _position;

    private Span<byte> Take(int n)
    {
        if (_position + n > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _position + n));
            _buffer.AsSpan(0, _position).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var span = _buffer.AsSpan(_position, n);
        _position += n;
        return span;
    }

    public void WriteByte(byte value) => Take(1)[0] = value;
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Take(2), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Take(4), value);
    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    /// <summary>A C-Octet String (SMPP 3.4 §3.1): ASCII then NUL. Longer values than the field allows are the caller's bug.</summary>
    public void WriteCString(string? value)
    {
        value ??= "";
        var span = Take(value.Length + 1);
        for (var i = 0; i < value.Length; i++) span[i] = (byte)value[i];
        span[value.Length] = 0;
    }

    public void WriteTlv(in Tlv tlv)
    {
        WriteUInt16(tlv.Tag);
        WriteUInt16((ushort)tlv.Value.Length);
        WriteBytes(tlv.Value);
    }

    /// <summary>Sets command_length and hands over the buffer (rented: give it back with <see cref="ArrayPool{T}.Return"/>).</summary>
    public (byte[] Buffer, int Length) Finish()
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer, (uint)_position);
        var result = (_buffer, _position);
        _buffer = [];
        return result;
    }
}

/// <summary>Reads PDU fields from one complete PDU; every read is bounds-checked and fails with <see cref="SmppFormatException"/>.</summary>
public ref struct PduReader(ReadOnlySpan<byte> pdu)
{
    private readonly ReadOnlySpan<byte> _pdu = pdu;
    private int _position = 0;

    public readonly int Remaining => _pdu.Length - _position;
    public int Position { readonly get => _position; set => _position = value; }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || _position + n > _pdu.Length) throw new SmppFormatException(CommandStatus.EsmeRinvcmdlen, "PDU ends inside a field");
        var span = _pdu.Slice(_position, n);
        _position += n;
        return span;
    }

    public byte ReadByte() => Take(1)[0];
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));
    public ReadOnlySpan<byte> ReadBytes(int n) => Take(n);

    /// <summary>A C-Octet String of at most <paramref name="max"/> octets including the NUL.</summary>
    public string ReadCString(int max)
    {
        var rest = _pdu[_position..];
        var nul = rest.IndexOf((byte)0);
        if (nul < 0) throw new SmppFormatException(CommandStatus.EsmeRinvcmdlen, "C-Octet String without its terminating NUL");
        if (nul + 1 > max) throw new SmppFormatException(CommandStatus.EsmeRinvparlen, $"C-Octet String longer than {max - 1} octets");
        var value = nul == 0 ? "" : Encoding.Latin1.GetString(rest[..nul]);
        _position += nul + 1;
        return value;
    }

    /// <summary>Where a C-Octet String lies in the PDU (without its NUL), read without allocating.</summary>
    public (int Offset, int Length) ReadCStringRange(int max)
    {
        var rest = _pdu[_position..];
        var nul = rest.IndexOf((byte)0);
        if (nul < 0) throw new SmppFormatException(CommandStatus.EsmeRinvcmdlen, "C-Octet String without its terminating NUL");
        if (nul + 1 > max) throw new SmppFormatException(CommandStatus.EsmeRinvparlen, $"C-Octet String longer than {max - 1} octets");
        var range = (_position, nul);
        _position += nul + 1;
        return range;
    }

    /// <summary>Where the next <paramref name="n"/> octets lie in the PDU.</summary>
    public int ReadRange(int n)
    {
        Take(n);
        return _position - n;
    }

    /// <summary>Checks the optional parameters' framing and returns where they lie, parsing nothing.</summary>
    public (int Start, int End) SkipTlvs()
    {
        var start = _position;
        while (Remaining > 0)
        {
            if (Remaining < 4) throw new SmppFormatException(CommandStatus.EsmeRinvoptparstream, "truncated optional parameter");
            ReadUInt16();
            var length = ReadUInt16();
            if (length > Remaining) throw new SmppFormatException(CommandStatus.EsmeRinvoptparstream, "optional parameter longer than the PDU");
            Take(length);
        }
        return (start, _position);
    }

    public List<Tlv>? ReadTlvs()
    {
        List<Tlv>? tlvs = null;
        while (Remaining > 0)
        {
            if (Remaining < 4) throw new SmppFormatException(CommandStatus.EsmeRinvoptparstream, "truncated optional parameter");
            var tag = ReadUInt16();
            var length = ReadUInt16();
            if (length > Remaining) throw new SmppFormatException(CommandStatus.EsmeRinvoptparstream, "optional parameter longer than the PDU");
            (tlvs ??= []).Add(new Tlv(tag, Take(length).ToArray()));
        }
        return tlvs;
    }
}

public static class PduCodec
{
    public const int HeaderLength = 16;
    /// <summary>Larger PDUs are refused: a submit_sm with a full message_payload fits well below this.</summary>
    public const int MaxPduLength = 64 * 1024;

    /// <summary>Encodes a PDU. The returned buffer is rented from <see cref="ArrayPool{T}.Shared"/>.</summary>
    public static (byte[] Buffer, int Length) Encode(Pdu pdu)
    {
        var writer = new PduWriter(256);
        writer.WriteUInt32(0);
        writer.WriteUInt32((uint)pdu.CommandId);
        writer.WriteUInt32((uint)pdu.Status);
        writer.WriteUInt32(pdu.Sequence);
        pdu.EncodeBody(ref writer);
        pdu.EncodeTlvs(ref writer);
        return writer.Finish();
    }

    public static byte[] EncodeToArray(Pdu pdu)
    {
        var (buffer, length) = Encode(pdu);
        var copy = buffer.AsSpan(0, length).ToArray();
        ArrayPool<byte>.Shared.Return(buffer);
        return copy;
    }

    /// <summary>Reads the header of a frame: (length, command id, status, sequence).</summary>
    public static (uint Length, uint CommandId, uint Status, uint Sequence) ReadHeader(ReadOnlySpan<byte> header) =>
        (BinaryPrimitives.ReadUInt32BigEndian(header),
         BinaryPrimitives.ReadUInt32BigEndian(header[4..]),
         BinaryPrimitives.ReadUInt32BigEndian(header[8..]),
         BinaryPrimitives.ReadUInt32BigEndian(header[12..]));

    /// <summary>Decodes one complete PDU. Unknown command ids and malformed bodies throw <see cref="SmppFormatException"/>.</summary>
    public static Pdu Decode(ReadOnlySpan<byte> frame) => Decode(frame, null);

    /// <summary>
    /// Decodes into <paramref name="reuse"/> when it is of the frame's type: with submit_sm and deliver_sm, whose fields
    /// are read lazily from a buffer the PDU keeps, a steady stream decodes without allocating.
    /// </summary>
    public static Pdu Decode(ReadOnlySpan<byte> frame, Pdu? reuse)
    {
        if (frame.Length < HeaderLength) throw new SmppFormatException(CommandStatus.EsmeRinvcmdlen, "PDU shorter than its header");
        var (length, commandId, status, sequence) = ReadHeader(frame);
        if (length != frame.Length) throw new SmppFormatException(CommandStatus.EsmeRinvcmdlen, "command_length does not match the frame");
        var pdu = reuse is not null && reuse.CommandId == (CommandId)commandId ? reuse : Pdu.Create((CommandId)commandId)
            ?? throw new SmppFormatException(CommandStatus.EsmeRinvcmdid, $"unknown command_id 0x{commandId:X8}");
        pdu.Status = (CommandStatus)status;
        pdu.Sequence = sequence;
        var reader = new PduReader(frame);
        reader.Position = HeaderLength;
        // SMPP 3.4 §3.2: a response with an error status may carry no body at all.
        var (start, end) = (0, 0);
        if (reader.Remaining > 0 || !pdu.IsResponse)
        {
            pdu.DecodeBody(ref reader);
            (start, end) = reader.SkipTlvs();
        }
        // Lazily read fields and optional parameters point into the frame: keep a copy of it (in a buffer a reused PDU keeps).
        if (pdu.ReadsLazily || end > start) pdu.Capture(frame);
        pdu.SetLazyTlvs(start, end);
        return pdu;
    }
}
