using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Xinge.Server.Tests;

/// <summary>node-smpp (npm "smpp" 0.5.1), installed by the test itself into a folder of its own.</summary>
public static class NodeSmpp
{
    private static readonly Lazy<Task<string>> Installed = new(InstallAsync);

    private static async Task<string> InstallAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xinge-interop-node");
        Directory.CreateDirectory(dir);
        if (!File.Exists(Path.Combine(dir, "node_modules", "smpp", "package.json")))
        {
            var (code, output) = await RunAsync("npm", ["install", "--no-audit", "--no-fund", "--prefix", dir, "smpp@0.5.1"], dir, TimeSpan.FromMinutes(3));
            if (code != 0) throw new InvalidOperationException("npm install smpp@0.5.1 failed: " + output);
        }
        foreach (var script in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Interop"), "*.js"))
            File.Copy(script, Path.Combine(dir, Path.GetFileName(script)), overwrite: true);
        return dir;
    }

    public static async Task<Process> StartAsync(string script, params string[] args)
    {
        var dir = await Installed.Value;
        var psi = new ProcessStartInfo("node") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(dir, script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    public static async Task<(int Code, string Output)> RunAsync(string file, string[] args, string dir, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(true);
            return (-1, "timed out: " + await stdout + await stderr);
        }
        return (p.ExitCode, await stdout + await stderr);
    }
}

/// <summary>Lines of JSON a peer prints, collected as they come.</summary>
public sealed class PeerOutput
{
    private readonly List<JsonObject> _events = [];
    private readonly List<string> _raw = [];

    public PeerOutput(Process process)
    {
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_events)
        {
            _raw.Add(line);
            try
            {
                if (JsonNode.Parse(line) is JsonObject o) _events.Add(o);
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }
    }

    public List<JsonObject> Events(string name)
    {
        lock (_events) return _events.Where(e => e["event"]?.GetValue<string>() == name).ToList();
    }

    public override string ToString()
    {
        lock (_events) return string.Join("\n", _raw);
    }
}

/// <summary>Xinge against SMPP peers we did not write.</summary>
public sealed class InteropTests(SqliteFixture fixture) : IClassFixture<SqliteFixture>
{
    [Theory]
    [InlineData("plain")]
    [InlineData("tricky")]
    [InlineData("throttle")]
    public async Task Xinge_binds_to_a_node_smpp_smsc_and_its_receipts_settle_the_messages(string mode)
    {
        var port = Ports.Free();
        using var smsc = await NodeSmpp.StartAsync("smsc.js", port.ToString(), mode);
        var output = new PeerOutput(smsc);
        try
        {
            await Wait.Until(() => Task.FromResult(output.Events("listening").Count == 1), "node-smpp listens", output.ToString);
            // The tricky SMSC answers submit_sm with hex ids and writes receipts in decimal: msg-id-type 1, as Kannel calls it.
            await using var server = await XingeServer.StartAsync(Store.Sqlite,
                "--Xinge:Simulator:Enabled=false", "--Xinge:Connectors:0:Name=node", "--Xinge:Connectors:0:Host=127.0.0.1",
                $"--Xinge:Connectors:0:Port={port}", "--Xinge:Connectors:0:SystemId=xinge", "--Xinge:Connectors:0:Password=secret",
                $"--Xinge:Connectors:0:MessageIdType={(mode == "tricky" ? 1 : 0)}");
            var tenant = await server.CreateTenantAsync();
            var longText = string.Concat(Enumerable.Repeat("互通测试消息", 15));
            var sent = await tenant.SendAsync(new { to = new[] { "13800138000", "13900139000" }, signature = tenant.Signature, category = "notification", text = longText });
            foreach (var m in sent["messages"]!.AsArray()) await tenant.WaitForStatusAsync(m.Str("id"), "delivered");

            var submits = output.Events("submit_sm");
            Assert.Equal(4, submits.Count);
            // Throttled submits were slowed down and retried, not failed.
            Assert.Equal(mode == "throttle" ? 3 : 0, output.Events("throttled").Count);
            foreach (var dest in new[] { "8613800138000", "8613900139000" })
            {
                var parts = submits.Where(s => s.Str("dest") == dest).ToList();
                Assert.Equal(2, parts.Count);
                Assert.All(parts, p => Assert.Equal(8, p["data_coding"]!.GetValue<int>()));
                // node-smpp read the UDH (05 00 03 ref 02 seq) and the UCS-2 text of each part.
                var ordered = parts.OrderBy(p => p["udh"]![0]!.GetValue<string>()[^2..]).ToList();
                Assert.Equal($"【{tenant.Signature}】{longText}", string.Concat(ordered.Select(p => p.Str("message"))));
            }
            Assert.Equal("xinge", Assert.Single(output.Events("bind")).Str("system_id"));
            await tenant.AssertLedgerReconcilesAsync();
        }
        finally
        {
            smsc.Kill(true);
        }
    }

    [Fact]
    public async Task A_connector_never_submits_faster_than_its_max_tps()
    {
        var port = Ports.Free();
        using var smsc = await NodeSmpp.StartAsync("smsc.js", port.ToString());
        var output = new PeerOutput(smsc);
        try
        {
            await Wait.Until(() => Task.FromResult(output.Events("listening").Count == 1), "node-smpp listens", output.ToString);
            await using var server = await XingeServer.StartAsync(Store.Sqlite,
                "--Xinge:Simulator:Enabled=false", "--Xinge:Connectors:0:Name=slow", "--Xinge:Connectors:0:Host=127.0.0.1",
                $"--Xinge:Connectors:0:Port={port}", "--Xinge:Connectors:0:SystemId=xinge", "--Xinge:Connectors:0:Password=secret",
                "--Xinge:Connectors:0:MaxTps=20");
            var tenant = await server.CreateTenantAsync();
            var numbers = Enumerable.Range(0, 40).Select(i => "1390000" + i.ToString("D4")).ToArray();
            var sent = await tenant.SendAsync(new { to = numbers, signature = tenant.Signature, category = "notification", text = "限速发送" });
            foreach (var m in sent["messages"]!.AsArray()) await tenant.WaitForStatusAsync(m.Str("id"), "delivered");
            var times = output.Events("submit_sm").Select(e => e["at"]!.GetValue<long>()).Order().ToList();
            Assert.Equal(40, times.Count);
            // 40 submits at 20 a second cannot take less than about two seconds (the bucket may start full: 1.5 s at least).
            Assert.True(times[^1] - times[0] >= 1500, $"40 submits went out in {times[^1] - times[0]} ms");
        }
        finally
        {
            smsc.Kill(true);
        }
    }

    [Fact]
    public async Task After_the_smsc_drops_the_connector_binds_again_and_sending_goes_on()
    {
        var port = Ports.Free();
        var smsc = await NodeSmpp.StartAsync("smsc.js", port.ToString());
        var output = new PeerOutput(smsc);
        try
        {
            await Wait.Until(() => Task.FromResult(output.Events("listening").Count == 1), "node-smpp listens", output.ToString);
            await using var server = await XingeServer.StartAsync(Store.Sqlite,
                "--Xinge:Simulator:Enabled=false", "--Xinge:Connectors:0:Name=node", "--Xinge:Connectors:0:Host=127.0.0.1",
                $"--Xinge:Connectors:0:Port={port}", "--Xinge:Connectors:0:SystemId=xinge", "--Xinge:Connectors:0:Password=secret");
            var tenant = await server.CreateTenantAsync();
            var first = await tenant.SendAsync(new { to = "13800138000", signature = tenant.Signature, category = "otp", text = "验证码 1111" });
            await tenant.WaitForStatusAsync(first["messages"]![0].Str("id"), "delivered");

            smsc.Kill(true);
            await smsc.WaitForExitAsync();
            await Wait.Until(async () => !(await server.Http.GetAsync("/healthz")).IsSuccessStatusCode, "the server sees the link down");
            // Sent while the SMSC is away: it waits, and goes once the bind is back.
            // Another number: a second OTP to the first within the minute is refused by flow control (R-S1-14).
            var second = await tenant.SendAsync(new { to = "13800138001", signature = tenant.Signature, category = "otp", text = "验证码 2222" });
            smsc = await NodeSmpp.StartAsync("smsc.js", port.ToString());
            output = new PeerOutput(smsc);
            await tenant.WaitForStatusAsync(second["messages"]![0].Str("id"), "delivered");
            Assert.Equal($"【{tenant.Signature}】验证码 2222", Assert.Single(output.Events("submit_sm")).Str("message"));
            Assert.True((await server.Http.GetAsync("/healthz")).IsSuccessStatusCode);
        }
        finally
        {
            smsc.Kill(true);
        }
    }

    [Fact]
    public async Task The_operator_adds_a_connector_that_takes_its_prefix_and_removes_it_with_an_unbind()
    {
        var server = fixture.Server;
        var port = Ports.Free();
        using var smsc = await NodeSmpp.StartAsync("smsc.js", port.ToString());
        var output = new PeerOutput(smsc);
        try
        {
            await Wait.Until(() => Task.FromResult(output.Events("listening").Count == 1), "node-smpp listens", output.ToString);
            var tenant = await server.CreateTenantAsync();
            var bad = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/connectors", new { name = "Bad Name", host = "127.0.0.1", port, systemId = "x", password = "y" });
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
            var created = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/connectors",
                new { name = "unicom", host = "127.0.0.1", port, systemId = "xinge", password = "secret", prefixes = new[] { "+86186" }, windowSize = 50, binds = 2 });
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
            await Wait.Until(async () => (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/connectors"))!
                .Any(c => c.Str("name") == "unicom" && c!["bound"]!.GetValue<bool>()), "the new connector binds");
            Assert.Equal(2, output.Events("bind").Count);
            Assert.Equal(System.Net.HttpStatusCode.Conflict, (await tenant.Admin.DeleteAsync("/api/v1/admin/connectors/simulator")).StatusCode);

            var sent = await tenant.SendAsync(new { to = new[] { "18612345678", "13812345678" }, signature = tenant.Signature, category = "notification", text = "按号段路由" });
            foreach (var m in sent["messages"]!.AsArray()) await tenant.WaitForStatusAsync(m.Str("id"), "delivered");
            // +86186… went to the operator's SMSC, +86138… to the simulator (the catch-all).
            Assert.Equal("8618612345678", Assert.Single(output.Events("submit_sm")).Str("dest"));
            Assert.Single((await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/+8613812345678/messages"))!);

            // Edited: the old binds leave, one bind comes with the new terms and the password kept.
            var edited = await tenant.Admin.PutAsJsonAsync("/api/v1/admin/connectors/unicom",
                new { host = "127.0.0.1", port, systemId = "xinge", prefixes = new[] { "+86186" }, windowSize = 20, binds = 1 });
            Assert.Equal(System.Net.HttpStatusCode.OK, edited.StatusCode);
            await Wait.Until(() => Task.FromResult(output.Events("unbind").Count == 2 && output.Events("bind").Count == 3), "the connector binds again", output.ToString);
            Assert.Equal("secret", output.Events("bind")[2].Str("password"));
            var view = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/connectors"))!.Single(c => c.Str("name") == "unicom")!;
            Assert.Equal((20, 1), (view["windowSize"]!.GetValue<int>(), view["binds"]!.GetValue<int>()));
            var again = await tenant.SendAsync(new { to = "18612345679", signature = tenant.Signature, category = "notification", text = "改后再发" });
            await tenant.WaitForStatusAsync(again["messages"]![0].Str("id"), "delivered");
            Assert.Equal(System.Net.HttpStatusCode.Conflict, (await tenant.Admin.PutAsJsonAsync("/api/v1/admin/connectors/simulator",
                new { host = "127.0.0.1", port, systemId = "x" })).StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await tenant.Admin.PutAsJsonAsync("/api/v1/admin/connectors/unicom",
                new { name = "other", host = "127.0.0.1", port, systemId = "x" })).StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await tenant.Admin.PutAsJsonAsync("/api/v1/admin/connectors/nosuch",
                new { host = "127.0.0.1", port, systemId = "x" })).StatusCode);

            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync("/api/v1/admin/connectors/unicom")).StatusCode);
            await Wait.Until(() => Task.FromResult(output.Events("unbind").Count == 3), "every bind unbinds gracefully", output.ToString);
            Assert.DoesNotContain((await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/connectors"))!, c => c.Str("name") == "unicom");
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await tenant.Admin.DeleteAsync("/api/v1/admin/connectors/unicom")).StatusCode);
        }
        finally
        {
            smsc.Kill(true);
        }
    }

    [Fact]
    public async Task An_smsc_that_outbinds_gets_a_bind_receiver_and_its_replies_reach_the_enterprise()
    {
        var server = fixture.Server;
        var tenant = await server.CreateTenantAsync();
        var created = await tenant.Admin.PostAsJsonAsync("/api/v1/admin/connectors",
            new { name = "outbinder", host = "127.0.0.1", port = Ports.Free(), systemId = "xinge", password = "secret", prefixes = new[] { "+999" }, outbindPort = Ports.Free() });
        Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        var connector = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/connectors"))!.Single(c => c.Str("name") == "outbinder")!;
        var outbindPort = connector["outbindPort"]!.GetValue<int>();
        Assert.True(outbindPort > 0);
        var extension = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}")).Str("extension");
        try
        {
            using var wrong = await NodeSmpp.StartAsync("outbind.js", outbindPort.ToString(), "xinge", "wrong", "8613700990055", "10690" + extension, "x");
            var wrongOutput = new PeerOutput(wrong);
            await wrong.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
            Assert.Empty(wrongOutput.Events("bind_receiver"));

            using var smsc = await NodeSmpp.StartAsync("outbind.js", outbindPort.ToString(), "xinge", "secret", "8613700990055", "10690" + extension, "经由outbind的回复");
            var output = new PeerOutput(smsc);
            await smsc.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
            Assert.True(smsc.ExitCode == 0, output.ToString());
            Assert.Equal("xinge", Assert.Single(output.Events("bind_receiver")).Str("system_id"));
            Assert.Equal(0, Assert.Single(output.Events("deliver_sm_resp"))["status"]!.GetValue<int>());
            await Wait.Until(async () => (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))!.Count == 1, "the reply reaches the enterprise");
            var reply = (await tenant.Client.GetFromJsonAsync<JsonArray>("/api/v1/inbound"))![0]!;
            Assert.Equal(("+8613700990055", "经由outbind的回复"), (reply.Str("from"), reply.Str("text")));
        }
        finally
        {
            await tenant.Admin.DeleteAsync("/api/v1/admin/connectors/outbinder");
        }
    }

    [Fact]
    public async Task A_node_smpp_esme_binds_to_xinge_submits_and_gets_its_receipt()
    {
        var server = fixture.Server;
        var tenant = await server.CreateTenantAsync();
        var systemId = "node" + tenant.Id;
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password = "secret" })).EnsureSuccessStatusCode();
        var text = $"【{tenant.Signature}】来自node-smpp的短信";
        using var esme = await NodeSmpp.StartAsync("esme.js", server.SmppPort.ToString(), systemId, "secret", "8613700990077", text);
        var output = new PeerOutput(esme);
        await esme.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
        Assert.True(esme.ExitCode == 0, output.ToString());
        Assert.Equal(0, Assert.Single(output.Events("bind_resp"))["status"]!.GetValue<int>());
        var resp = Assert.Single(output.Events("submit_sm_resp"));
        Assert.Equal(0, resp["status"]!.GetValue<int>());
        var receipt = Assert.Single(output.Events("deliver_sm"));
        Assert.Equal(4, receipt["esm_class"]!.GetValue<int>());
        Assert.Equal(resp.Str("id"), receipt.Str("receipted"));
        Assert.Contains($"id:{resp.Str("id")} ", receipt.Str("message"));
        Assert.Contains("stat:DELIVRD", receipt.Str("message"));
        var handset = await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/+8613700990077/messages");
        Assert.Equal(text, Assert.Single(handset!)!.Str("text"));
    }
}
