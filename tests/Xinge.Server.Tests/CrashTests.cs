using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xinge.Simulator;

namespace Xinge.Server.Tests;

/// <summary>The server as a real process, killed with SIGKILL in the middle of a job and started again.</summary>
public sealed class CrashTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Recipients = 5000;

    /// <summary>The server's command line: its own database in <paramref name="dir"/>, one connector to the SMSC outside it.</summary>
    private static async Task<string[]> ServerArgsAsync(Store store, string dir, int smscPort, int window, int maxTps) =>
    [
        $"--Urls=http://127.0.0.1:{Ports.Free()}",
        $"--ConnectionStrings:Xinge={await XingeServer.ConnectionStringAsync(store, dir)}",
        $"--Xinge:Bootstrap:AdminPassword={XingeServer.AdminPassword}",
        $"--Xinge:Smpp:Port={Ports.Free()}",
        "--Xinge:Simulator:Enabled=false",
        "--Xinge:Connectors:0:Name=operator",
        "--Xinge:Connectors:0:Host=127.0.0.1",
        $"--Xinge:Connectors:0:Port={smscPort}",
        "--Xinge:Connectors:0:SystemId=xinge",
        "--Xinge:Connectors:0:Password=secret",
        $"--Xinge:Connectors:0:WindowSize={window}",
        $"--Xinge:Connectors:0:MaxTps={maxTps}",
    ];

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_killed_server_loses_nothing_and_settles_every_message_exactly_once(Store store)
    {
        // The SMSC lives outside the process that is killed, as an operator's does: it keeps receipts until Xinge binds again.
        await using var smsc = new SmscSimulator(new SimulatorOptions { Port = 0 });
        smsc.Start();
        var dir = Directory.CreateTempSubdirectory("xinge-crash-").FullName;
        var args = await ServerArgsAsync(store, dir, smsc.Port, window: 50, maxTps: 2000);
        var first = ServerProcess.Start(args, Path.Combine(dir, "first.log"));
        var platform = new PlatformClient(new Uri(args[0]["--Urls=".Length..]));
        try
        {
            await first.WaitHealthyAsync(platform);
            var tenant = await platform.CreateTenantAsync(credit: 1_000_000);
            var numbers = Enumerable.Range(0, Recipients).Select(i => "+86137" + i.ToString("D8")).ToList();
            var r = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new
            {
                recipients = numbers.Select(n => new { to = n }),
                signature = tenant.Signature,
                category = "notification",
                text = "断电也不丢",
            });
            var jobId = (await r.Content.ReadFromJsonAsync<JsonObject>()).Str("jobId");
            JsonObject? job = null;
            await Wait.Until(async () =>
            {
                job = await tenant.GetAsync($"/api/v1/jobs/{jobId}");
                return job["counts"].Long("delivered") >= Recipients / 10;
            }, "a tenth is delivered", () => job?.ToJsonString());
            Assert.Equal("processing", job!.Str("status"));

            first.Kill();
            var second = ServerProcess.Start(args, Path.Combine(dir, "second.log"));
            try
            {
                await second.WaitHealthyAsync(platform);
                await Wait.Until(async () =>
                {
                    job = await tenant.GetAsync($"/api/v1/jobs/{jobId}");
                    return job.Str("status") == "completed";
                }, "the job completes after the restart", () => job?.ToJsonString() + second.Log(), seconds: 180);

                Assert.Equal(Recipients, job!["counts"].Long("delivered"));
                Assert.Equal((1_000_000L - 5 * Recipients, 0L), await tenant.BalanceAsync());
                var ledger = await tenant.AssertLedgerReconcilesAsync();
                Assert.Equal(Recipients, ledger.Long("chargedMessages"));
                Assert.Equal(0, ledger.Long("refundedMessages"));
                // Nothing lost: every handset got its message. A message the SMSC took just before the kill, whose
                // acknowledgement was not yet on disk, may go twice: at most the dispatcher's in-flight bound (2 × window, at least 200).
                var received = numbers.Select(n => smsc.MessagesOf(n).Count).ToList();
                Assert.All(received, count => Assert.True(count >= 1));
                output.WriteLine($"{store}: killed after {Recipients / 10}+ of {Recipients} delivered; {received.Sum() - Recipients} sent twice");
                Assert.True(received.Sum() - Recipients <= 200, $"{received.Sum() - Recipients} duplicates");
            }
            finally
            {
                second.Kill();
            }
        }
        finally
        {
            first.Kill();
        }
    }

    /// <summary>
    /// Single messages go to their lane in memory as they are stored (claimed in their own insert). Killed while a
    /// lane holds them, the server sends them after its restart: the table's claim under this node's lease comes back.
    /// </summary>
    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task Messages_handed_to_their_lane_when_the_server_is_killed_go_out_after_the_restart(Store store)
    {
        const int Messages = 300;
        await using var smsc = new SmscSimulator(new SimulatorOptions { Port = 0 });
        smsc.Start();
        var dir = Directory.CreateTempSubdirectory("xinge-crash-").FullName;
        // 50 a second: most of the messages still wait, in the lane or in the table, when the server is killed.
        var args = await ServerArgsAsync(store, dir, smsc.Port, window: 10, maxTps: 50);
        var first = ServerProcess.Start(args, Path.Combine(dir, "first.log"));
        var platform = new PlatformClient(new Uri(args[0]["--Urls=".Length..]));
        try
        {
            await first.WaitHealthyAsync(platform);
            var tenant = await platform.CreateTenantAsync(credit: 1_000_000);
            var numbers = Enumerable.Range(0, Messages).Select(i => "+86139" + i.ToString("D8")).ToList();
            var ids = new List<string>();
            foreach (var chunk in numbers.Chunk(20))
            {
                var answers = await Task.WhenAll(chunk.Select(to => tenant.Client.PostAsJsonAsync("/api/v1/messages",
                    new { to, signature = tenant.Signature, category = "otp", text = "Your code is 1234" })));
                foreach (var answer in answers)
                {
                    Assert.Equal(System.Net.HttpStatusCode.Accepted, answer.StatusCode);
                    ids.Add((await answer.Content.ReadFromJsonAsync<JsonObject>())!["messages"]![0]!.Str("id"));
                }
            }
            Assert.True(Interlocked.Read(ref smsc.SubmittedParts) < Messages / 2, $"{smsc.SubmittedParts} of {Messages} were sent before the kill");
            first.Kill();

            var second = ServerProcess.Start(args, Path.Combine(dir, "second.log"));
            try
            {
                await second.WaitHealthyAsync(platform);
                await Wait.Until(async () => numbers.All(n => smsc.MessagesOf(n).Count >= 1), "every message reaches the SMSC after the restart",
                    () => $"{numbers.Count(n => smsc.MessagesOf(n).Count >= 1)} of {Messages} arrived" + second.Log(), seconds: 120);
                foreach (var id in ids) await tenant.WaitForStatusAsync(id, "delivered");
                Assert.Equal((1_000_000L - 5 * Messages, 0L), await tenant.BalanceAsync());
                var ledger = await tenant.AssertLedgerReconcilesAsync();
                Assert.Equal(Messages, ledger.Long("chargedMessages"));
                var twice = numbers.Sum(n => smsc.MessagesOf(n).Count) - Messages;
                output.WriteLine($"{store}: {twice} sent twice");
                // Only what the SMSC took in the moment before the kill may go again: at most the lane's in-flight budget.
                Assert.True(twice <= 20, $"{twice} duplicates");
            }
            finally
            {
                second.Kill();
            }
        }
        finally
        {
            first.Kill();
        }
    }

    /// <summary>
    /// On-hook SMS killed mid-way: every call the switch was answered for is decided, and each decided SMS becomes
    /// exactly one message after the restart (the call is its Idempotency-Key), however far its sending had got.
    /// </summary>
    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_killed_server_sends_each_decided_on_hook_SMS_once_after_its_restart(Store store)
    {
        const int calls = 2000;
        await using var smsc = new SmscSimulator(new SimulatorOptions { Port = 0 });
        smsc.Start();
        var dir = Directory.CreateTempSubdirectory("xinge-crash-onhook-").FullName;
        var args = await ServerArgsAsync(store, dir, smsc.Port, window: 20, maxTps: 400);
        var first = ServerProcess.Start(args, Path.Combine(dir, "first.log"));
        var platform = new PlatformClient(new Uri(args[0]["--Urls=".Length..]));
        try
        {
            await first.WaitHealthyAsync(platform);
            var tenant = await platform.CreateTenantAsync(credit: 1_000_000);
            const string hotline = "4008005555";
            (await tenant.Admin.PutAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/onhook", new { hotlines = new[] { hotline } })).EnsureSuccessStatusCode();
            (await tenant.Client.PostAsJsonAsync("/api/v1/onhook/policies", new { name = "thanks", hotline, signature = tenant.Signature, mode = "immediate", contents = new { answered = "谢谢来电" } }))
                .EnsureSuccessStatusCode();
            var key = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/integration-keys", new { name = "switch" });
            var @switch = platform.Client((await key.Content.ReadFromJsonAsync<JsonObject>()).Str("key"));
            var numbers = Enumerable.Range(0, calls).Select(i => "+86137" + (50_000_000 + i).ToString("D8")).ToList();
            var ended = DateTimeOffset.UtcNow.AddMinutes(-1);
            foreach (var chunk in numbers.Chunk(500))
            {
                var r = await @switch.PostAsJsonAsync("/api/v1/call-events", chunk.Select(n => new
                {
                    callId = "crash-" + n,
                    caller = n,
                    called = hotline,
                    outcome = "answered",
                    diverted = false,
                    startedAt = ended.AddSeconds(-30),
                    endedAt = ended,
                }));
                Assert.Equal(System.Net.HttpStatusCode.Accepted, r.StatusCode);
            }
            await Wait.Until(() => Task.FromResult(numbers.Count(n => smsc.MessagesOf(n).Count > 0) >= calls / 10), "a tenth of the SMS reach the SMSC");

            first.Kill();
            var second = ServerProcess.Start(args, Path.Combine(dir, "second.log"));
            try
            {
                await second.WaitHealthyAsync(platform);
                JsonObject? row = null;
                await Wait.Until(async () =>
                {
                    row = (await tenant.GetAsync("/api/v1/onhook/stats"))["items"]![0]!.AsObject();
                    return row["pending"]!.GetValue<int>() == 0 && numbers.All(n => smsc.MessagesOf(n).Count > 0);
                }, "every decided SMS reaches the SMSC after the restart", () => row?.ToJsonString() + second.Log(), seconds: 180);
                Assert.Equal(calls, row!["sent"]!.GetValue<int>());
                // One message a call: the ledger charged each call once. The SMSC may see a message twice that it took just before
                // the kill (the engine's bound, as above), never a second message for one call.
                await Wait.Until(async () => (await tenant.AssertLedgerReconcilesAsync()).Long("chargedMessages") == calls, "every message is settled",
                    () => second.Log());
                var ledger = await tenant.AssertLedgerReconcilesAsync();
                Assert.Equal(0, ledger.Long("refundedMessages"));
                var twice = numbers.Sum(n => smsc.MessagesOf(n).Count) - calls;
                output.WriteLine($"{store}: {twice} SMS went twice to the SMSC");
                Assert.True(twice <= 200, $"{twice} duplicates");
            }
            finally
            {
                second.Kill();
            }
        }
        finally
        {
            first.Kill();
        }
    }
}

/// <summary>Runs the built Xinge.Server as its own process, with its output in a log file.</summary>
public sealed class ServerProcess
{
    private readonly Process _process;
    private readonly string _log;

    private ServerProcess(Process process, string log)
    {
        _process = process;
        _log = log;
    }

    private static string ServerDll()
    {
        // tests/Xinge.Server.Tests/bin/<Configuration>/net10.0 → src/Xinge.Server/bin/<Configuration>/net10.0
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = testBin.Parent!.Name;
        var root = testBin;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Xinge.sln"))) root = root.Parent;
        var dll = Path.Combine(root!.FullName, "src", "Xinge.Server", "bin", configuration, "net10.0", "Xinge.Server.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/Xinge.Server first", dll);
    }

    public static ServerProcess Start(string[] args, string log)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(log)! };
        psi.ArgumentList.Add(ServerDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { lock (writer) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (writer) writer.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServerProcess(process, log);
    }

    public string Log()
    {
        try
        {
            using var s = new FileStream(_log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var text = new StreamReader(s).ReadToEnd();
            return text.Length > 4000 ? text[^4000..] : text;
        }
        catch (IOException)
        {
            return "";
        }
    }

    public Task WaitHealthyAsync(PlatformClient platform) =>
        Wait.Until(async () =>
        {
            if (_process.HasExited) throw new InvalidOperationException("the server exited: " + Log());
            return (await platform.Http.GetAsync("/healthz")).IsSuccessStatusCode;
        }, "the server process is healthy", Log, seconds: 120);

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }
}
