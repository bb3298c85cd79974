using System.Buffers.Binary;

namespace Xinge.Text;

/// <summary>UCS-2 as SMPP data_coding 8 carries it: UTF-16 big-endian code units; characters outside the BMP travel as surrogate pairs.</summary>
public static class Ucs2
{
    public static byte[] Encode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[text.Length * 2];
        Encode(text, bytes);
        return bytes;
    }

    public static int Encode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        for (var i = 0; i < text.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(destination[(i * 2)..], text[i]);
        return text.Length * 2;
    }

    /// <summary>Decodes big-endian UTF-16; an odd trailing octet is dropped rather than trusted.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        var n = bytes.Length / 2;
        return string.Create(n, bytes.ToArray(), static (chars, b) =>
        {
            for (var i = 0; i < chars.Length; i++) chars[i] = (char)BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(i * 2));
        });
    }
}
