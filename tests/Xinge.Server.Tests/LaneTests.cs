using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Xinge.Simulator;

namespace Xinge.Server.Tests;

/// <summary>
/// An SMSC that binds and answers enquire_link but never answers a submit_sm: a stalled operator gateway. Every
/// submit sent to it holds its sender's capacity until the response time-out.
/// </summary>
public sealed class StalledSmsc : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private int _submits;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public int Submits => Volatile.Read(ref _submits);

    public static StalledSmsc Start()
    {
        var smsc = new StalledSmsc();
        smsc._listener.Start();
        _ = smsc.AcceptAsync();
        return smsc;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            lock (_sockets) _sockets.Add(s);
            _ = ServeAsync(s);
        }
    }

    private async Task ServeAsync(Socket s)
    {
        var buffer = new byte[1 << 16];
        var filled = 0;
        try
        {
            while (true)
            {
                var n = await s.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
                if (n == 0) return;
                filled += n;
                var offset = 0;
                while (filled - offset >= 16)
                {
                    var length = (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(offset));
                    if (filled - offset < length) break;
                    var command = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(offset + 4));
                    var sequence = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(offset + 12));
                    if (command == 0x00000004) Interlocked.Increment(ref _submits);
                    else if (command is 0x00000009 or 0x00000002 or 0x00000001 or 0x00000015)
                    {
                        var withId = command != 0x00000015;
                        var resp = new byte[withId ? 22 : 16];
                        BinaryPrimitives.WriteUInt32BigEndian(resp, (uint)resp.Length);
                        BinaryPrimitives.WriteUInt32BigEndian(resp.AsSpan(4), command | 0x80000000);
                        BinaryPrimitives.WriteUInt32BigEndian(resp.AsSpan(12), sequence);
                        if (withId) "stall\0"u8.CopyTo(resp.AsSpan(16));
                        await s.SendAsync(resp, SocketFlags.None);
                    }
                    offset += length;
                }
                Buffer.BlockCopy(buffer, offset, buffer, 0, filled - offset);
                filled -= offset;
            }
        }
        catch (Exception)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var s in _sockets) s.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>The lanes (ARCHITECTURE.md): each connector its own queue in priority order and its own in-flight budget.</summary>
public sealed class LaneTests
{
    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task A_stalled_connector_does_not_hold_the_capacity_of_another(Store store)
    {
        await using var stalled = StalledSmsc.Start();
        // The simulator's lane and the stalled one get a budget of 200 each; before lanes, one in-flight limit of
        // 400 was shared, and 500 messages for the stalled SMSC took all of it.
        await using var server = await XingeServer.StartAsync(store,
            "--Xinge:Simulator:WindowSize=50", "--Xinge:Connectors:0:Name=stalled", "--Xinge:Connectors:0:Host=127.0.0.1",
            $"--Xinge:Connectors:0:Port={stalled.Port}", "--Xinge:Connectors:0:SystemId=xinge", "--Xinge:Connectors:0:Password=x",
            "--Xinge:Connectors:0:Prefixes:0=86139");
        var tenant = await server.CreateTenantAsync();
        var bulk = Enumerable.Range(0, 500).Select(i => new { to = "1390077" + i.ToString("D4") }).ToArray();
        var job = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new { recipients = bulk, signature = tenant.Signature, category = "otp", text = "网关无响应" });
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
        await Wait.Until(() => Task.FromResult(stalled.Submits >= 100), "the stalled SMSC has taken submits and answers none");

        var otp = await tenant.SendAsync(new { to = "13800770001", signature = tenant.Signature, category = "otp", text = "验证码 246810" });
        await tenant.WaitForStatusAsync(otp["messages"]![0].Str("id"), "delivered");
        var inbox = await server.Simulator.GetFromJsonAsync<JsonArray>("/api/v1/simulator/handsets/8613800770001/messages");
        Assert.Equal($"【{tenant.Signature}】验证码 246810", Assert.Single(inbox!)!.Str("text"));
        // The stalled lane kept to its own budget.
        Assert.InRange(stalled.Submits, 1, 200);
    }

    [Theory]
    [InlineData(Store.Sqlite)]
    [InlineData(Store.Postgres)]
    public async Task An_otp_goes_out_before_the_bulk_job_waiting_in_its_lane(Store store)
    {
        await using var smsc = new SmscSimulator(new SimulatorOptions { Port = 0 });
        smsc.Start();
        await using var server = await XingeServer.StartAsync(store,
            "--Xinge:Simulator:Enabled=false", "--Xinge:Connectors:0:Name=slow", "--Xinge:Connectors:0:Host=127.0.0.1",
            $"--Xinge:Connectors:0:Port={smsc.Port}", "--Xinge:Connectors:0:SystemId=xinge", "--Xinge:Connectors:0:Password=x",
            "--Xinge:Connectors:0:MaxTps=100");
        var tenant = await server.CreateTenantAsync();
        var bulk = Enumerable.Range(0, 600).Select(i => new { to = "1390088" + i.ToString("D4") }).ToArray();
        var job = await tenant.Client.PostAsJsonAsync("/api/v1/jobs", new { recipients = bulk, signature = tenant.Signature, category = "marketing", text = "双十二大促" });
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
        var jobId = (await job.Content.ReadFromJsonAsync<JsonObject>()).Str("jobId");
        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{jobId}"))["counts"]!.Long("delivered") > 20, "the job is draining at 100 a second");

        static long Sent(JsonNode counts) => counts.Long("submitted") + counts.Long("delivered") + counts.Long("failed");
        var before = Sent((await tenant.GetAsync($"/api/v1/jobs/{jobId}"))["counts"]!);
        var sentAt = DateTimeOffset.UtcNow;
        var otp = await tenant.SendAsync(new { to = "13800880001", signature = tenant.Signature, category = "otp", text = "验证码 135790" });
        var acceptedAt = DateTimeOffset.UtcNow;
        var delivered = await tenant.WaitForStatusAsync(otp["messages"]![0].Str("id"), "delivered");
        var timeline = $"OTP posted {sentAt:HH:mm:ss.fff}, accepted {acceptedAt:HH:mm:ss.fff}, seen delivered {DateTimeOffset.UtcNow:HH:mm:ss.fff}: {delivered.ToJsonString()}";
        // Six seconds of marketing were waiting; the OTP waited only for what the lane had in flight (a quarter second
        // of sending at 100 a second), not for the 200 one claim used to take, nor for the job.
        var counts = (await tenant.GetAsync($"/api/v1/jobs/{jobId}"))["counts"]!;
        Assert.True(Sent(counts) - before < 100, $"{Sent(counts) - before} marketing messages went out before the OTP: {counts.ToJsonString()}; {timeline}");
        Assert.True(counts.Long("queued") > 300, $"the OTP went out after the marketing job: {counts.ToJsonString()}");
    }
}
