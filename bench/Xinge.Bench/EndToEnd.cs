using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xinge.Server;

namespace Xinge.Bench;

/// <summary>
/// A job of N recipients (default 100,000) through the whole engine on a fresh database: prints the time to the
/// 202 answer and the end-to-end rate (messages submitted and receipted per second), per run and the median.
/// With <c>--csv</c> the job is a CSV file upload (multipart) with a name column, 5% duplicate rows (the same number
/// written another way) and 2% invalid numbers, as the compliance issue measures it.
/// </summary>
public static class EndToEnd
{
    public static async Task RunAsync(string[] args)
    {
        var recipients = Arg(args, "--recipients", 100_000);
        var runs = Arg(args, "--runs", 3);
        var postgres = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault();
        var csv = args.Contains("--csv");
        var accepted = new List<double>();
        var rates = new List<double>();
        for (var run = 1; run <= runs; run++)
        {
            var (toAccepted, total, rate) = await OneRunAsync(recipients, postgres, csv);
            accepted.Add(toAccepted);
            rates.Add(rate);
            Console.WriteLine($"run {run}: 202 after {toAccepted:F2} s; all accepted receipted after {total:F2} s = {rate:F0} msg/s end to end");
        }
        Console.WriteLine($"median of {runs}: 202 after {Median(accepted):F2} s; {Median(rates):F0} msg/s end to end ({(postgres is null ? "SQLite" : "PostgreSQL")}, {recipients} recipients{(csv ? ", as a CSV upload" : "")})");
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    private static double Median(List<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>The CSV of a run: a header, then numbers; every 20th row repeats an earlier number written nationally with spaces, every 50th is not a number (never the same rows).</summary>
    private static (byte[] File, int Valid) Csv(int rows)
    {
        var sb = new System.Text.StringBuilder("手机号码,姓名\n", rows * 24);
        var numbers = new HashSet<int>();
        for (var i = 0; i < rows; i++)
        {
            if (i % 50 == 48) sb.Append("12345,无效\n");
            else if (i % 20 == 19)
            {
                sb.Append("138 ").Append((i - 10).ToString("D8").Insert(4, " ")).Append(",重复\n");
                numbers.Add(i - 10);
            }
            else
            {
                sb.Append("+86138").Append(i.ToString("D8")).Append(",客户").Append(i).Append('\n');
                numbers.Add(i);
            }
        }
        return (System.Text.Encoding.UTF8.GetBytes(sb.ToString()), numbers.Count);
    }

    private static async Task<(double ToAccepted, double Total, double Rate)> OneRunAsync(int recipients, string? postgres, bool csv)
    {
        var dir = Directory.CreateTempSubdirectory("xinge-bench-");
        var connection = postgres ?? $"Data Source={Path.Combine(dir.FullName, "xinge.db")}";
        var app = XingeApp.Build([
            "--Urls=http://127.0.0.1:0", $"--ConnectionStrings:Xinge={connection}", "--Xinge:Bootstrap:AdminPassword=bench-password",
            "--Xinge:Smpp:Port=0", $"--Xinge:Simulator:Port={FreePort()}", "--Xinge:Simulator:KeepMessages=false",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Xinge.Server.Features.Messaging.MessagingService=Information",
        ]);
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(5) };
            while (!(await http.GetAsync("/healthz")).IsSuccessStatusCode) await Task.Delay(50);
            var token = (await (await http.PostAsJsonAsync("/api/v1/auth/token", new { username = "admin", password = "bench-password" })).Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var id = (await (await http.PostAsJsonAsync("/api/v1/admin/enterprises", new { name = "Bench", licenceNumber = Licence() })).Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
            (await http.PostAsync($"/api/v1/admin/enterprises/{id}/verify", null)).EnsureSuccessStatusCode();
            (await http.PostAsJsonAsync($"/api/v1/admin/enterprises/{id}/credit", new { amount = 100L * recipients })).EnsureSuccessStatusCode();
            var key = (await (await http.PostAsync($"/api/v1/admin/enterprises/{id}/api-keys", null)).Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
            using var ent = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(5) };
            ent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            (await ent.PostAsJsonAsync("/api/v1/signatures", new { text = "信鸽压测" })).EnsureSuccessStatusCode();
            // The text matches an approved template, so it goes without review of its own, as a reviewed enterprise's would.
            (await ent.PostAsJsonAsync("/api/v1/templates", new { name = "bench", category = "notification", text = "${姓名}您好，您的订单已发货。" })).EnsureSuccessStatusCode();
            foreach (var review in (await http.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews"))!)
                (await http.PostAsync($"/api/v1/admin/reviews/{review!["id"]!.GetValue<long>()}/approve", null)).EnsureSuccessStatusCode();

            HttpContent content;
            var expected = recipients;
            if (csv)
            {
                var (file, valid) = Csv(recipients);
                expected = valid;
                var form = new MultipartFormDataContent
                {
                    { new StringContent("信鸽压测"), "signature" },
                    { new StringContent("notification"), "category" },
                    { new StringContent("${姓名}您好，您的订单已发货。"), "text" },
                };
                var part = new ByteArrayContent(file);
                part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
                form.Add(part, "file", "bench.csv");
                content = form;
            }
            else
            {
                content = JsonContent.Create(new
                {
                    recipients = Enumerable.Range(0, recipients).Select(i => new { to = "+86138" + i.ToString("D8"), @params = new Dictionary<string, string> { ["姓名"] = "客户" + i } }).ToArray(),
                    signature = "信鸽压测",
                    category = "notification",
                    text = "${姓名}您好，您的订单已发货。",
                });
            }
            await content.LoadIntoBufferAsync();
            var clock = Stopwatch.StartNew();
            var response = await ent.PostAsync("/api/v1/jobs", content);
            var toAccepted = clock.Elapsed.TotalSeconds;
            if (response.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"job refused: {await response.Content.ReadAsStringAsync()}");
            var jobId = (await response.Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!.GetValue<string>();
            while (true)
            {
                var status = await ent.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{jobId}");
                if (status!["status"]!.GetValue<string>() == "completed")
                {
                    var delivered = status["counts"]!["delivered"]!.GetValue<long>();
                    if (delivered != expected) throw new InvalidOperationException($"only {delivered} of {expected} delivered: {status}");
                    break;
                }
                await Task.Delay(100);
            }
            var total = clock.Elapsed.TotalSeconds;
            return (toAccepted, total, expected / total);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                dir.Delete(true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A unified social credit code of its own for each run's enterprise.</summary>
    private static string Licence()
    {
        const string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
        var first = "91310000MA" + new string(Enumerable.Range(0, 7).Select(_ => alphabet[Random.Shared.Next(alphabet.Length)]).ToArray());
        return first + Xinge.Server.Input.UsccCheck(first);
    }
}
