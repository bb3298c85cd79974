using System.Globalization;

namespace Xinge.Server.Portal;

/// <summary>Money is integer fen inside; people read yuan.</summary>
public static class Money
{
    public static string Yuan(long fen) => (fen / 100m).ToString("#,0.00", CultureInfo.InvariantCulture);
}
