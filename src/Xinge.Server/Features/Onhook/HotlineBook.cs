using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Onhook;

/// <summary>The enterprises' hotlines (<c>hotlines</c>): each number belongs to one enterprise, within its package's quota (R-S2-1).</summary>
public sealed class HotlineBook(Database database, TimeProvider time, PlatformTimeZone zone) : IEnterpriseHotlines
{
    public async Task<string?> TakenAsync(IReadOnlyList<string> numbers)
    {
        await using var c = await database.OpenAsync();
        return await c.QueryFirstOrDefaultAsync<string>("SELECT number FROM hotlines WHERE number " + Database.InList(c, "numbers"), new { numbers = numbers.ToArray() });
    }

    public async Task<(IReadOnlyList<string> Added, IResult? Problem)> AddAsync(long enterpriseId, IReadOnlyList<string?> numbers)
    {
        var added = new List<string>();
        foreach (var raw in numbers)
        {
            if (raw is not { Length: <= 32 } || Messaging.PhoneNumbers.ToE164(raw) is not { } number) return ([], Problems.Validation($"'{raw?[..Math.Min(raw.Length, 32)]}' is not a phone number"));
            if (!added.Contains(number)) added.Add(number);
        }
        using var turn = await database.WriteTurnAsync();
        await using var c = await database.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        // PostgreSQL: the enterprise's row locked, so two additions at once take turns over its quota (SQLite's write turn does that).
        var max = await c.QuerySingleOrDefaultAsync<int?>("SELECT max_hotlines FROM enterprises WHERE id = @enterpriseId" + (database.IsPostgres ? " FOR UPDATE" : ""), new { enterpriseId }, tx);
        if (max is null) return ([], Problems.NotFound("enterprise"));
        var taken = (await c.QueryAsync<(string Number, long EnterpriseId)>("SELECT number, enterprise_id FROM hotlines WHERE number " + Database.InList(c, "added"),
            new { added = added.ToArray() }, tx)).ToList();
        if (taken.FirstOrDefault(t => t.EnterpriseId != enterpriseId) is { Number: not null } other)
            return ([], Problems.Conflict("hotline-taken", $"{other.Number} is a hotline of another enterprise"));
        added.RemoveAll(n => taken.Any(t => t.Number == n));
        if (added.Count == 0) return ([], Problems.Conflict("hotline-exists", "the enterprise has these hotlines already"));
        var count = await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM hotlines WHERE enterprise_id = @enterpriseId", new { enterpriseId }, tx);
        if (count + added.Count > max) return ([], Problems.Unprocessable("hotline-quota", $"the enterprise's package allows {max} hotlines; it has {count}"));
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var number in added)
        {
            // Another enterprise's request may have taken it since the look above (PostgreSQL has no write turns).
            if (await c.ExecuteAsync("INSERT INTO hotlines (enterprise_id, number, created_at) VALUES (@enterpriseId, @number, @now) ON CONFLICT (number) DO NOTHING",
                    new { enterpriseId, number, now }, tx) == 0)
                return ([], Problems.Conflict("hotline-taken", $"{number} is a hotline of another enterprise"));
        }
        // An enterprise's first hotlines open its service (a service the operator closed stays closed).
        await c.ExecuteAsync("INSERT INTO onhook_services (enterprise_id, open, time_zone, changed_at) VALUES (@enterpriseId, @open, @zone, @now) ON CONFLICT (enterprise_id) DO NOTHING",
            new { enterpriseId, open = true, zone = zone.Zone.Id, now }, tx);
        await tx.CommitAsync();
        return (added, null);
    }
}
