using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Xinge.Server.Tests;

public sealed record SinkRequest(string Path, IQueryCollection Query, string Body, string Signature);

/// <summary>
/// An HTTP endpoint that records every request: an enterprise's webhook, Kannel's dlr-url and get-url. With
/// <c>failFirst</c> it answers the first request 503, to prove the caller retries.
/// </summary>
public sealed class HttpSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _calls;
    public List<SinkRequest> Requests { get; } = [];
    public string Url { get; private set; } = "";

    private HttpSink(WebApplication app) => _app = app;

    public static async Task<HttpSink> StartAsync(bool failFirst = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var sink = new HttpSink(app);
        app.Run(async context =>
        {
            if (failFirst && Interlocked.Increment(ref sink._calls) == 1)
            {
                context.Response.StatusCode = 503;
                return;
            }
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            lock (sink.Requests)
                sink.Requests.Add(new SinkRequest(context.Request.Path.Value ?? "", context.Request.Query, body, context.Request.Headers["X-Xinge-Signature"].ToString()));
        });
        await app.StartAsync();
        sink.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return sink;
    }

    public List<SinkRequest> On(string path)
    {
        lock (Requests) return Requests.Where(r => r.Path == path).ToList();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>Kannel 1.4.5 (Debian's bearerbox and smsbox) bound as an ESME to Xinge's SMPP server.</summary>
public sealed class KannelTests(SqliteFixture fixture) : IClassFixture<SqliteFixture>
{
    private static async Task EnsureKannelAsync()
    {
        if (File.Exists("/usr/sbin/bearerbox")) return;
        if (Environment.UserName != "root") throw new InvalidOperationException("Kannel is not installed: apt-get install -y kannel");
        var (code, output) = await NodeSmpp.RunAsync("apt-get", ["install", "-y", "-qq", "kannel"], "/tmp", TimeSpan.FromMinutes(5));
        if (code != 0) throw new InvalidOperationException("apt-get install kannel failed: " + output);
    }

    private static Process Start(string file, string conf, string log)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        // FIELD-NOTES: -v 2 keeps Kannel's debug log off stderr.
        psi.ArgumentList.Add("-v");
        psi.ArgumentList.Add("2");
        psi.ArgumentList.Add(conf);
        var p = Process.Start(psi)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { lock (writer) writer.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (writer) writer.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static string Tail(string dir) => string.Join("\n", Directory.GetFiles(dir, "*.log").Select(f =>
    {
        var text = File.ReadAllText(f);
        return $"== {Path.GetFileName(f)}\n{(text.Length > 3000 ? text[^3000..] : text)}";
    }));

    [Fact]
    public async Task Kannel_sends_through_xinge_gets_its_delivery_report_and_receives_replies()
    {
        await EnsureKannelAsync();
        var server = fixture.Server;
        var tenant = await server.CreateTenantAsync();
        var systemId = "kannel" + tenant.Id;
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/smpp-accounts", new { systemId, password = "secret" })).EnsureSuccessStatusCode();
        await using var sink = await HttpSink.StartAsync();
        var dir = Directory.CreateTempSubdirectory("xinge-kannel-").FullName;
        var (admin, smsboxPort, sendsms) = (Ports.Free(), Ports.Free(), Ports.Free());
        var conf = Path.Combine(dir, "kannel.conf");
        await File.WriteAllTextAsync(conf, $"""
            group = core
            admin-port = {admin}
            admin-password = secret
            admin-allow-ip = "127.0.0.1"
            smsbox-port = {smsboxPort}
            box-allow-ip = "127.0.0.1"
            log-file = "{dir}/bearerbox.log"
            log-level = 0
            dlr-storage = internal

            group = smsc
            smsc = smpp
            smsc-id = xinge
            host = 127.0.0.1
            port = {server.SmppPort}
            transceiver-mode = true
            smsc-username = "{systemId}"
            smsc-password = "secret"
            system-type = ""
            max-pending-submits = 10
            reconnect-delay = 1

            group = smsbox
            bearerbox-host = 127.0.0.1
            bearerbox-port = {smsboxPort}
            sendsms-port = {sendsms}
            log-file = "{dir}/smsbox.log"
            log-level = 0
            mo-recode = true

            group = sendsms-user
            username = tester
            password = foobar
            concatenation = true
            max-messages = 10

            group = sms-service
            keyword = default
            catch-all = true
            max-messages = 0
            get-url = "{sink.Url}/mo?from=%p&to=%P&text=%a"

            """);
        var bearerbox = Start("/usr/sbin/bearerbox", conf, Path.Combine(dir, "bearerbox.out.log"));
        Process? smsbox = null;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await Wait.Until(async () => (await http.GetStringAsync($"http://127.0.0.1:{admin}/status.txt?password=secret")).Contains("online"),
                "Kannel's SMSC link to Xinge is online", () => Tail(dir), seconds: 30);
            smsbox = Start("/usr/sbin/smsbox", conf, Path.Combine(dir, "smsbox.out.log"));

            var text = $"【{tenant.Signature}】经由Kannel发送";
            var dlrUrl = $"{sink.Url}/dlr?type=%d&text=%A";
            var sendUrl = $"http://127.0.0.1:{sendsms}/cgi-bin/sendsms?username=tester&password=foobar&from=10690&to=%2B8613700990088" +
                $"&text={Uri.EscapeDataString(text)}&charset=UTF-8&coding=2&dlr-mask=3&dlr-url={Uri.EscapeDataString(dlrUrl)}";
            string? answer = null;
            await Wait.Until(async () =>
            {
                var r = await http.GetAsync(sendUrl);
                answer = await r.Content.ReadAsStringAsync();
                return r.IsSuccessStatusCode;
            }, "smsbox accepts the sendsms request", () => answer + Tail(dir), seconds: 30);
            Assert.Contains("Accepted", answer);

            await Wait.Until(async () => (await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/+8613700990088/messages"))!.Count == 1,
                "the handset receives Kannel's message", () => Tail(dir));
            var received = (await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/+8613700990088/messages"))![0]!;
            Assert.Equal(text, received.Str("text"));

            await Wait.Until(() => Task.FromResult(sink.On("/dlr").Count > 0), "Kannel calls its dlr-url", () => Tail(dir));
            var dlr = Assert.Single(sink.On("/dlr")).Query;
            Assert.Equal("1", dlr["type"].ToString());
            Assert.Contains("stat:DELIVRD", dlr["text"].ToString());

            // A reply reaches Kannel over the same bind, and its sms-service.
            (await server.Simulator.PostAsJsonAsync("/api/v1/simulator/handsets/+8613700990088/messages", new { to = received.Str("from"), text = "回复Kannel" })).EnsureSuccessStatusCode();
            await Wait.Until(() => Task.FromResult(sink.On("/mo").Count > 0), "the reply reaches Kannel's sms-service", () => Tail(dir));
            var mo = Assert.Single(sink.On("/mo")).Query;
            Assert.Equal("回复Kannel", mo["text"].ToString());
            Assert.EndsWith("8613700990088", mo["from"].ToString());
        }
        finally
        {
            smsbox?.Kill(true);
            bearerbox.Kill(true);
        }
    }
}
