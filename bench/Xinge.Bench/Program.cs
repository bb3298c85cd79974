using BenchmarkDotNet.Running;
using Xinge.Bench;

// e2e: the engine end to end (HTTP job → store → dispatch → simulator → receipts → settlement).
// smpp: sustained submit_sm rate of SMPP binds against the simulator over loopback.
// kannel: Kannel 1.4.5 and Xinge (SQLite, PostgreSQL) against one bare SMPP acker, loaded by wrk; rates and ratios.
// codec: BenchmarkDotNet micro-benchmarks of the SMPP and SMS text codecs.
// words: the sensitive-word matcher, 10,000 words over a million messages.
// onhook: call events decided per second in batches, and call end → submit_sm for an immediate policy.
var mode = args.FirstOrDefault() ?? "e2e";
switch (mode)
{
    case "e2e":
        await EndToEnd.RunAsync(args.Skip(1).ToArray());
        break;
    case "smpp":
        await SmppThroughput.RunAsync(args.Skip(1).ToArray());
        break;
    case "kannel":
        await KannelComparison.RunAsync(args.Skip(1).ToArray());
        break;
    case "onhook":
        await OnhookBench.RunAsync(args.Skip(1).ToArray());
        break;
    case "words":
        SensitiveWordThroughput.Run(args.Skip(1).ToArray());
        break;
    case "codec":
        BenchmarkSwitcher.FromTypes([typeof(CodecBenchmarks)]).Run(args.Skip(1).ToArray());
        break;
    default:
        Console.Error.WriteLine("usage: Xinge.Bench e2e [--recipients N] [--runs N] [--postgres CONNSTR] [--csv] | smpp [--messages N] [--binds N] [--window N] [--runs N] | kannel [--runs N] [--requests N] [--connections N] [--big-job N] [--otps N] [--stores kannel,sqlite,postgres] [--postgres ADMINCONNSTR] [--lists] | onhook [--runs N] [--events N] [--batch N] [--callers N] [--clients N] [--singles N] [--stores sqlite,postgres] [--postgres ADMINCONNSTR] | words [--words N] [--messages N] [--runs N] | codec [BenchmarkDotNet args]");
        return 2;
}
return 0;
