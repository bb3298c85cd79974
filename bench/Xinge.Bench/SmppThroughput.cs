using System.Diagnostics;
using Xinge.Simulator;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Bench;

/// <summary>
/// Sustained submit_sm rate of Xinge.Smpp binds against the simulator over loopback: N transceiver binds with a
/// window each, M submits, answered submit_sm_resp counted. Prints per run and the median.
/// </summary>
public static class SmppThroughput
{
    private sealed class Ignore : ISmppRequestHandler
    {
        public ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            if (request is DeliverSm d) session.Send(d.CreateResponse());
            return ValueTask.CompletedTask;
        }
    }

    public static async Task RunAsync(string[] args)
    {
        int Arg(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
        }
        var total = Arg("--messages", 300_000);
        var binds = Arg("--binds", 2);
        var window = Arg("--window", 1000);
        var runs = Arg("--runs", 3);
        var rates = new List<double>();
        for (var run = 1; run <= runs; run++)
        {
            await using var sim = new SmscSimulator(new SimulatorOptions { Port = 0, KeepMessages = false, WindowSize = window });
            sim.Start();
            var sessions = new List<SmppSession>();
            for (var b = 0; b < binds; b++)
                sessions.Add(await SmppClient.BindAsync("127.0.0.1", sim.Port, BindType.Transceiver, "bench", "bench", "", new Ignore(), new SmppSessionOptions { WindowSize = window }, default));
            var body = Ucs2.Encode("【信鸽压测】您的验证码是482913，五分钟内有效。");
            var clock = Stopwatch.StartNew();
            var perBind = total / binds;
            await Task.WhenAll(sessions.Select(async (s, b) =>
            {
                var inFlight = new List<Task<Pdu>>(window);
                for (var i = 0; i < perBind; i++)
                {
                    var pdu = new SubmitSm
                    {
                        DestAddrTon = 1,
                        DestAddrNpi = 1,
                        DestinationAddr = "86138" + (b * perBind + i).ToString("D8"),
                        DataCoding = 8,
                        ShortMessage = body,
                    };
                    inFlight.Add(s.SendRequestAsync(pdu));
                    if (inFlight.Count == window)
                    {
                        await Task.WhenAll(inFlight);
                        inFlight.Clear();
                    }
                }
                await Task.WhenAll(inFlight);
            }));
            var seconds = clock.Elapsed.TotalSeconds;
            var rate = perBind * binds / seconds;
            rates.Add(rate);
            Console.WriteLine($"run {run}: {perBind * binds} submit_sm answered in {seconds:F2} s = {rate:F0}/s ({binds} binds, window {window})");
            foreach (var s in sessions) await s.CloseAsync();
        }
        var sorted = rates.Order().ToList();
        Console.WriteLine($"median of {runs}: {sorted[sorted.Count / 2]:F0} submit_sm/s");
    }
}
