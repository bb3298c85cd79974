using System.Data.Common;
using System.Text.Json;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Messaging;

namespace Xinge.Server.Features.Calls;

/// <summary>How a call ended, as the switch says it (CONTRACT.md, "Switch integration").</summary>
public static class CallOutcome
{
    public const string Answered = "answered", Busy = "busy", NoAnswer = "no_answer", Unreachable = "unreachable", PoweredOff = "powered_off", Rejected = "rejected";
    public static readonly string[] All = [Answered, Busy, NoAnswer, Unreachable, PoweredOff, Rejected];
}

/// <summary>A call the switch reported: numbers in E.164, times in UTC milliseconds.</summary>
public sealed record CallEvent(string CallId, string Caller, string Called, string Outcome, bool Diverted, long StartedAt, long EndedAt,
    string? IvrChoice, string? IvrNumber, string? RecordingUrl);

/// <summary>Each call event row (<c>call_events</c>): kept so that a repeated callId has no second effect.</summary>
public sealed class CallEventRow
{
    public string CallId { get; set; } = "";
    public string Caller { get; set; } = "";
    public string Called { get; set; } = "";
    public string Outcome { get; set; } = "";
    public bool Diverted { get; set; }
    public long StartedAt { get; set; }
    public long EndedAt { get; set; }
    public long ReceivedAt { get; set; }
    public string? IvrChoice { get; set; }
    public string? IvrNumber { get; set; }
    public string? RecordingUrl { get; set; }
}

/// <summary>
/// The seam through which a service (on-hook SMS, the missed-call reminder) takes the calls it serves: each batch of
/// new calls (a callId seen before never comes again), in the transaction that records them, so the service's
/// decisions commit with the calls or not at all. Answers how many of the calls it served.
/// </summary>
public interface ICallEventHandler
{
    Task<int> HandleAsync(DbConnection c, DbTransaction tx, IReadOnlyList<CallEvent> calls, CancellationToken ct);

    /// <summary>After the commit: work the decisions left for now (a message to send).</summary>
    void Committed();
}

public sealed record CallEventsAccepted(int Received, int New, int Duplicates, int Served, int Ignored);

/// <summary>Reads the switch's events, records the new ones and hands them to the services, one transaction a batch.</summary>
public sealed class CallEventIngest(Database database, IEnumerable<ICallEventHandler> handlers, TimeProvider time)
{
    public const int MaxBatch = 10_000;
    private const int MaxCallId = 64;

    /// <summary>The body: one event or an array of up to 10,000. Any bad event refuses the whole body, naming it.</summary>
    private static readonly TimeSpan MaxAhead = TimeSpan.FromMinutes(10), MaxLate = TimeSpan.FromDays(30);

    public static (List<CallEvent>? Calls, string? Problem) Parse(JsonElement body, DateTimeOffset now)
    {
        if (body.ValueKind == JsonValueKind.Array && body.GetArrayLength() > MaxBatch) return (null, $"at most {MaxBatch} call events a request");
        var items = body.ValueKind switch
        {
            JsonValueKind.Array => body.EnumerateArray().ToList(),
            JsonValueKind.Object => [body],
            _ => null,
        };
        if (items is null) return (null, "the body is a call event or an array of them");
        if (items.Count == 0) return (null, "the array has no call events");
        var calls = new List<CallEvent>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var (call, problem) = ParseOne(items[i], now);
            if (problem is not null) return (null, items.Count == 1 ? problem : $"event {i}: {problem}");
            calls.Add(call!);
        }
        return (calls, null);
    }

    private static (CallEvent?, string?) ParseOne(JsonElement e, DateTimeOffset now)
    {
        if (e.ValueKind != JsonValueKind.Object) return (null, "a call event is an object");
        string? Text(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? Input.TextOf(v) : null;
        bool Present(string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;
        var callId = Text("callId");
        if (string.IsNullOrEmpty(callId) || callId.Length > MaxCallId || Input.HasHiddenCharacters(callId)) return (null, $"callId is 1 to {MaxCallId} visible characters");
        if (Present("caller") && Text("caller") is null || Present("called") && Text("called") is null) return (null, "caller and called are strings");
        // A caller who withheld the number comes without one (null or ""): recorded, and no service can answer it.
        var caller = string.IsNullOrEmpty(Text("caller")) ? "" : Messaging.PhoneNumbers.ToE164(Text("caller"));
        if (caller is null) return (null, "caller is not a phone number (leave it empty when the caller withheld it)");
        var called = Messaging.PhoneNumbers.ToE164(Text("called"));
        if (called is null) return (null, "called is not a phone number");
        var outcome = Text("outcome");
        if (outcome is null || !CallOutcome.All.Contains(outcome)) return (null, $"outcome is one of {string.Join(", ", CallOutcome.All)}");
        var diverted = false;
        if (e.TryGetProperty("diverted", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            if (d.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return (null, "diverted is true or false");
            diverted = d.GetBoolean();
        }
        if (!TryTime(Text("startedAt"), out var started)) return (null, "startedAt is a date and time with its offset, e.g. 2026-12-02T09:30:00+08:00");
        if (!TryTime(Text("endedAt"), out var ended)) return (null, "endedAt is a date and time with its offset, e.g. 2026-12-02T09:31:10+08:00");
        if (ended < started) return (null, "endedAt is before startedAt");
        if (ended - started > TimeSpan.FromDays(1)) return (null, "a call lasts at most a day");
        // A switch's clock may be a little ahead; a call reported a month late is no longer news to its caller.
        if (ended > now + MaxAhead || ended < now - MaxLate) return (null, $"endedAt is at most {MaxAhead.TotalMinutes:F0} minutes ahead of the platform's clock and at most {MaxLate.TotalDays:F0} days behind");
        string? choice = null, number = null, recording = null;
        if (e.TryGetProperty("ivr", out var ivr) && ivr.ValueKind != JsonValueKind.Null)
        {
            if (ivr.ValueKind != JsonValueKind.Object) return (null, "ivr is an object");
            choice = ivr.TryGetProperty("choice", out var c) && c.ValueKind == JsonValueKind.String ? Input.TextOf(c) : null;
            if (choice is not ("voice_message" or "own_number" or "other_number" or "notify_when_reachable" or "hung_up"))
                return (null, "ivr.choice is voice_message, own_number, other_number, notify_when_reachable or hung_up");
            if (ivr.TryGetProperty("number", out var n) && n.ValueKind != JsonValueKind.Null)
            {
                number = n.ValueKind == JsonValueKind.String ? Messaging.PhoneNumbers.ToE164(Input.TextOf(n)) : null;
                if (number is null) return (null, "ivr.number is not a phone number");
            }
            if (ivr.TryGetProperty("recordingUrl", out var r) && r.ValueKind != JsonValueKind.Null)
            {
                recording = r.ValueKind == JsonValueKind.String ? Input.TextOf(r) : null;
                if (recording is not { Length: <= 2000 } || !Uri.TryCreate(recording, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    return (null, "ivr.recordingUrl is an http(s) URL of at most 2000 characters");
            }
        }
        return (new CallEvent(callId, caller, called, outcome, diverted, started.ToUnixTimeMilliseconds(), ended.ToUnixTimeMilliseconds(), choice, number, recording), null);
    }

    private static bool TryTime(string? text, out DateTimeOffset at)
    {
        at = default;
        return text is { Length: <= 40 } && Input.TryParseTimeWithOffset(text, out at);
    }

    /// <summary>Records the new calls of this batch and lets every service decide on them, in one transaction.</summary>
    public async Task<CallEventsAccepted> IngestAsync(IReadOnlyList<CallEvent> calls, CancellationToken ct)
    {
        // One callId twice in one batch: the first counts, as if the second came later. Recorded in the order of their
        // ids, so two nodes recording overlapping batches lock the ids in one order and never wait on each other in a ring.
        var distinct = calls.DistinctBy(c => c.CallId).OrderBy(c => c.CallId, StringComparer.Ordinal).ToList();
        var received = time.GetUtcNow().ToUnixTimeMilliseconds();
        int fresh, served = 0;
        using (await database.WriteTurnAsync(ct))
        {
            await using var c = await database.OpenAsync(ct);
            await using var tx = await c.BeginTransactionAsync(ct);
            var added = await InsertNewAsync(c, tx, distinct, received);
            fresh = added.Count;
            if (added.Count > 0)
            {
                foreach (var handler in handlers) served += await handler.HandleAsync(c, tx, added, ct);
            }
            await tx.CommitAsync(ct);
        }
        foreach (var handler in handlers) handler.Committed();
        CallMetrics.Events.WithLabels("new").Inc(fresh);
        CallMetrics.Events.WithLabels("duplicate").Inc(calls.Count - fresh);
        CallMetrics.Events.WithLabels("ignored").Inc(fresh - served);
        return new CallEventsAccepted(calls.Count, fresh, calls.Count - fresh, served, fresh - served);
    }

    /// <summary>The calls not recorded before, recorded now; a callId seen before is left as it was.</summary>
    private static async Task<List<CallEvent>> InsertNewAsync(DbConnection c, DbTransaction tx, List<CallEvent> calls, long received)
    {
        const string Columns = "call_id, caller, called, outcome, diverted, started_at, ended_at, received_at, ivr_choice, ivr_number, recording_url";
        if (c is Npgsql.NpgsqlConnection)
        {
            // One statement for the batch; the ids it inserted come back.
            var ids = (await c.QueryAsync<string>(
                $"INSERT INTO call_events ({Columns}) SELECT * FROM unnest(@ids::text[], @callers::text[], @called::text[], @outcomes::text[], @diverted::boolean[], " +
                "@started::bigint[], @ended::bigint[], @received::bigint[], @choices::text[], @numbers::text[], @recordings::text[]) ON CONFLICT (call_id) DO NOTHING RETURNING call_id",
                new
                {
                    ids = calls.Select(x => x.CallId).ToArray(),
                    callers = calls.Select(x => x.Caller).ToArray(),
                    called = calls.Select(x => x.Called).ToArray(),
                    outcomes = calls.Select(x => x.Outcome).ToArray(),
                    diverted = calls.Select(x => x.Diverted).ToArray(),
                    started = calls.Select(x => x.StartedAt).ToArray(),
                    ended = calls.Select(x => x.EndedAt).ToArray(),
                    received = calls.Select(_ => received).ToArray(),
                    choices = calls.Select(x => x.IvrChoice).ToArray(),
                    numbers = calls.Select(x => x.IvrNumber).ToArray(),
                    recordings = calls.Select(x => x.RecordingUrl).ToArray(),
                }, tx)).ToHashSet();
            return calls.Where(x => ids.Contains(x.CallId)).ToList();
        }
        var added = new List<CallEvent>(calls.Count);
        using var insert = Prepared.For(c, tx, $"INSERT INTO call_events ({Columns}) VALUES (@id, @caller, @called, @outcome, @diverted, @started, @ended, @received, @choice, @number, @recording) " +
            "ON CONFLICT (call_id) DO NOTHING", "id", "caller", "called", "outcome", "diverted", "started", "ended", "received", "choice", "number", "recording");
        foreach (var call in calls)
        {
            if (insert.Execute(call.CallId, call.Caller, call.Called, call.Outcome, call.Diverted, call.StartedAt, call.EndedAt, received, call.IvrChoice, call.IvrNumber, call.RecordingUrl) > 0)
                added.Add(call);
        }
        return added;
    }
}

public static class CallMetrics
{
    public static readonly Prometheus.Counter Events = Prometheus.Metrics.CreateCounter("xinge_call_events_total",
        "Call events from the switch: new, duplicate (a callId seen before), ignored (new, but no service's: no open hotline, no caller number)", "result");
}

/// <summary>The switch's way in (CONTRACT.md, "Switch integration"): call events with an integration key.</summary>
public static class CallEndpoints
{
    public static IServiceCollection AddCalls(this IServiceCollection services)
    {
        services.AddSingleton<CallEventIngest>();
        services.AddHostedService<CallRetention>();
        return services;
    }

    public static IEndpointRouteBuilder MapCalls(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/call-events", async (JsonElement body, CallEventIngest ingest, TimeProvider time, CancellationToken ct) =>
        {
            var (calls, problem) = CallEventIngest.Parse(body, time.GetUtcNow());
            if (problem is not null) return Problems.Validation(problem);
            return Results.Accepted(null, await ingest.IngestAsync(calls!, ct));
        }).RequireAuthorization("integration").WithTags("Switch integration");
        return app;
    }
}

/// <summary>
/// Call events are kept for a repeated callId to have no second effect: a call ends at most 30 days before it is
/// reported, so a row older than 35 days has done its work and goes (hourly, a thousand rows a statement).
/// </summary>
public sealed class CallRetention(Database database, TimeProvider time, ILogger<CallRetention> logger) : BackgroundService
{
    public static readonly TimeSpan Keep = TimeSpan.FromDays(35);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PurgeAsync(stoppingToken);
                await Task.Delay(TimeSpan.FromHours(1), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Purging old call events failed; retrying in a minute");
                await Task.Delay(TimeSpan.FromMinutes(1), stoppingToken);
            }
        }
    }

    public async Task<int> PurgeAsync(CancellationToken ct)
    {
        var before = (time.GetUtcNow() - Keep).ToUnixTimeMilliseconds();
        var total = 0;
        while (true)
        {
            int n;
            using (await database.WriteTurnAsync(ct))
            {
                await using var c = await database.OpenAsync(ct);
                n = await c.ExecuteAsync("DELETE FROM call_events WHERE call_id IN (SELECT call_id FROM call_events WHERE received_at < @before LIMIT 1000)", new { before });
            }
            total += n;
            if (n < 1000) return total;
        }
    }
}

