using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

namespace Xinge.Bench;

/// <summary>
/// The engine's goals as ISSUE 10 and ARCHITECTURE.md state them: Kannel 1.4.5 (Debian) and Xinge (SQLite, PostgreSQL)
/// in the same run, against the same bare SMPP acker, loaded by the same wrk (FIELD-NOTES.md). For each: 5,000 warm-up
/// requests, then N one-recipient requests timed from the first request to the N-th submit_sm at the acker. For Xinge
/// also one POST /jobs of N (to the N-th submit_sm), a 200,000-recipient job (time to 202) and, while it drains, OTPs
/// sent one by one (202 → submit_sm at the acker, p50/p99). Prints every run, the medians and the ratios.
/// </summary>
public static class KannelComparison
{
    private sealed record XingeFigures(double Single, double Job, double BigJobAccepted, double OtpP50, double OtpP99, int OtpsMissing);

    public static async Task RunAsync(string[] args)
    {
        int Arg(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
        }
        var runs = Arg("--runs", 3);
        var requests = Arg("--requests", 20_000);
        var warmup = Arg("--warmup", 5_000);
        var bigJob = Arg("--big-job", 200_000);
        var otps = Arg("--otps", 200);
        var stores = args.SkipWhile(a => a != "--stores").Skip(1).FirstOrDefault()?.Split(',') ?? ["kannel", "sqlite", "postgres"];
        Wrk.Connections = Arg("--connections", 64);
        var postgresAdmin = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault();
        // With --lists the content rules have work to do: 10,000 sensitive words and 10,000 blacklisted numbers
        // (none of them in the bench's traffic), as a platform in service has.
        WithLists = args.Contains("--lists");

        await Tools.EnsureAsync();
        var serverDll = await Tools.BuildServerAsync();
        if (stores.Contains("postgres")) postgresAdmin ??= await BenchPostgres.StartAsync();

        var kannel = new List<double>();
        var xinge = new Dictionary<string, List<XingeFigures>> { ["sqlite"] = [], ["postgres"] = [] };
        for (var run = 1; run <= runs; run++)
        {
            await using var acker = new SmppAcker();
            acker.Start();
            if (stores.Contains("kannel"))
            {
                var rate = await KannelRunAsync(acker, warmup, requests);
                kannel.Add(rate);
                Console.WriteLine($"run {run} kannel: {rate:F0} msg/s ({requests} sendsms requests)");
            }
            foreach (var store in new[] { "sqlite", "postgres" }.Where(stores.Contains))
            {
                var connection = store == "postgres" ? await BenchPostgres.CreateDatabaseAsync(postgresAdmin!) : null;
                XingeFigures f;
                try
                {
                    f = await XingeRunAsync(serverDll, connection, acker, warmup, requests, bigJob, otps);
                }
                finally
                {
                    // A database given with --postgres outlives the bench: each run's database goes with the run.
                    if (connection is not null) await BenchPostgres.DropDatabaseAsync(postgresAdmin!, connection);
                }
                xinge[store].Add(f);
                Console.WriteLine($"run {run} xinge {store}: POST /messages {f.Single:F0} msg/s; POST /jobs of {requests} {f.Job:F0} msg/s; " +
                    $"{bigJob} recipients answered 202 in {f.BigJobAccepted:F2} s; OTP request → submit_sm p50 {f.OtpP50:F0} ms, p99 {f.OtpP99:F0} ms" +
                    (f.OtpsMissing > 0 ? $" ({f.OtpsMissing} OTPs never reached the acker)" : ""));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"medians of {runs} runs, {requests} requests after {warmup} warm-up, wrk -t1 -c{Wrk.Connections}, bare SMPP acker:");
        var k = kannel.Count > 0 ? Median(kannel) : double.NaN;
        if (kannel.Count > 0) Console.WriteLine($"  kannel             sendsms          {k,8:F0} msg/s");
        foreach (var (store, list) in xinge.Where(x => x.Value.Count > 0))
        {
            var single = Median(list.Select(f => f.Single));
            var job = Median(list.Select(f => f.Job));
            Console.WriteLine($"  xinge {store,-12} POST /messages   {single,8:F0} msg/s  {single / k:F2}× kannel");
            Console.WriteLine($"  xinge {store,-12} POST /jobs       {job,8:F0} msg/s  {job / k:F2}× kannel");
            Console.WriteLine($"  xinge {store,-12} {bigJob} → 202    {Median(list.Select(f => f.BigJobAccepted)),8:F2} s");
            Console.WriteLine($"  xinge {store,-12} OTP under load   p50 {Median(list.Select(f => f.OtpP50)):F0} ms, p99 {Median(list.Select(f => f.OtpP99)):F0} ms");
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        return s.Count == 0 ? double.NaN : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    private static async Task<double> KannelRunAsync(SmppAcker acker, int warmup, int requests)
    {
        var dir = Directory.CreateTempSubdirectory("xinge-bench-kannel-").FullName;
        var (admin, boxPort, sendsms) = (Tools.FreePort(), Tools.FreePort(), Tools.FreePort());
        var conf = Path.Combine(dir, "kannel.conf");
        Directory.CreateDirectory(Path.Combine(dir, "store"));
        // FIELD-NOTES.md: production settings (store file on, log level 2, -v 2 on both boxes).
        await File.WriteAllTextAsync(conf, $"""
            group = core
            admin-port = {admin}
            admin-password = bench
            admin-allow-ip = "127.0.0.1"
            smsbox-port = {boxPort}
            box-allow-ip = "127.0.0.1"
            log-file = "{dir}/bearerbox.log"
            log-level = 2
            store-type = file
            store-location = "{dir}/store/kannel.store"
            dlr-storage = internal

            group = smsc
            smsc = smpp
            smsc-id = acker
            host = 127.0.0.1
            port = {acker.Port}
            transceiver-mode = true
            smsc-username = "bench"
            smsc-password = "bench"
            system-type = ""
            max-pending-submits = 256
            reconnect-delay = 1

            group = smsbox
            bearerbox-host = 127.0.0.1
            bearerbox-port = {boxPort}
            sendsms-port = {sendsms}
            log-file = "{dir}/smsbox.log"
            log-level = 2

            group = sendsms-user
            username = bench
            password = bench
            concatenation = true
            max-messages = 10

            """);
        using var bearerbox = Tools.Start("/usr/sbin/bearerbox", ["-v", "2", conf], Path.Combine(dir, "bearerbox.out"));
        Process? smsbox = null;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Tools.UntilAsync(async () => (await http.GetStringAsync($"http://127.0.0.1:{admin}/status.txt?password=bench")).Contains("online"), "Kannel bound to the acker");
            smsbox = Tools.Start("/usr/sbin/smsbox", ["-v", "2", conf], Path.Combine(dir, "smsbox.out"));
            await Tools.UntilAsync(async () => (await http.GetAsync($"http://127.0.0.1:{sendsms}/cgi-bin/sendsms")).StatusCode != 0, "smsbox answers sendsms");
            var url = $"http://127.0.0.1:{sendsms}";
            _ = acker.Reset(long.MaxValue);
            await Wrk.RunAsync("kannel", url, warmup, 13000000000, null);
            await acker.SettleAsync(TimeSpan.FromSeconds(1));
            var reached = acker.Reset(requests);
            var start = Stopwatch.GetTimestamp();
            await Wrk.RunAsync("kannel", url, requests, 13100000000, null);
            var end = await reached.WaitAsync(TimeSpan.FromMinutes(3));
            return requests / Stopwatch.GetElapsedTime(start, end).TotalSeconds;
        }
        finally
        {
            smsbox?.Kill(true);
            bearerbox.Kill(true);
            await bearerbox.WaitForExitAsync();
            await acker.SettleAsync(TimeSpan.FromMilliseconds(500));
            Directory.Delete(dir, true);
        }
    }

    private static async Task<XingeFigures> XingeRunAsync(string serverDll, string? postgres, SmppAcker acker, int warmup, int requests, int bigJob, int otps)
    {
        var dir = Directory.CreateTempSubdirectory("xinge-bench-server-").FullName;
        var port = Tools.FreePort();
        var url = $"http://127.0.0.1:{port}";
        using var server = Tools.StartXinge(serverDll, url, postgres, acker, dir);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
            await Tools.UntilAsync(async () => (await http.GetAsync("/healthz")).IsSuccessStatusCode, "Xinge bound to the acker", () => File.ReadAllText(Path.Combine(dir, "server.out")));
            var key = await SetUpEnterpriseAsync(http, credit: 100L * (warmup + requests * 2 + bigJob + otps) * 10);
            using var ent = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
            ent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

            // One recipient a request.
            _ = acker.Reset(long.MaxValue);
            await Wrk.RunAsync("xinge", url, warmup, 13000000000, key);
            await acker.SettleAsync(TimeSpan.FromSeconds(1));
            var before = await MetricsAsync(http);
            var cpu = Cpu.Sample(server.Id);
            var reached = acker.Reset(requests);
            // XINGE_BENCH_PERF=DIR: CPU samples of the server during the timed requests (Linux perf; export DOTNET_PerfMapEnabled=1 for names;
            // XINGE_BENCH_PERF_ALL=1 samples every process, the database's too).
            using var trace = Environment.GetEnvironmentVariable("XINGE_BENCH_PERF") is { Length: > 0 } traceDir
                ? Process.Start("perf", ["record", "-F", "499", "-g", .. (Environment.GetEnvironmentVariable("XINGE_BENCH_PERF_ALL") == "1" ? new[] { "-a" } : ["-p", server.Id.ToString()]), "-o", Path.Combine(traceDir, $"xinge-{(postgres is null ? "sqlite" : "postgres")}.perf"), "--", "sleep", "3"])
                : null;
            if (trace is not null) await Task.Delay(1000);
            var start = Stopwatch.GetTimestamp();
            await Wrk.RunAsync("xinge", url, requests, 13100000000, key);
            var answeredIn = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (trace is not null) await trace.WaitForExitAsync();
            var single = requests / Stopwatch.GetElapsedTime(start, await reached.WaitAsync(TimeSpan.FromMinutes(5))).TotalSeconds;
            var cpuText = Cpu.Since(cpu, server.Id);
            Console.WriteLine($"  ({requests} answered 202 at {requests / answeredIn:F0} requests/s; {cpuText}; {Batches(before, await MetricsAsync(http))})");
            await acker.SettleAsync(TimeSpan.FromSeconds(1));

            // One job of the same size.
            var job = JobBody(requests, 13200000000);
            before = await MetricsAsync(http);
            reached = acker.Reset(requests);
            start = Stopwatch.GetTimestamp();
            (await ent.PostAsync("/api/v1/jobs", job)).EnsureSuccessStatusCode();
            var jobRate = requests / Stopwatch.GetElapsedTime(start, await reached.WaitAsync(TimeSpan.FromMinutes(5))).TotalSeconds;
            Console.WriteLine($"  (one job of {requests}: {Batches(before, await MetricsAsync(http))})");
            await acker.SettleAsync(TimeSpan.FromSeconds(1));

            // OTPs one by one while a big notification job drains.
            var big = JobBody(bigJob, 13300000000);
            acker.WatchPrefix = "86137";
            reached = acker.Reset(bigJob);
            start = Stopwatch.GetTimestamp();
            (await ent.PostAsync("/api/v1/jobs", big)).EnsureSuccessStatusCode();
            var bigAccepted = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var answered = new Dictionary<string, long>();
            for (var i = 0; i < otps && !reached.IsCompleted; i++)
            {
                var to = "+86137" + i.ToString("D8");
                var sentAt = Stopwatch.GetTimestamp();
                var r = await ent.PostAsJsonAsync("/api/v1/messages", new { to, signature = "Bench", category = "otp", text = $"Your code is {100000 + i}" });
                r.EnsureSuccessStatusCode();
                answered[to[1..]] = sentAt;
                await Task.Delay(20);
            }
            await reached.WaitAsync(TimeSpan.FromMinutes(10));
            await acker.SettleAsync(TimeSpan.FromSeconds(2));
            var latencies = answered.Where(a => acker.Watched.ContainsKey(a.Key))
                .Select(a => Stopwatch.GetElapsedTime(a.Value, acker.Watched[a.Key]).TotalMilliseconds).Order().ToList();
            acker.WatchPrefix = null;
            double Percentile(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
            return new XingeFigures(single, jobRate, bigAccepted, Percentile(0.5), Percentile(0.99), answered.Count - latencies.Count);
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
            await acker.SettleAsync(TimeSpan.FromMilliseconds(500));
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<Dictionary<string, double>> MetricsAsync(HttpClient http)
    {
        var values = new Dictionary<string, double>();
        foreach (var line in (await http.GetStringAsync("/metrics")).Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith("xinge_")) continue;
            var space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var v)) values[line[..space]] = v;
        }
        return values;
    }

    /// <summary>Mean batch sizes and commit times between two scrapes of the server's /metrics.</summary>
    private static string Batches(Dictionary<string, double> before, Dictionary<string, double> after)
    {
        double Delta(string name) => after.Where(kv => kv.Key.StartsWith(name, StringComparison.Ordinal)).Sum(kv => kv.Value)
            - before.Where(kv => kv.Key.StartsWith(name, StringComparison.Ordinal)).Sum(kv => kv.Value);
        string Mean(string name, double scale, string unit) => $"{Delta(name + "_sum") / Math.Max(1, Delta(name + "_count")) * scale:F1}{unit} ×{Delta(name + "_count"):F0}";
        return $"store {Mean("xinge_store_batch_messages", 1, "")} in {Mean("xinge_store_commit_seconds", 1000, " ms")}; claims {Mean("xinge_claim_messages", 1, "")}; " +
            $"status {Mean("xinge_status_batch_events", 1, "")} in {Mean("xinge_status_commit_seconds", 1000, " ms")}; SMSC {Mean("xinge_smsc_round_trip_seconds", 1000, " ms")}";
    }

    private static ByteArrayContent JobBody(int count, long firstNumber)
    {
        var sb = new StringBuilder("{\"signature\":\"Bench\",\"category\":\"notification\",\"text\":\"Your order has shipped\",\"recipients\":[");
        for (var i = 0; i < count; i++) sb.Append(i == 0 ? "" : ",").Append("{\"to\":\"+86").Append(firstNumber + i).Append("\"}");
        sb.Append("]}");
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(sb.ToString()));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static bool WithLists;

    private static async Task<string> SetUpEnterpriseAsync(HttpClient http, long credit)
    {
        var token = (await (await http.PostAsJsonAsync("/api/v1/auth/token", new { username = "admin", password = "bench-password" })).Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (WithLists)
        {
            var random = new Random(11);
            var words = Enumerable.Range(0, 10_000).Select(i => "违" + (char)(0x4E00 + random.Next(0x5000)) + (char)(0x4E00 + random.Next(0x5000)) + i).ToList();
            (await http.PostAsJsonAsync("/api/v1/admin/sensitive-words", new { words, action = "refuse" })).EnsureSuccessStatusCode();
            var numbers = Enumerable.Range(0, 10_000).Select(i => "+86130" + (10_000_000 + i)).ToList();
            (await http.PostAsJsonAsync("/api/v1/admin/blacklist", new { numbers, scope = "all" })).EnsureSuccessStatusCode();
        }
        var created = await http.PostAsJsonAsync("/api/v1/admin/enterprises", new { name = "Bench", licenceNumber = "91350100M000100Y43" });
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        (await http.PostAsync($"/api/v1/admin/enterprises/{id}/verify", null)).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync($"/api/v1/admin/enterprises/{id}/credit", new { amount = credit })).EnsureSuccessStatusCode();
        var key = (await (await http.PostAsync($"/api/v1/admin/enterprises/{id}/api-keys", null)).Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        using var ent = new HttpClient { BaseAddress = http.BaseAddress };
        ent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        (await ent.PostAsJsonAsync("/api/v1/signatures", new { text = "Bench" })).EnsureSuccessStatusCode();
        // The bench's texts match approved templates, so they go without review, as a reviewed enterprise's would.
        (await ent.PostAsJsonAsync("/api/v1/templates", new { name = "otp", category = "otp", text = "Your code is ${code}" })).EnsureSuccessStatusCode();
        (await ent.PostAsJsonAsync("/api/v1/templates", new { name = "shipped", category = "notification", text = "Your order has shipped" })).EnsureSuccessStatusCode();
        var review = (await http.GetFromJsonAsync<JsonNode>("/api/v1/admin/reviews"))!;
        foreach (var item in review is JsonArray a ? a : review["items"]!.AsArray())
            (await http.PostAsync($"/api/v1/admin/reviews/{item!["id"]!.GetValue<long>()}/approve", null)).EnsureSuccessStatusCode();
        http.DefaultRequestHeaders.Authorization = null;
        return key;
    }
}

/// <summary>wrk with a Lua script that sends N requests, each to a distinct number, and exits at the N-th answer (FIELD-NOTES.md).</summary>
public static class Wrk
{
    private const string Script = """
        local n = tonumber(os.getenv("XB_N"))
        local base = tonumber(os.getenv("XB_BASE"))
        local kind = os.getenv("XB_KIND")
        local key = os.getenv("XB_KEY")
        local out = os.getenv("XB_OUT")
        local sent, answered, failed = 0, 0, 0
        request = function()
          sent = sent + 1
          local number = string.format("%.0f", base + sent)
          if kind == "kannel" then
            return wrk.format("GET", "/cgi-bin/sendsms?username=bench&password=bench&from=10690&to=%2B86" .. number .. "&text=Your%20order%20has%20shipped")
          end
          local body = '{"to":"+86' .. number .. '","signature":"Bench","category":"notification","text":"Your order has shipped"}'
          return wrk.format("POST", "/api/v1/messages", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
        end
        response = function(status, headers, body)
          answered = answered + 1
          if status < 200 or status > 299 then
            failed = failed + 1
            if failed <= 3 then io.stderr:write(status .. " " .. body .. "\n") end
          end
          if answered >= n then
            local f = io.open(out, "w")
            f:write(answered .. " " .. failed)
            f:close()
            os.exit(0)
          end
        end
        """;

    /// <summary>wrk's connections: 64 for the issue's figures; more shows whether a path is bound by latency or by work.</summary>
    public static int Connections { get; set; } = 64;

    public static async Task RunAsync(string kind, string url, int n, long firstNumber, string? key)
    {
        var dir = Directory.CreateTempSubdirectory("xinge-wrk-").FullName;
        var script = Path.Combine(dir, "send.lua");
        var result = Path.Combine(dir, "result");
        await File.WriteAllTextAsync(script, Script);
        var psi = new ProcessStartInfo("wrk", ["-t1", $"-c{Connections}", "-d600s", "-s", script, url]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["XB_N"] = n.ToString();
        psi.Environment["XB_BASE"] = firstNumber.ToString();
        psi.Environment["XB_KIND"] = kind;
        psi.Environment["XB_KEY"] = key ?? "";
        psi.Environment["XB_OUT"] = result;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (!File.Exists(result)) throw new InvalidOperationException($"wrk ended before {n} answers: {await stdout} {await stderr}");
        var parts = (await File.ReadAllTextAsync(result)).Split(' ');
        if (parts[1] != "0") throw new InvalidOperationException($"{parts[1]} of {parts[0]} requests failed: {await stderr}");
        Directory.Delete(dir, true);
    }
}

public static class Tools
{
    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Debian's wrk and kannel, installed when missing (as root).</summary>
    public static async Task EnsureAsync()
    {
        var missing = new List<string>();
        if (!File.Exists("/usr/bin/wrk")) missing.Add("wrk");
        if (!File.Exists("/usr/sbin/bearerbox")) missing.Add("kannel");
        if (missing.Count == 0) return;
        Console.WriteLine($"installing {string.Join(" ", missing)} from Debian's packages");
        await RunAsync("apt-get", ["install", "-y", "-qq", .. missing]);
    }

    /// <summary>The server as a user runs it: its own Release build, in its own process.</summary>
    public static async Task<string> BuildServerAsync()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Xinge.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException("run from the repository (Xinge.sln not found above the bench)");
        var project = Path.Combine(root.FullName, "src", "Xinge.Server");
        await RunAsync("dotnet", ["build", "-c", "Release", "--nologo", "-v", "q", project]);
        return Path.Combine(project, "bin", "Release", "net10.0", "Xinge.Server.dll");
    }

    public static async Task RunAsync(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(" ", args)} failed: {await stdout} {await stderr}");
    }

    /// <summary>Xinge as in production, on its own SQLite file in <paramref name="dir"/> (or the PostgreSQL database given), bound to the acker.</summary>
    public static Process StartXinge(string serverDll, string url, string? postgres, SmppAcker acker, string dir) => Start("dotnet", [serverDll,
        $"--Urls={url}", $"--ConnectionStrings:Xinge={postgres ?? $"Data Source={dir}/xinge.db"}", "--Xinge:Bootstrap:AdminPassword=bench-password",
        "--Xinge:Smpp:Port=0", "--Xinge:Simulator:Enabled=false",
        "--Xinge:Connectors:0:Name=acker", "--Xinge:Connectors:0:Host=127.0.0.1", $"--Xinge:Connectors:0:Port={acker.Port}",
        "--Xinge:Connectors:0:SystemId=bench", "--Xinge:Connectors:0:Password=bench", "--Xinge:Connectors:0:WindowSize=256",
        "--Logging:LogLevel:Default=Warning"], Path.Combine(dir, "server.out"), dir);

    /// <summary>The server's own words about what went wrong, before its folder goes.</summary>
    public static void PrintLastWords(Process server, string dir)
    {
        Console.Error.WriteLine($"server (exited: {server.HasExited}) said last:");
        foreach (var line in File.ReadLines(Path.Combine(dir, "server.out")).TakeLast(60)) Console.Error.WriteLine("  " + line);
    }

    public static Process Start(string file, string[] args, string log, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "/tmp" };
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var p = Process.Start(psi)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { lock (writer) writer.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (writer) writer.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, Func<string>? diagnostics = null, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception)
            {
                // Not up yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"timed out waiting for: {what}\n{diagnostics?.Invoke()}");
    }
}

/// <summary>
/// A throwaway PostgreSQL 15 cluster from the machine's binaries (FIELD-NOTES.md), with the server's default durability
/// (fsync and synchronous_commit on): the benchmark measures what a production node would do.
/// </summary>
public static class BenchPostgres
{
    public static async Task<string> StartAsync()
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb"))) ?? throw new InvalidOperationException("PostgreSQL binaries not found: apt-get install -y postgresql");
        var dir = Path.Combine(Path.GetTempPath(), "xinge-bench-pg-" + Environment.ProcessId);
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        var root = Environment.UserName == "root";
        string[] AsPostgres(string file, string args) => root ? ["-u", "postgres", "--", file, .. args.Split(' ')] : [file, .. args.Split(' ')];
        if (root) await Tools.RunAsync("chown", ["postgres:postgres", dir]);
        var port = Tools.FreePort();
        var initdb = AsPostgres(Path.Combine(bin, "initdb"), $"-D {dir} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8");
        await Tools.RunAsync(root ? "runuser" : initdb[0], root ? initdb : initdb[1..]);
        string[] start = root
            ? ["-u", "postgres", "--", Path.Combine(bin, "pg_ctl"), "-D", dir, "-l", $"{dir}/log", "-o", $"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300", "-w", "start"]
            : ["-D", dir, "-l", $"{dir}/log", "-o", $"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300", "-w", "start"];
        await Tools.RunAsync(root ? "runuser" : Path.Combine(bin, "pg_ctl"), start);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            string[] stop = root ? ["-u", "postgres", "--", Path.Combine(bin, "pg_ctl"), "-D", dir, "-m", "immediate", "stop"] : ["-D", dir, "-m", "immediate", "stop"];
            Process.Start(root ? "runuser" : Path.Combine(bin, "pg_ctl"), stop)?.WaitForExit(10_000);
            try
            {
                Directory.Delete(dir, true);
            }
            catch (Exception)
            {
            }
        };
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Maximum Pool Size=50";
    }

    public static async Task<string> CreateDatabaseAsync(string admin)
    {
        var name = "xinge_bench_" + Guid.NewGuid().ToString("N")[..10];
        await using var c = new NpgsqlConnection(admin);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
        await cmd.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ToString();
    }

    public static async Task DropDatabaseAsync(string admin, string database)
    {
        var name = new NpgsqlConnectionStringBuilder(database).Database;
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(admin);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", c);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>Where the machine's CPU went during a phase (Linux /proc): all cores busy, and the server's own share.</summary>
public static class Cpu
{
    public readonly record struct Snapshot(long Busy, long Total, long Server, long Ticks);

    public static Snapshot Sample(int pid)
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        var idle = fields[3] + fields[4];
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var own = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return new Snapshot(fields.Sum() - idle, fields.Sum(), long.Parse(own[11]) + long.Parse(own[12]), Stopwatch.GetTimestamp());
    }

    public static string Since(Snapshot start, int pid)
    {
        var end = Sample(pid);
        var cores = Environment.ProcessorCount;
        var total = Math.Max(1, end.Total - start.Total);
        return $"CPU {100.0 * (end.Busy - start.Busy) / total * cores:F0}% of {cores * 100}%, server {100.0 * (end.Server - start.Server) / total * cores:F0}%";
    }
}
