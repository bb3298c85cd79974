using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Xinge.Server.Features.Accounts;

/// <summary>
/// Password hashing and bearer secrets. Passwords: Argon2id (libsodium through NSec) at OWASP's setting, 19 MiB,
/// two passes, one lane; hashes from before (PBKDF2-SHA256) still verify and are replaced at the next sign-in.
/// Bearer secrets: random, stored as SHA-256.
/// </summary>
public static class Secrets
{
    private const long MemoryKiB = 19 * 1024;
    private const long Passes = 2;
    private const string Argon2Prefix = "argon2id$m=19456,t=2,p=1$";

    private static readonly PasswordBasedKeyDerivationAlgorithm Argon2 = PasswordBasedKeyDerivationAlgorithm.Argon2id(
        new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = MemoryKiB, NumberOfPasses = Passes });

    /// <summary>
    /// Argon2id takes 19 MiB a hash: at most this many run at once, the others wait their turn, so a flood of sign-ins
    /// costs time, not memory.
    /// </summary>
    private static readonly SemaphoreSlim Hashing = new(Math.Max(2, Environment.ProcessorCount));

    /// <summary>A hash no password matches: an unknown user's sign-in costs what a known one's does.</summary>
    private static readonly Lazy<string> Decoy = new(() => HashPassword(Base64Url(RandomNumberGenerator.GetBytes(16))));

    public static async Task<string> HashPasswordAsync(string password)
    {
        await Hashing.WaitAsync();
        try
        {
            return HashPassword(password);
        }
        finally
        {
            Hashing.Release();
        }
    }

    public static async Task<bool> VerifyPasswordAsync(string password, string stored)
    {
        await Hashing.WaitAsync();
        try
        {
            return VerifyPassword(password, stored);
        }
        finally
        {
            Hashing.Release();
        }
    }

    /// <summary>Spends what checking a real password spends, for a user that does not exist.</summary>
    public static Task VerifyDecoyAsync(string password) => VerifyPasswordAsync(password, Decoy.Value);

    public static string HashPassword(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(Argon2.MaxSaltSize);
        var hash = Argon2.DeriveBytes(password, salt, 32);
        return $"{Argon2Prefix}{Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool VerifyPassword(string password, string stored)
    {
        try
        {
            if (stored.StartsWith(Argon2Prefix, StringComparison.Ordinal))
            {
                var parts = stored[Argon2Prefix.Length..].Split('$');
                if (parts.Length != 2) return false;
                var salt = Convert.FromBase64String(parts[0]);
                var expected = Convert.FromBase64String(parts[1]);
                return CryptographicOperations.FixedTimeEquals(Argon2.DeriveBytes(password, salt, expected.Length), expected);
            }
            var legacy = stored.Split('$');
            if (legacy.Length != 4 || legacy[0] != "pbkdf2-sha256" || !int.TryParse(legacy[1], out var iterations) || iterations < 1) return false;
            var legacySalt = Convert.FromBase64String(legacy[2]);
            var legacyHash = Convert.FromBase64String(legacy[3]);
            return CryptographicOperations.FixedTimeEquals(Rfc2898DeriveBytes.Pbkdf2(password, legacySalt, iterations, HashAlgorithmName.SHA256, legacyHash.Length), legacyHash);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>A hash made with an older setting: replace it once the password is known to be right.</summary>
    public static bool NeedsRehash(string stored) => !stored.StartsWith(Argon2Prefix, StringComparison.Ordinal);

    public static string NewKey(string prefix) => prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Sha256(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    public static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] FromBase64Url(string s)
    {
        var b = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(b.PadRight(b.Length + (4 - b.Length % 4) % 4, '='));
    }
}
