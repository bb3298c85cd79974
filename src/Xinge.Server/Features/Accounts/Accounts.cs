namespace Xinge.Server.Features.Accounts;

public sealed class Enterprise
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    public string LicenceNumber { get; set; } = "";
    public bool Verified { get; set; }
    /// <summary>Spendable funds in fen; money reserved for messages in flight is in <see cref="Reserved"/>.</summary>
    public long Balance { get; set; }
    public long Reserved { get; set; }
    /// <summary>Price of one billing unit in fen.</summary>
    public int UnitPrice { get; set; }
    /// <summary>R-S1-12: appended to the platform's 106 number so replies route back to this enterprise.</summary>
    public string Extension { get; set; } = "";
    public long CreatedAt { get; set; }
    /// <summary>The operator stopped its sending; it still signs in and reads its data.</summary>
    public bool Suspended { get; set; }
    /// <summary>Why the operator did not verify it (its licence or document did not hold up); cleared when it is verified.</summary>
    public string? VerificationNote { get; set; }
    /// <summary>Trusted: its content skips manual review (words, opt-out, blacklist and limits still apply).</summary>
    public bool ReviewExempt { get; set; }
    /// <summary>How many hotline numbers its on-hook SMS package allows.</summary>
    public int MaxHotlines { get; set; } = 1;
}

public static class Roles
{
    public const string Operator = "operator";
    public const string EnterpriseAdmin = "enterprise_admin";
    public const string EnterpriseUser = "enterprise_user";
    public const string Integration = "integration";
    public const string CustomerService = "customer_service";
    public const string Subscriber = "subscriber";

    public static readonly string[] EnterpriseRoles = [EnterpriseAdmin, EnterpriseUser];
}

public sealed class User
{
    public long Id { get; set; }
    public long? EnterpriseId { get; set; }
    public string Username { get; set; } = "";
    public string PasswordHash { get; set; } = "";
    public string Role { get; set; } = "";
    public long CreatedAt { get; set; }
    /// <summary>A disabled user cannot sign in, and the sessions it had are ended.</summary>
    public bool Disabled { get; set; }
    /// <summary>Who disabled it: <c>platform</c> (operator staff) or <c>enterprise</c> (its own administrator); only the platform lifts the platform's.</summary>
    public string? DisabledBy { get; set; }
    /// <summary>The password was set by someone else (an operator): the first sign-in must change it.</summary>
    public bool MustChangePassword { get; set; }
    /// <summary>The portal's language the person chose last (zh-CN or en); null until they choose.</summary>
    public string? Language { get; set; }
}

/// <summary>A bearer secret for machines: enterprise API keys and the switch's integration keys. Only the SHA-256 is kept.</summary>
public sealed class ApiKey
{
    public long Id { get; set; }
    public long? EnterpriseId { get; set; }
    public string Name { get; set; } = "";
    public string KeyHash { get; set; } = "";
    public string Prefix { get; set; } = "";
    public bool Revoked { get; set; }
    public long? RevokedAt { get; set; }
    public long CreatedAt { get; set; }
}

/// <summary>A right a role has (<see cref="Rights"/>).</summary>
public sealed class RoleRight
{
    public string Role { get; set; } = "";
    public string RightName { get; set; } = "";
}

/// <summary>An administrative action or a security event (R-S5-4): who did what to what, from where, and how it ended.</summary>
public sealed class AuditEntry
{
    public long Id { get; set; }
    public long At { get; set; }
    /// <summary><c>user:NAME</c>, <c>key:PREFIX</c>, <c>smpp:SYSTEM_ID</c>, or <c>anonymous</c>.</summary>
    public string Actor { get; set; } = "";
    public string Action { get; set; } = "";
    public string Target { get; set; } = "";
    /// <summary>The client's address.</summary>
    public string Source { get; set; } = "";
    /// <summary><c>success</c>, <c>failure</c> or <c>denied</c>.</summary>
    public string Outcome { get; set; } = "";
    public string? Detail { get; set; }
    /// <summary>The enterprise the action concerns, when there is one.</summary>
    public long? EnterpriseId { get; set; }
}

/// <summary>
/// A credential ended before its time: a session (signed out), every session of a user up to a moment (password
/// changed, user disabled), or an API key. Every node reads these in order and stops accepting what they name.
/// </summary>
public sealed class Revocation
{
    public long Id { get; set; }
    /// <summary><c>session</c>, <c>user</c> or <c>api_key</c>.</summary>
    public string Kind { get; set; } = "";
    /// <summary>The session id, the user id or the API key's hash.</summary>
    public string Subject { get; set; } = "";
    public long At { get; set; }
}

public sealed class SmppAccount
{
    public long Id { get; set; }
    public long EnterpriseId { get; set; }
    public string SystemId { get; set; } = "";
    public string PasswordHash { get; set; } = "";
    /// <summary>Addresses or CIDR ranges binds may come from, comma-separated; empty allows any.</summary>
    public string AllowedIps { get; set; } = "";
    /// <summary>Sessions bound at once; 0 = no limit.</summary>
    public int MaxBinds { get; set; }
    /// <summary>submit_sm a second across its sessions; 0 = no limit. Beyond it: ESME_RTHROTTLED.</summary>
    public int MaxTps { get; set; }
    public long CreatedAt { get; set; }
}

public sealed class Setting
{
    public string Key { get; set; } = "";
    public string Value { get; set; } = "";
}

/// <summary>
/// The seam through which the operator's enterprise calls (<c>POST /admin/enterprises {hotlines}</c>) hand hotline
/// numbers to the service that keeps them (on-hook SMS): numbers in any form, within the enterprise's quota.
/// </summary>
public interface IEnterpriseHotlines
{
    /// <summary>The first of these numbers (E.164) that is a hotline already, if any.</summary>
    Task<string?> TakenAsync(IReadOnlyList<string> numbers);

    Task<(IReadOnlyList<string> Added, IResult? Problem)> AddAsync(long enterpriseId, IReadOnlyList<string?> numbers);
}

