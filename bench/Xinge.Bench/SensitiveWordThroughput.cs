using System.Diagnostics;
using Xinge.Server.Features.Compliance;

namespace Xinge.Bench;

/// <summary>
/// The sensitive-word matcher (issue: 10,000 words over at least a million messages a second): a list of 10,000 words,
/// Chinese and Latin, over a million SMS-length texts of which one in fifty holds a word. Single thread; medians of runs.
/// </summary>
public static class SensitiveWordThroughput
{
    public static void Run(string[] args)
    {
        var words = Option(args, "--words", 10_000);
        var messages = Option(args, "--messages", 1_000_000);
        var runs = Option(args, "--runs", 5);
        var random = new Random(7);
        const string han = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";
        var list = new List<(string, string)>(words);
        for (var i = 0; i < words; i++)
        {
            var latin = i % 5 == 0;
            var length = random.Next(2, 5);
            var word = latin
                ? new string(Enumerable.Range(0, length + 3).Select(_ => (char)('a' + random.Next(26))).ToArray())
                : new string(Enumerable.Range(0, length).Select(_ => han[random.Next(han.Length)]).ToArray());
            list.Add((word, WordAction.Refuse));
        }
        var matcher = new SensitiveWordMatcher(list);
        var texts = new string[messages];
        for (var i = 0; i < messages; i++)
        {
            var body = "【信鸽科技】尊敬的客户，您的订单" + random.Next(100000, 999999) + "已发货，预计明天送达，请保持电话畅通。";
            texts[i] = i % 50 == 0 ? body + list[random.Next(list.Count)].Item1 : body;
        }
        var rates = new List<double>();
        for (var run = 0; run < runs + 1; run++)
        {
            var found = 0;
            var clock = Stopwatch.StartNew();
            foreach (var t in texts)
            {
                if (matcher.Find(t) is not null) found++;
            }
            clock.Stop();
            if (run == 0) continue; // warm-up
            var rate = messages / clock.Elapsed.TotalSeconds;
            rates.Add(rate);
            Console.WriteLine($"run {run}: {messages:N0} messages, {found:N0} with a word, {rate:N0} messages/s");
        }
        rates.Sort();
        Console.WriteLine($"median of {runs}: {rates[rates.Count / 2]:N0} messages/s over {matcher.Count:N0} words (one thread)");
    }

    private static int Option(string[] args, string name, int otherwise)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : otherwise;
    }
}
