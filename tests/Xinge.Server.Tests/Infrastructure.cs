using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xinge.Server;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Xinge.Server.Tests;

public enum Store
{
    Sqlite,
    Postgres,
}

public static class Ports
{
    public static int Free()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}

/// <summary>
/// A throwaway PostgreSQL cluster for the whole test run, started from the machine's own binaries
/// (FIELD-NOTES.md: initdb and pg_ctl as the postgres user when we are root). Each server gets a fresh database.
/// </summary>
public static class PostgresCluster
{
    private static readonly Lazy<Task<string>> Started = new(StartAsync);

    public static async Task<string> CreateDatabaseAsync()
    {
        var admin = await Started.Value;
        var name = "xinge_" + Guid.NewGuid().ToString("N")[..12];
        await using var c = new NpgsqlConnection(admin);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
        await cmd.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ToString();
    }

    private static string? FindBin()
    {
        var env = Environment.GetEnvironmentVariable("XINGE_PG_BIN");
        if (!string.IsNullOrEmpty(env)) return env;
        if (!Directory.Exists("/usr/lib/postgresql")) return null;
        return Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")));
    }

    private static async Task<string> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable("XINGE_TEST_POSTGRES");
        if (!string.IsNullOrEmpty(external)) return external;
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL binaries not found (apt-get install -y postgresql, or set XINGE_TEST_POSTGRES to a server's connection string)");
        var root = Environment.UserName == "root";
        var dir = Path.Combine(Path.GetTempPath(), "xinge-pg-" + Environment.ProcessId);
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        if (root) await RunAsync("chown", $"postgres:postgres {dir}");
        var port = Ports.Free();
        await RunAsync(Path.Combine(bin, "initdb"), $"-D {dir} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8", root);
        await RunAsync(Path.Combine(bin, "pg_ctl"),
            $"-D {dir} -l {dir}/log -o \"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300\" -w start", root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                var stop = Start(Path.Combine(bin, "pg_ctl"), $"-D {dir} -m immediate stop", root);
                stop.WaitForExit(10_000);
                Directory.Delete(dir, true);
            }
            catch (Exception)
            {
            }
        };
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Maximum Pool Size=50";
    }

    private static Process Start(string file, string args, bool asPostgres)
    {
        var psi = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {args}")
            : new ProcessStartInfo(file, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = "/tmp";
        return Process.Start(psi)!;
    }

    private static async Task RunAsync(string file, string args, bool asPostgres = false)
    {
        using var p = Start(file, args, asPostgres);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {await stderr} {await stdout}");
    }
}

/// <summary>The real server (Kestrel, SMPP server, simulator) on free 127.0.0.1 ports with a fresh database.</summary>
public sealed class XingeServer : IAsyncDisposable
{
    public const string AdminPassword = "operator-secret-1";
    private readonly WebApplication _app;
    private readonly string? _sqliteDir;

    private XingeServer(WebApplication app, Uri baseAddress, int smppPort, string? sqliteDir, string connectionString)
    {
        _app = app;
        ConnectionString = connectionString;
        _sqliteDir = sqliteDir;
        BaseAddress = baseAddress;
        SmppPort = smppPort;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri BaseAddress { get; }
    public string ConnectionString { get; }
    public int SmppPort { get; }
    public HttpClient Http { get; }
    /// <summary>The operator's client, for the simulator's handsets (closed to anyone else outside Development).</summary>
    public HttpClient Simulator { get; private set; } = null!;
    public IServiceProvider Services => _app.Services;

    public static async Task<string> ConnectionStringAsync(Store store, string? sqliteDir)
    {
        return store == Store.Postgres ? await PostgresCluster.CreateDatabaseAsync() : $"Data Source={Path.Combine(sqliteDir!, "xinge.db")}";
    }

    public static Task<XingeServer> StartAsync(Store store, params string[] extra) => StartAsync(store, null, extra);

    public static async Task<XingeServer> StartAsync(Store store, Action<WebApplicationBuilder>? configure, params string[] extra)
    {
        var sqliteDir = store == Store.Sqlite ? Directory.CreateTempSubdirectory("xinge-test-").FullName : null;
        return await StartOnAsync(await ConnectionStringAsync(store, sqliteDir), sqliteDir, configure, extra);
    }

    /// <summary>Another node of the same platform: its own ports and node id, this one's database.</summary>
    public Task<XingeServer> StartSecondNodeAsync(params string[] extra) => StartOnAsync(ConnectionString, null, null, ["--Xinge:NodeId=1", .. extra]);

    private static async Task<XingeServer> StartOnAsync(string connectionString, string? sqliteDir, Action<WebApplicationBuilder>? configure, string[] extra)
    {
        var smppPort = Ports.Free();
        var args = new List<string>
        {
            "--Urls=http://127.0.0.1:0",
            $"--ConnectionStrings:Xinge={connectionString}",
            $"--Xinge:Bootstrap:AdminPassword={AdminPassword}",
            // Marketing at any hour, so that a test's outcome does not depend on when it runs; the hours' own test sets them.
            "--Xinge:Compliance:MarketingHours:From=00:00",
            "--Xinge:Compliance:MarketingHours:To=00:00",
            $"--Xinge:Smpp:Port={smppPort}",
            $"--Xinge:Simulator:Port={Ports.Free()}",
            "--Logging:LogLevel:Default=Warning",
        };
        args.AddRange(extra);
        var app = XingeApp.Build(args.ToArray(), configure);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var server = new XingeServer(app, new Uri(address), smppPort, sqliteDir, connectionString);
        await Wait.Until(async () => (await server.Http.GetAsync("/healthz")).IsSuccessStatusCode, "the server is healthy");
        server.Simulator = server.Client(await server.AdminTokenAsync());
        return server;
    }

    /// <summary>A new operator session for <see cref="Simulator"/>, once (fake) time has outrun the last one.</summary>
    public async Task RenewOperatorAsync() =>
        Simulator.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await AdminTokenAsync());

    public PlatformClient Platform => new(BaseAddress);
    public Task<string> AdminTokenAsync() => Platform.AdminTokenAsync();
    public HttpClient Client(string bearer) => Platform.Client(bearer);
    public Task<Tenant> CreateTenantAsync(string signature = "信鸽科技", long credit = 100_000, bool verify = true, bool approve = true, bool reviewed = false) =>
        Platform.CreateTenantAsync(signature, credit, verify, approve, reviewed);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Simulator?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_sqliteDir is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_sqliteDir, true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>The platform's public API, wherever the server runs (in this process or another).</summary>
public sealed class PlatformClient(Uri baseAddress)
{
    public Uri BaseAddress { get; } = baseAddress;
    public HttpClient Http { get; } = new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public async Task<string> AdminTokenAsync()
    {
        var r = await Http.PostAsJsonAsync("/api/v1/auth/token", new { username = "admin", password = XingeServer.AdminPassword });
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
    }

    public HttpClient Client(string bearer)
    {
        var c = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return c;
    }

    /// <summary>A unified social credit code no other test enterprise has, with its check character.</summary>
    public static string NewLicence()
    {
        const string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
        var first = "91310000MA" + new string(Enumerable.Range(0, 7).Select(_ => alphabet[Random.Shared.Next(alphabet.Length)]).ToArray());
        return first + Xinge.Server.Input.UsccCheck(first);
    }

    /// <summary>
    /// An enterprise ready to send, built through the public API: created, verified, credited, with an approved signature
    /// and an API key. Unless <paramref name="reviewed"/>, the operator trusts it (review-exempt), so its free text goes
    /// without a template; the tests of content review ask for a reviewed one.
    /// </summary>
    public async Task<Tenant> CreateTenantAsync(string signature = "信鸽科技", long credit = 100_000, bool verify = true, bool approve = true, bool reviewed = false)
    {
        var admin = Client(await AdminTokenAsync());
        var created = await admin.PostAsJsonAsync("/api/v1/admin/enterprises", new { name = "Enterprise " + Guid.NewGuid().ToString("N")[..6], licenceNumber = NewLicence() });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        if (verify) (await admin.PostAsync($"/api/v1/admin/enterprises/{id}/verify", null)).EnsureSuccessStatusCode();
        if (credit > 0) (await admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{id}/credit", new { amount = credit })).EnsureSuccessStatusCode();
        if (!reviewed) (await admin.PatchAsJsonAsync($"/api/v1/admin/enterprises/{id}", new { reviewExempt = true })).EnsureSuccessStatusCode();
        var keyResponse = await admin.PostAsync($"/api/v1/admin/enterprises/{id}/api-keys", null);
        Assert.Equal(HttpStatusCode.Created, keyResponse.StatusCode);
        var key = (await keyResponse.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
        var client = Client(key);
        var sig = await client.PostAsJsonAsync("/api/v1/signatures", new { text = signature });
        Assert.Equal(HttpStatusCode.Created, sig.StatusCode);
        var sigId = (await sig.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        if (approve)
        {
            var reviews = await admin.GetFromJsonAsync<JsonArray>("/api/v1/admin/reviews");
            var review = reviews!.Single(r => r!["kind"]!.GetValue<string>() == "signature" && r["subjectId"]!.GetValue<long>() == sigId)!;
            (await admin.PostAsync($"/api/v1/admin/reviews/{review["id"]}/approve", null)).EnsureSuccessStatusCode();
        }
        return new Tenant(id, key, client, admin, signature);
    }

}

public sealed record Tenant(long Id, string ApiKey, HttpClient Client, HttpClient Admin, string Signature)
{
    public async Task<JsonObject> SendAsync(object body)
    {
        var r = await Client.PostAsJsonAsync("/api/v1/messages", body);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, $"POST /messages answered {(int)r.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonObject> GetAsync(string path) => (await Client.GetFromJsonAsync<JsonObject>(path))!;

    /// <summary>The ledger reconciles to the fen with the balance and the reservations.</summary>
    public async Task<JsonObject> AssertLedgerReconcilesAsync()
    {
        var ledger = (await Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{Id}/ledger"))!;
        Assert.True(ledger["reconciles"]!.GetValue<bool>(), ledger.ToJsonString());
        return ledger;
    }

    public async Task<(long Balance, long Reserved)> BalanceAsync()
    {
        var b = await GetAsync("/api/v1/balance");
        return (b["balance"]!.GetValue<long>(), b["reserved"]!.GetValue<long>());
    }

    public async Task<JsonObject> WaitForStatusAsync(string messageId, params string[] statuses)
    {
        JsonObject? last = null;
        await Wait.Until(async () =>
        {
            last = await GetAsync($"/api/v1/messages/{messageId}");
            return statuses.Contains(last["status"]!.GetValue<string>());
        }, $"message {messageId} reaches {string.Join("/", statuses)}", () => last?.ToJsonString());
        return last!;
    }
}

public static class Wait
{
    public static async Task Until(Func<Task<bool>> condition, string what, Func<string?>? state = null, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting until {what}; last state: {state?.Invoke()}");
            await Task.Delay(50);
        }
    }
}

public static class Json
{
    public static string Str(this JsonNode? node, string name) => node![name]!.GetValue<string>();
    public static long Long(this JsonNode? node, string name) => node![name]!.GetValue<long>();
    public static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, JsonSerializerOptions.Web)!;
}
