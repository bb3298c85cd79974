using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>R-S1-2: the enterprises' approved signatures, for the rule and for the services that check one ahead (a policy's).</summary>
public sealed class SignatureBook(Database database)
{
    // Approval is final, so an approved signature is remembered; anything else is read again next time.
    private readonly ConcurrentDictionary<(long, string), bool> _approved = new();

    public async ValueTask<bool> IsApprovedAsync(long enterpriseId, string signature, CancellationToken ct)
    {
        var key = (enterpriseId, signature);
        if (_approved.ContainsKey(key)) return true;
        await using var c = await database.OpenAsync(ct);
        var status = await c.QuerySingleOrDefaultAsync<string>(
            "SELECT status FROM signatures WHERE enterprise_id = @enterpriseId AND text = @signature", new { enterpriseId, signature });
        if (status != ReviewStatus.Approved) return false;
        _approved[key] = true;
        return true;
    }
}

/// <summary>R-S1-2: every SMS carries an approved signature of the sending enterprise.</summary>
public sealed class ApprovedSignatureRule(SignatureBook signatures) : IAdmissionRule
{
    public int Order => 0;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (await signatures.IsApprovedAsync(batch.EnterpriseId, batch.Signature, ct)) return;
        batch.RefuseAll(SendError.SignatureNotApproved, $"the signature 【{batch.Signature}】 is not an approved signature of this enterprise");
    }
}

/// <summary>R-S1-10: who unsubscribed from an enterprise's marketing, for the rules and for the services that send it.</summary>
public sealed class OptOutList
{
    /// <summary>Above this many numbers the enterprise's whole list is read instead of the numbers' rows.</summary>
    private const int WholeList = 1000;

    public async Task<HashSet<string>> OptedOutAsync(DbConnection c, DbTransaction? tx, long enterpriseId, IReadOnlyCollection<string> numbers, CancellationToken ct)
    {
        var sql = numbers.Count > WholeList ? "SELECT msisdn FROM opt_outs WHERE enterprise_id = @e"
            : "SELECT msisdn FROM opt_outs WHERE enterprise_id = @e AND msisdn " + Database.InList(c, "numbers");
        var rows = await c.QueryAsync<string>(new CommandDefinition(sql, new { e = enterpriseId, numbers = numbers.ToArray() }, tx, cancellationToken: ct));
        var wanted = numbers as IReadOnlySet<string> ?? numbers.ToHashSet();
        return rows.Where(wanted.Contains).ToHashSet();
    }
}

/// <summary>R-S1-10: a number that unsubscribed from an enterprise gets none of its marketing; OTP and notifications still go.</summary>
public sealed class OptOutRule(Database database, OptOutList list) : IAdmissionRule
{
    public int Order => 100;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (batch.Category != Category.Marketing || batch.Candidates.Count == 0) return;
        await using var c = await database.OpenAsync(ct);
        var optedOut = await list.OptedOutAsync(c, null, batch.EnterpriseId, batch.Candidates.Select(x => x.Recipient).ToHashSet(), ct);
        if (optedOut.Count == 0) return;
        for (var i = 0; i < batch.Candidates.Count; i++)
        {
            if (optedOut.Contains(batch.Candidates[i].Recipient)) batch.Refuse(i, "opted_out");
        }
    }
}
