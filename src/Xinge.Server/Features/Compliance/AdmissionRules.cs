using System.Collections.Concurrent;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Compliance;

/// <summary>R-S1-2: every SMS carries an approved signature of the sending enterprise.</summary>
public sealed class ApprovedSignatureRule(Database database) : IAdmissionRule
{
    // Approval is final, so an approved signature is remembered; anything else is read again next time.
    private readonly ConcurrentDictionary<(long, string), bool> _approved = new();

    public int Order => 0;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        var key = (batch.EnterpriseId, batch.Signature);
        if (_approved.ContainsKey(key)) return;
        await using var c = await database.OpenAsync(ct);
        var status = await c.QuerySingleOrDefaultAsync<string>(
            "SELECT status FROM signatures WHERE enterprise_id = @EnterpriseId AND text = @Signature", new { batch.EnterpriseId, batch.Signature });
        if (status == ReviewStatus.Approved)
        {
            _approved[key] = true;
            return;
        }
        batch.RefuseAll(SendError.SignatureNotApproved, $"the signature 【{batch.Signature}】 is not an approved signature of this enterprise");
    }
}

/// <summary>R-S1-10: a number that unsubscribed from an enterprise gets none of its marketing; OTP and notifications still go.</summary>
public sealed class OptOutRule(Database database) : IAdmissionRule
{
    /// <summary>Above this many candidates the enterprise's whole list is read instead of the candidates' rows.</summary>
    private const int WholeList = 1000;

    public int Order => 100;

    public async ValueTask CheckAsync(AdmissionBatch batch, CancellationToken ct)
    {
        if (batch.Category != Category.Marketing || batch.Candidates.Count == 0) return;
        await using var c = await database.OpenAsync(ct);
        var numbers = batch.Candidates.Select(x => x.Recipient).ToArray();
        var sql = numbers.Length > WholeList ? "SELECT msisdn FROM opt_outs WHERE enterprise_id = @e"
            : "SELECT msisdn FROM opt_outs WHERE enterprise_id = @e AND msisdn " + Database.InList(c, "numbers");
        var optedOut = (await c.QueryAsync<string>(sql, new { e = batch.EnterpriseId, numbers })).ToHashSet();
        if (optedOut.Count == 0) return;
        for (var i = 0; i < batch.Candidates.Count; i++)
        {
            if (optedOut.Contains(batch.Candidates[i].Recipient)) batch.Refuse(i, "opted_out");
        }
    }
}
