using System.Net;
using System.Net.Sockets;

namespace Xinge.Server.Features.Messaging;

/// <summary>
/// Where webhooks may go. By default only to public addresses: a URL naming (or resolving to) loopback, private,
/// link-local, carrier-grade NAT, multicast or reserved space is refused when it is set, and every delivery connects
/// only to an address checked at that moment, so a name that later resolves inward (DNS rebinding) gets nowhere.
/// <c>Xinge:Webhooks:AllowPrivateNetworks</c> lifts this for on-premises receivers.
/// </summary>
public sealed class WebhookTargets(IConfiguration config)
{
    public const int MaxUrlLength = 2000;
    public bool AllowPrivate { get; } = config.GetValue("Xinge:Webhooks:AllowPrivateNetworks", false);

    private static readonly IPNetwork[] NotPublic =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.0.2.0/24"),
        IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("198.51.100.0/24"), IPNetwork.Parse("203.0.113.0/24"),
        IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        // IPv6: unspecified, loopback and the old IPv4-compatible form (::/96), NAT64, discard, documentation, 6to4 (it can
        // carry any IPv4 address), unique-local, link-local, the old site-local, multicast.
        IPNetwork.Parse("::/96"), IPNetwork.Parse("64:ff9b::/96"), IPNetwork.Parse("64:ff9b:1::/48"), IPNetwork.Parse("100::/64"), IPNetwork.Parse("2001:db8::/32"),
        IPNetwork.Parse("2002::/16"), IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("fec0::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var n in NotPublic)
        {
            if (n.BaseAddress.AddressFamily == address.AddressFamily && n.Contains(address)) return false;
        }
        return true;
    }

    /// <summary>Why this URL may not receive webhooks; null when it may.</summary>
    public async Task<string?> ProblemAsync(string? raw, CancellationToken ct = default)
    {
        if (raw is not { Length: > 0 and <= MaxUrlLength } || !Uri.TryCreate(raw, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")
            || string.IsNullOrEmpty(url.Host) || url.IdnHost.Length > 253 || !string.IsNullOrEmpty(url.UserInfo))
            return $"url is an absolute http or https URL without credentials, of at most {MaxUrlLength} characters";
        if (AllowPrivate) return null;
        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(url.IdnHost, ct);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            return $"{url.Host} does not resolve";
        }
        if (addresses.Length == 0) return $"{url.Host} does not resolve";
        return addresses.All(IsPublic) ? null : $"{url.Host} is not a public address; webhooks go to public addresses only (Xinge:Webhooks:AllowPrivateNetworks)";
    }

    /// <summary>A host's addresses: itself when it is an address literal, else what DNS says now.</summary>
    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);

    /// <summary>The webhook client's connection: to the first public address of the host, or none.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var target = (await ResolveAsync(host, ct)).FirstOrDefault(a => AllowPrivate || IsPublic(a))
            ?? throw new HttpRequestException($"{host} resolves to no public address; not delivered");
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(target, context.DnsEndPoint.Port), ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
