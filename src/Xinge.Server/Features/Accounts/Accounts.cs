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
}

public static class Roles
{
    public const string Operator = "operator";
    public const string EnterpriseAdmin = "enterprise_admin";
    public const string EnterpriseUser = "enterprise_user";
    public const string Integration = "integration";

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
    public long CreatedAt { get; set; }
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
