using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Xinge.Bench;

/// <summary>
/// On-hook SMS (ISSUE 14): call events posted by the switch in batches, each answered once its calls and their
/// decisions are stored (goal ≥ 20,000 events/s on SQLite); then single calls to an immediate policy, from the switch's
/// POST to the submit_sm at the SMSC (goal p99 &lt; 1 s). The server runs as in production, against a bare SMPP acker.
/// </summary>
public static class OnhookBench
{
    private const string Hotline = "4008001234";

    public static async Task RunAsync(string[] args)
    {
        int Arg(string name, int otherwise) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v) : otherwise;
        var runs = Arg("--runs", 3);
        var events = Arg("--events", 200_000);
        var batch = Arg("--batch", 1000);
        var callers = Arg("--callers", 50_000);
        var clients = Arg("--clients", 4);
        var singles = Arg("--singles", 200);
        var stores = args.SkipWhile(a => a != "--stores").Skip(1).FirstOrDefault()?.Split(',') ?? ["sqlite", "postgres"];
        var postgresAdmin = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault();

        await Tools.EnsureAsync();
        var serverDll = await Tools.BuildServerAsync();
        if (stores.Contains("postgres")) postgresAdmin ??= await BenchPostgres.StartAsync();
        var figures = new Dictionary<string, List<(double Rate, double P50, double P99)>>();
        for (var run = 1; run <= runs; run++)
        {
            foreach (var store in stores)
            {
                await using var acker = new SmppAcker();
                acker.Start();
                var connection = store == "postgres" ? await BenchPostgres.CreateDatabaseAsync(postgresAdmin!) : null;
                try
                {
                    var f = await RunOnceAsync(serverDll, connection, acker, events, batch, callers, clients, singles);
                    (figures.TryGetValue(store, out var list) ? list : figures[store] = []).Add(f);
                    Console.WriteLine($"run {run} {store}: {events} call events in batches of {batch} from {clients} clients: {f.Rate:F0} events/s decided and stored; " +
                        $"call end → submit_sm p50 {f.P50:F0} ms, p99 {f.P99:F0} ms");
                }
                finally
                {
                    if (connection is not null) await BenchPostgres.DropDatabaseAsync(postgresAdmin!, connection);
                }
            }
        }
        Console.WriteLine();
        Console.WriteLine($"medians of {runs} runs:");
        foreach (var (store, list) in figures)
        {
            static double Median(IEnumerable<double> xs) => xs.Order().ElementAt(xs.Count() / 2);
            Console.WriteLine($"  {store,-9} call events {Median(list.Select(x => x.Rate)),8:F0}/s   call end → submit_sm p50 {Median(list.Select(x => x.P50)):F0} ms, p99 {Median(list.Select(x => x.P99)):F0} ms");
        }
    }

    private static async Task<(double Rate, double P50, double P99)> RunOnceAsync(string serverDll, string? postgres, SmppAcker acker, int events, int batch, int callers, int clients, int singles)
    {
        var dir = Directory.CreateTempSubdirectory("xinge-bench-onhook-").FullName;
        var port = Tools.FreePort();
        var url = $"http://127.0.0.1:{port}";
        using var server = Tools.StartXinge(serverDll, url, postgres, acker, dir);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
            await Tools.UntilAsync(async () => (await http.GetAsync("/healthz")).IsSuccessStatusCode, "Xinge bound to the acker", () => File.ReadAllText(Path.Combine(dir, "server.out")));
            var integrationKey = await SetUpAsync(http, credit: 100L * (events + singles) * 10);
            using var @switch = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
            @switch.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", integrationKey);

            // The switch's batches: calls from a pool of callers (most call again within the week), answered, ending a millisecond
            // apart; half of them to the hotline, half to numbers of anyone (the switch reports every call it diverts or ends).
            var ended = DateTimeOffset.UtcNow.AddHours(-1);
            var bodies = Enumerable.Range(0, events / batch).Select(b => JsonContent.Create(Enumerable.Range(b * batch, batch).Select(i => new
            {
                callId = $"bench-{i}",
                caller = "+86139" + (i % callers).ToString("D8"),
                called = i % 2 == 0 ? Hotline : "+86138" + i.ToString("D8"),
                outcome = "answered",
                diverted = false,
                startedAt = ended.AddMilliseconds(i - 30_000),
                endedAt = ended.AddMilliseconds(i),
            }).ToArray())).ToList();
            foreach (var body in bodies) await body.LoadIntoBufferAsync();
            var next = -1;
            var start = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
            {
                int b;
                while ((b = Interlocked.Increment(ref next)) < bodies.Count)
                {
                    var r = await @switch.PostAsync("/api/v1/call-events", bodies[b]);
                    if ((int)r.StatusCode != 202) throw new InvalidOperationException($"batch {b} answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
                }
            }));
            var rate = bodies.Count * batch / Stopwatch.GetElapsedTime(start).TotalSeconds;
            // The batches' SMS (one a caller) leave before the single calls are timed.
            var sent = Enumerable.Range(0, events).Where(i => i % 2 == 0).Select(i => i % callers).Distinct().Count();
            await Tools.UntilAsync(() => Task.FromResult(acker.Submits >= sent), $"{sent} on-hook SMS reach the acker", () => $"{acker.Submits} so far", seconds: 600);
            await acker.SettleAsync(TimeSpan.FromSeconds(1));

            // Single calls, each from a new caller, 20 ms apart: from the POST to the submit_sm.
            acker.WatchPrefix = "86137";
            _ = acker.Reset(long.MaxValue);
            var posted = new Dictionary<string, long>();
            for (var i = 0; i < singles; i++)
            {
                var caller = "86137" + i.ToString("D8");
                var at = DateTimeOffset.UtcNow;
                posted[caller] = Stopwatch.GetTimestamp();
                var r = await @switch.PostAsJsonAsync("/api/v1/call-events", new { callId = $"single-{i}", caller = "+" + caller, called = Hotline, outcome = "answered", diverted = false, startedAt = at.AddSeconds(-30), endedAt = at });
                r.EnsureSuccessStatusCode();
                await Task.Delay(20);
            }
            await Tools.UntilAsync(() => Task.FromResult(posted.Keys.All(acker.Watched.ContainsKey)), "every single call's SMS reaches the acker", () => $"{posted.Keys.Count(acker.Watched.ContainsKey)} of {posted.Count}");
            var latencies = posted.Select(p => Stopwatch.GetElapsedTime(p.Value, acker.Watched[p.Key]).TotalMilliseconds).Order().ToList();
            acker.WatchPrefix = null;
            double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
            return (rate, Percentile(0.5), Percentile(0.99));
        }
        catch (Exception) when (File.Exists(Path.Combine(dir, "server.out")))
        {
            Tools.PrintLastWords(server, dir);
            throw;
        }
        finally
        {
            server.Kill(true);
            await server.WaitForExitAsync();
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>An enterprise with the service open on the bench's hotline, trusted content, a signature and the seed's policy; the switch's key.</summary>
    private static async Task<string> SetUpAsync(HttpClient http, long credit)
    {
        var token = (await (await http.PostAsJsonAsync("/api/v1/auth/token", new { username = "admin", password = "bench-password" })).Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        using var admin = new HttpClient { BaseAddress = http.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var created = await admin.PostAsJsonAsync("/api/v1/admin/enterprises", new { name = "Bench", licenceNumber = "91350100M000100Y43", hotlines = new[] { Hotline } });
        created.EnsureSuccessStatusCode();
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        (await admin.PostAsync($"/api/v1/admin/enterprises/{id}/verify", null)).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{id}/credit", new { amount = credit })).EnsureSuccessStatusCode();
        (await admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{id}", new { reviewExempt = true })).EnsureSuccessStatusCode();
        var key = (await (await admin.PostAsync($"/api/v1/admin/enterprises/{id}/api-keys", null)).Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        using var ent = new HttpClient { BaseAddress = http.BaseAddress };
        ent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        (await ent.PostAsJsonAsync("/api/v1/signatures", new { text = "Bench" })).EnsureSuccessStatusCode();
        var review = (await admin.GetFromJsonAsync<JsonNode>("/api/v1/admin/reviews"))!;
        foreach (var item in review is JsonArray a ? a : review["items"]!.AsArray())
            (await admin.PostAsync($"/api/v1/admin/reviews/{item!["id"]!.GetValue<long>()}/approve", null)).EnsureSuccessStatusCode();
        var policy = await ent.PostAsJsonAsync("/api/v1/onhook/policies", new
        {
            name = "status",
            hotline = Hotline,
            signature = "Bench",
            mode = "immediate",
            contents = new { answered = "Thanks for calling Bench" },
            noRepeat = true,
            periodDays = 7,
            dailyLimit = 10_000_000,
        });
        if (!policy.IsSuccessStatusCode) throw new InvalidOperationException($"policy: {(int)policy.StatusCode} {await policy.Content.ReadAsStringAsync()}");
        var integration = await admin.PostAsJsonAsync("/api/v1/admin/integration-keys", new { name = "switch" });
        return (await integration.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
    }
}
