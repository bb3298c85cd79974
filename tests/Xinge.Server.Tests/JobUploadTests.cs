using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using MiniExcelLibs;

namespace Xinge.Server.Tests;

public sealed class SqliteJobUploadTests(SqliteFixture fixture) : JobUploadTests(fixture.Server, "1320060"), IClassFixture<SqliteFixture>;

public sealed class PostgresJobUploadTests(PostgresFixture fixture) : JobUploadTests(fixture.Server, "1320070"), IClassFixture<PostgresFixture>;

/// <summary>R-S1-6: a bulk job from a CSV (UTF-8 or GB18030) or XLSX file, its bad rows refused by line and downloadable.</summary>
public abstract class JobUploadTests(XingeServer server, string prefix)
{
    private static int _next;
    private string Number() => prefix + Interlocked.Increment(ref _next).ToString("D4");

    private static MultipartFormDataContent Form(Tenant tenant, byte[] file, string name, string text, string category = "notification")
    {
        var form = new MultipartFormDataContent
        {
            { new StringContent(tenant.Signature), "signature" },
            { new StringContent(category), "category" },
            { new StringContent(text), "text" },
        };
        var content = new ByteArrayContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue(name.EndsWith(".xlsx") ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv");
        form.Add(content, "file", name);
        return form;
    }

    private async Task<(JsonObject Job, JsonArray Rejections)> UploadAsync(Tenant tenant, byte[] file, string name, string text)
    {
        var r = await tenant.Client.PostAsync("/api/v1/jobs", Form(tenant, file, name, text));
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, $"POST /jobs answered {(int)r.StatusCode}: {body}");
        var job = JsonNode.Parse(body)!.AsObject();
        return (job, (await tenant.Client.GetFromJsonAsync<JsonArray>($"/api/v1/jobs/{job.Str("jobId")}/rejections"))!);
    }

    private async Task<string> ReceivedAsync(string number) =>
        (await server.Simulator.GetFromJsonAsync<JsonArray>($"/api/v1/simulator/handsets/86{number}/messages"))!.Single()!.Str("text");

    [Fact]
    public async Task A_utf8_csv_sends_each_row_its_own_text_and_refuses_bad_rows_by_line()
    {
        var tenant = await server.CreateTenantAsync();
        var (a, b, c) = (Number(), Number(), Number());
        var csv = $"\uFEFF姓名,手机号码,金额\r\n张三,{a},12.50\r\n李四,+86 {b[..3]} {b[3..7]} {b[7..]},8\r\n重复,{a},1\r\n坏号,12345,1\r\n\r\n缺额,{c},\r\n";
        var (job, rejections) = await UploadAsync(tenant, Encoding.UTF8.GetBytes(csv), "账单.csv", "${姓名}您好，本月账单${金额}元");
        Assert.Equal((2, 3), (job["accepted"]!.GetValue<int>(), job["rejected"]!.GetValue<int>()));
        Assert.Equal(new[] { (4, "duplicate"), (5, "invalid_number"), (7, "missing_param:金额") },
            rejections.Select(r => (r!["line"]!.GetValue<int>(), r.Str("reason"))).ToArray());
        var jobId = job.Str("jobId");
        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{jobId}"))["counts"]!["delivered"]!.GetValue<int>() == 2, "both rows delivered");
        Assert.Equal($"【{tenant.Signature}】张三您好，本月账单12.50元", await ReceivedAsync(a));
        Assert.Equal($"【{tenant.Signature}】李四您好，本月账单8元", await ReceivedAsync(b));

        // The refused rows download as CSV.
        var download = await tenant.Client.GetAsync($"/api/v1/jobs/{jobId}/rejections?format=csv");
        Assert.Equal("text/csv", download.Content.Headers.ContentType!.MediaType);
        var lines = (await download.Content.ReadAsStringAsync()).TrimStart('\uFEFF').Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        // A leading + is kept from running as a formula in a spreadsheet.
        Assert.Equal(["line,to,reason", "4,'+86" + a + ",duplicate", "5,12345,invalid_number", "7,'+86" + c + ",missing_param:金额"], lines);
    }

    [Fact]
    public async Task A_gb18030_csv_and_an_xlsx_workbook_are_read_as_well_with_the_phone_column_found_by_its_header()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var tenant = await server.CreateTenantAsync();
        var (a, b) = (Number(), Number());
        var gb = Encoding.GetEncoding("GB18030").GetBytes($"称呼,Mobile\n王先生,{a}\n");
        var (job, _) = await UploadAsync(tenant, gb, "gbk.csv", "${称呼}，您的快递已到");
        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{job.Str("jobId")}"))["counts"]!["delivered"]!.GetValue<int>() == 1, "delivered");
        Assert.Equal($"【{tenant.Signature}】王先生，您的快递已到", await ReceivedAsync(a));

        using var xlsx = new MemoryStream();
        await xlsx.SaveAsAsync(new[] { new Dictionary<string, object> { ["code"] = "A-17", ["phone"] = long.Parse(b) } });
        var (booked, _) = await UploadAsync(tenant, xlsx.ToArray(), "list.xlsx", "取件码${code}");
        await Wait.Until(async () => (await tenant.GetAsync($"/api/v1/jobs/{booked.Str("jobId")}"))["counts"]!["delivered"]!.GetValue<int>() == 1, "delivered");
        Assert.Equal($"【{tenant.Signature}】取件码A-17", await ReceivedAsync(b));
    }

    [Fact]
    public async Task A_bad_file_is_refused_clearly()
    {
        var tenant = await server.CreateTenantAsync();
        foreach (var (file, name, problem) in new[]
        {
            (Encoding.UTF8.GetBytes("手机号\n"), "empty.csv", "no recipients"),
            (Array.Empty<byte>(), "nothing.csv", "field named file"),
            (new byte[] { (byte)'P', (byte)'K', 3, 4, 1, 2, 3 }, "broken.xlsx", "XLSX"),
        })
        {
            var r = await tenant.Client.PostAsync("/api/v1/jobs", Form(tenant, file, name, "你好"));
            var answer = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{name}: {(int)r.StatusCode} {answer}");
            Assert.Contains(problem, answer);
        }
        // A workbook naming its last possible cell is read as far as a job goes, not as a million rows of 16,384 columns.
        using (var book = new MemoryStream())
        {
            await book.SaveAsAsync(new[] { new Dictionary<string, object> { ["phone"] = Number() } });
            using (var zip = new System.IO.Compression.ZipArchive(book, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
            {
                var entry = zip.Entries.Single(e => e.FullName.StartsWith("xl/worksheets/sheet", StringComparison.Ordinal) && e.FullName.EndsWith(".xml", StringComparison.Ordinal));
                string xml;
                using (var reader = new StreamReader(entry.Open())) xml = await reader.ReadToEndAsync();
                var close = xml.Contains("</x:sheetData>") ? "</x:sheetData>" : "</sheetData>";
                var prefix = close.StartsWith("</x:") ? "x:" : "";
                xml = xml.Replace(close, $"<{prefix}row r=\"1048576\"><{prefix}c r=\"XFD1048576\" t=\"str\"><{prefix}v>1</{prefix}v></{prefix}c></{prefix}row>{close}");
                entry.Delete();
                await using var writer = new StreamWriter(zip.CreateEntry(entry.FullName).Open());
                await writer.WriteAsync(xml);
            }
            var far = await tenant.Client.PostAsync("/api/v1/jobs", Form(tenant, book.ToArray(), "far.xlsx", "你好"));
            Assert.Equal(HttpStatusCode.Accepted, far.StatusCode);
            Assert.Equal(1, (await far.Content.ReadFromJsonAsync<JsonObject>())!["accepted"]!.GetValue<int>());
        }
        var text = await tenant.Client.PostAsync("/api/v1/jobs", new StringContent("13800138000", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        var json = await tenant.Client.PostAsync("/api/v1/jobs", new StringContent("{\"recipients\": [", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
    }
}
