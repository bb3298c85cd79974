using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Xinge.Server.Features.Accounts;

/// <summary>
/// Who the client is, for sign-in throttling and the audit log. The portal calls this node's own API over loopback for
/// the person in the browser; it says who that is with a header that only this process can sign (a secret made at
/// start), so the API throttles and records the browser's address, not the portal's.
/// </summary>
public static class ClientAddress
{
    public const string PortalHeader = "X-Xinge-Portal";
    public const string ForHeader = "X-Xinge-Portal-For";
    public static readonly string PortalSecret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Of(HttpContext http)
    {
        var remote = http.Connection.RemoteIpAddress;
        // The secret is this process's and travels only from it to itself (loopback, or the node's own address).
        if (http.Request.Headers.TryGetValue(PortalHeader, out var secret)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(secret.ToString()), Encoding.ASCII.GetBytes(PortalSecret))
            && IPAddress.TryParse(http.Request.Headers[ForHeader].ToString(), out var client))
            return client.ToString();
        return remote?.ToString() ?? "";
    }
}
