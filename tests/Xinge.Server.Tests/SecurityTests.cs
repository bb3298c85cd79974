using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Xinge.Server.Features.Accounts;
using WebhookTargetsOf = Xinge.Server.Features.Messaging.WebhookTargets;

namespace Xinge.Server.Tests;

// Each store gets a server of its own: these tests fail sign-ins on purpose, and the guard's state is per node.
public sealed class SqliteSecurityFixture : IAsyncLifetime
{
    private readonly ServerFixture _inner = new(Store.Sqlite);
    public XingeServer Server => _inner.Server;
    public Task InitializeAsync() => _inner.InitializeAsync();
    public Task DisposeAsync() => _inner.DisposeAsync();
}

public sealed class PostgresSecurityFixture : IAsyncLifetime
{
    private readonly ServerFixture _inner = new(Store.Postgres);
    public XingeServer Server => _inner.Server;
    public Task InitializeAsync() => _inner.InitializeAsync();
    public Task DisposeAsync() => _inner.DisposeAsync();
}

public sealed class SqliteSecurityTests(SqliteSecurityFixture fixture) : SecurityTests(fixture.Server), IClassFixture<SqliteSecurityFixture>;

public sealed class PostgresSecurityTests(PostgresSecurityFixture fixture) : SecurityTests(fixture.Server), IClassFixture<PostgresSecurityFixture>;

/// <summary>Sign-in, sessions, keys and the audit log through the HTTP API and SMPP, on each store (issue 11).</summary>
public abstract class SecurityTests(XingeServer server)
{
    private const string Password = "first-password-1";
    private const string NewPassword = "second-password-2";

    private async Task<HttpResponseMessage> SignInAsync(string username, string password) =>
        await server.Http.PostAsJsonAsync("/api/v1/auth/token", new { username, password });

    private static async Task<JsonObject> Json(HttpResponseMessage r) => (await r.Content.ReadFromJsonAsync<JsonObject>())!;

    /// <summary>A user an operator created, who then signed in and chose their own password; its token.</summary>
    private async Task<(Tenant Tenant, string Username, long Id, string Token)> PersonAsync()
    {
        var tenant = await server.CreateTenantAsync();
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        var created = await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/users", new { username, password = Password, role = "enterprise_user" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await Json(created))["id"]!.GetValue<long>();
        var first = await SignInAsync(username, Password);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var firstBody = await Json(first);
        Assert.True(firstBody["mustChangePassword"]!.GetValue<bool>());
        var changed = await server.Client(firstBody["token"]!.GetValue<string>()).PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = Password, newPassword = NewPassword });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        return (tenant, username, id, (await Json(changed))["token"]!.GetValue<string>());
    }

    private async Task<JsonArray> AuditAsync(HttpClient admin, string query) =>
        (await admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/audit?" + query))!["items"]!.AsArray();

    [Fact]
    public async Task An_operator_issued_password_opens_nothing_but_the_password_change_and_the_change_ends_the_old_session()
    {
        var tenant = await server.CreateTenantAsync();
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/users", new { username, password = Password, role = "enterprise_admin" })).EnsureSuccessStatusCode();
        var first = await Json(await SignInAsync(username, Password));
        var provisional = server.Client(first["token"]!.GetValue<string>());
        var refused = await provisional.GetAsync("/api/v1/balance");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.EndsWith("/password-change-required", (await Json(refused))["type"]!.GetValue<string>());
        // Weak, unchanged or wrong: refused with a reason.
        Assert.Equal(HttpStatusCode.BadRequest, (await provisional.PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = Password, newPassword = "short" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await provisional.PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = Password, newPassword = Password })).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await provisional.PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = "not-it-at-all", newPassword = NewPassword })).StatusCode);

        var changed = await provisional.PostAsJsonAsync("/api/v1/auth/password", new { currentPassword = Password, newPassword = NewPassword });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var fresh = server.Client((await Json(changed))["token"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/api/v1/balance")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await provisional.GetAsync("/api/v1/balance")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(username, Password)).StatusCode);
        var again = await Json(await SignInAsync(username, NewPassword));
        Assert.False(again["mustChangePassword"]!.GetValue<bool>());
        var log = await AuditAsync(tenant.Admin, $"actor=user:{username}");
        Assert.Contains(log, e => e!["action"]!.GetValue<string>() == "auth.password_changed" && e["outcome"]!.GetValue<string>() == "success");
        Assert.Contains(log, e => e!["action"]!.GetValue<string>() == "auth.password_changed" && e["outcome"]!.GetValue<string>() == "failure");
    }

    [Fact]
    public async Task Guessing_one_account_is_locked_out_after_five_failures_and_every_attempt_is_audited()
    {
        var (tenant, username, _, _) = await PersonAsync();
        for (var i = 0; i < LoginGuard.FreeFailures; i++)
        {
            var wrong = await SignInAsync(username, "guess-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        // Now even the right password from this address waits, and is told how long.
        var locked = await SignInAsync(username, NewPassword);
        Assert.Equal((HttpStatusCode)429, locked.StatusCode);
        Assert.True(locked.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.EndsWith("/too-many-attempts", (await Json(locked))["type"]!.GetValue<string>());

        // An unknown user is answered exactly as a wrong password is.
        var unknown = await SignInAsync("nobody-" + Guid.NewGuid().ToString("N")[..8], "whatever-1");
        var wrongPassword = await SignInAsync((await PersonAsync()).Username, "whatever-1");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        static string Answer(JsonObject problem)
        {
            problem.Remove("traceId");
            return problem.ToJsonString();
        }
        Assert.Equal(Answer(await Json(wrongPassword)), Answer(await Json(unknown)));

        var log = await AuditAsync(tenant.Admin, $"actor=user:{username}&action=auth.login");
        Assert.Equal(LoginGuard.FreeFailures, log.Count(e => e!["outcome"]!.GetValue<string>() == "failure"));
        Assert.Contains(log, e => e!["outcome"]!.GetValue<string>() == "denied" && e["source"]!.GetValue<string>().Contains("127.0.0.1"));
        Assert.Contains(log, e => e!["outcome"]!.GetValue<string>() == "success");
    }

    [Fact]
    public async Task Signing_out_ends_the_session_on_every_node_sharing_the_database()
    {
        await using var second = await server.StartSecondNodeAsync();
        var (_, _, _, token) = await PersonAsync();
        var here = server.Client(token);
        var there = second.Client(token);
        Assert.Equal(HttpStatusCode.OK, (await there.GetAsync("/api/v1/balance")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await here.PostAsync("/api/v1/auth/logout", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await here.GetAsync("/api/v1/balance")).StatusCode);
        await Wait.Until(async () => (await there.GetAsync("/api/v1/balance")).StatusCode == HttpStatusCode.Unauthorized, "the other node refuses the token", seconds: 5);
    }

    [Fact]
    public async Task Api_keys_are_listed_without_the_secret_and_a_revoked_key_is_refused_on_every_node()
    {
        await using var second = await server.StartSecondNodeAsync();
        var tenant = await server.CreateTenantAsync();
        var other = await server.CreateTenantAsync();
        // A second key, made by the operator; the first is the tenant's working key.
        var made = await Json(await tenant.Admin.PostAsync($"/api/v1/admin/enterprises/{tenant.Id}/api-keys", null));
        var key = made["key"]!.GetValue<string>();
        var keyId = made["id"]!.GetValue<long>();
        var there = second.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await there.GetAsync("/api/v1/balance")).StatusCode);

        var listed = await tenant.Client.GetStringAsync("/api/v1/api-keys");
        Assert.DoesNotContain(key, listed);
        var items = JsonNode.Parse(listed)!["items"]!.AsArray();
        Assert.Equal(2, items.Count);
        Assert.Contains(items, i => i!["id"]!.GetValue<long>() == keyId && i["prefix"]!.GetValue<string>() == key[..7] && i["revokedAt"] is null);
        Assert.Equal(items.ToJsonString(), (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/enterprises/{tenant.Id}/api-keys"))!["items"]!.ToJsonString());

        // Another enterprise can neither see nor revoke it.
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.DeleteAsync($"/api/v1/api-keys/{keyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await there.GetAsync("/api/v1/balance")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Client.DeleteAsync($"/api/v1/api-keys/{keyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client(key).GetAsync("/api/v1/balance")).StatusCode);
        await Wait.Until(async () => (await there.GetAsync("/api/v1/balance")).StatusCode == HttpStatusCode.Unauthorized, "the other node refuses the key", seconds: 5);
        // The tenant's other key still works; the list shows when the revoked one ended.
        Assert.Equal(HttpStatusCode.OK, (await tenant.Client.GetAsync("/api/v1/balance")).StatusCode);
        var after = (await tenant.Client.GetFromJsonAsync<JsonObject>("/api/v1/api-keys"))!["items"]!.AsArray();
        Assert.NotNull(after.Single(i => i!["id"]!.GetValue<long>() == keyId)!["revokedAt"]);
        var log = await AuditAsync(tenant.Admin, "action=api_key.revoked");
        Assert.Contains(log, e => e!["target"]!.GetValue<string>() == "key:" + key[..7] && e["actor"]!.GetValue<string>() == "key:" + tenant.ApiKey[..7]);
    }

    [Fact]
    public async Task A_disabled_user_is_signed_out_everywhere_and_cannot_sign_in_until_enabled()
    {
        await using var second = await server.StartSecondNodeAsync();
        var (tenant, username, id, token) = await PersonAsync();
        var there = second.Client(token);
        Assert.Equal(HttpStatusCode.OK, (await there.GetAsync("/api/v1/balance")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await tenant.Admin.PostAsync($"/api/v1/admin/users/{id}/disable", null)).StatusCode);
        await Wait.Until(async () => (await there.GetAsync("/api/v1/balance")).StatusCode == HttpStatusCode.Unauthorized, "the other node refuses the user", seconds: 5);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(username, NewPassword)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await tenant.Admin.PostAsync($"/api/v1/admin/users/{id}/enable", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(username, NewPassword)).StatusCode);
        // The operator resets the password: it must be changed again.
        Assert.Equal(HttpStatusCode.OK, (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/users/{id}/password", new { password = "reset-password-3" })).StatusCode);
        Assert.True((await Json(await SignInAsync(username, "reset-password-3")))["mustChangePassword"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Admin.PostAsync("/api/v1/admin/users/999999/disable", null)).StatusCode);
        var actions = (await AuditAsync(tenant.Admin, $"action=user.")).Select(e => e!["action"]!.GetValue<string>() + " " + e["target"]!.GetValue<string>()).ToList();
        Assert.Contains($"user.disabled user:{username}", actions);
        Assert.Contains($"user.enabled user:{username}", actions);
        Assert.Contains($"user.password_reset user:{username}", actions);
        Assert.Contains($"user.created user:{username}", actions);
    }

    [Fact]
    public async Task The_audit_log_is_the_operators_and_filters_and_pages()
    {
        var tenant = await server.CreateTenantAsync();
        var mark = DateTimeOffset.UtcNow.AddSeconds(-1);
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/credit", new { amount = 123 })).EnsureSuccessStatusCode();
        (await tenant.Admin.PostAsJsonAsync($"/api/v1/admin/enterprises/{tenant.Id}/credit", new { amount = 456 })).EnsureSuccessStatusCode();
        var page = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/audit?action=enterprise.credited&since={Uri.EscapeDataString(mark.ToString("O"))}&limit=1"))!;
        var first = page["items"]!.AsArray().Single()!;
        Assert.Equal("user:admin", first["actor"]!.GetValue<string>());
        Assert.Equal("success", first["outcome"]!.GetValue<string>());
        Assert.NotNull(first["at"]);
        var next = page["next"]!.GetValue<string>();
        var second = (await tenant.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/admin/audit?action=enterprise.credited&cursor={next}&limit=1"))!["items"]!.AsArray().Single()!;
        Assert.NotEqual(first["id"]!.ToString(), second["id"]!.ToString());
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.GetAsync("/api/v1/admin/audit")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.GetAsync("/api/v1/admin/audit?cursor=nonsense")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.Admin.GetAsync("/api/v1/admin/audit?limit=0")).StatusCode);
    }

    [Fact]
    public async Task Webhooks_go_to_public_http_addresses_only_by_default()
    {
        var tenant = await server.CreateTenantAsync();
        const string secret = "webhook-secret-0123456789";
        foreach (var url in new[]
        {
            "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://172.20.0.1/hook", "http://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/", "http://[::1]/hook", "http://[fd00::1]/hook", "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0/", "ftp://93.184.216.34/hook", "file:///etc/passwd", "http://user:pw@93.184.216.34/hook", "/relative",
            "http://93.184.216.34/" + new string('a', 1_000_000),
        })
        {
            var r = await tenant.Client.PutAsJsonAsync("/api/v1/webhook", new { url, secret });
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{url[..Math.Min(60, url.Length)]} answered {(int)r.StatusCode}");
        }
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.Client.GetAsync("/api/v1/webhook")).StatusCode);
        // A public address is taken (nothing is sent until an event happens).
        Assert.Equal(HttpStatusCode.OK, (await tenant.Client.PutAsJsonAsync("/api/v1/webhook", new { url = "https://93.184.216.34/hook", secret })).StatusCode);
        Assert.Contains(await AuditAsync(tenant.Admin, "action=webhook.set"), e => e!["target"]!.GetValue<string>() == "https://93.184.216.34");
    }

    [Fact]
    public async Task A_webhook_host_that_turns_inward_after_it_was_set_gets_nothing()
    {
        var tenant = await server.CreateTenantAsync();
        await using var sink = await HttpSink.StartAsync();
        // As if its name resolved to a public address when it was set, and to this machine now (DNS rebinding).
        var database = (Xinge.Server.Data.Database)server.Services.GetService(typeof(Xinge.Server.Data.Database))!;
        await using (var c = await database.OpenAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(c, "INSERT INTO webhooks (enterprise_id, url, secret) VALUES (@e, @url, 'webhook-secret-0123456789')", new { e = tenant.Id, url = sink.Url + "/hook" });
        }
        var sent = await tenant.SendAsync(new { to = "+8613700440001", signature = tenant.Signature, category = "notification", text = "内网回调" });
        await tenant.WaitForStatusAsync(sent["messages"]![0].Str("id"), "delivered");
        await Wait.Until(async () =>
        {
            await using var c = await database.OpenAsync();
            var error = await Dapper.SqlMapper.QuerySingleOrDefaultAsync<string?>(c, "SELECT last_error FROM webhook_deliveries WHERE enterprise_id = @e", new { e = tenant.Id });
            return error?.Contains("no public address") == true;
        }, "the delivery is refused at connection time");
        Assert.Empty(sink.Requests);
    }

    [Fact]
    public async Task Smpp_answers_an_unknown_system_id_as_a_wrong_password_and_audits_both()
    {
        var tenant = await server.CreateTenantAsync();
        var unknown = "zz" + Guid.NewGuid().ToString("N")[..8];
        var e = await Assert.ThrowsAsync<Xinge.Smpp.SmppRequestFailedException>(() => Xinge.Smpp.SmppClient.BindAsync("127.0.0.1", server.SmppPort,
            Xinge.Smpp.BindType.Transceiver, unknown, "secret", "", new Inbox(), null, default));
        Assert.Equal(Xinge.Smpp.CommandStatus.EsmeRinvpaswd, e.Status);
        var log = await AuditAsync(tenant.Admin, $"actor=smpp:{unknown}");
        Assert.Equal("failure", log.Single()!["outcome"]!.GetValue<string>());
    }
}

public sealed class SimulatorAccessTests
{
    [Fact]
    public async Task The_handsets_api_is_the_operators_outside_development_and_open_in_development()
    {
        await using (var production = await XingeServer.StartAsync(Store.Sqlite))
        {
            var tenant = await production.CreateTenantAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, (await production.Http.GetAsync("/api/v1/simulator/handsets/8613800138000/messages")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await production.Http.PostAsJsonAsync("/api/v1/simulator/handsets/8613800138000/messages", new { to = "106900001", text = "T" })).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Client.GetAsync("/api/v1/simulator/handsets/8613800138000/messages")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await production.Simulator.GetAsync("/api/v1/simulator/handsets/8613800138000/messages")).StatusCode);
        }
        await using var development = await XingeServer.StartAsync(Store.Sqlite, "--environment=Development");
        Assert.Equal(HttpStatusCode.OK, (await development.Http.GetAsync("/api/v1/simulator/handsets/8613800138000/messages")).StatusCode);
    }
}

public sealed class WebhookTargetTests
{
    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.1.1", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd12::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("93.184.216.34", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("2606:2800:220:1::1", true)]
    public void Addresses_inside_a_network_are_not_public(string address, bool isPublic) =>
        Assert.Equal(isPublic, WebhookTargetsOf.IsPublic(System.Net.IPAddress.Parse(address)));
}

/// <summary>The guard's rules on their own, with time under the test's control.</summary>
public sealed class LoginGuardTests
{
    [Fact]
    public void Five_failures_lock_one_account_from_one_address_only_and_the_lock_grows_but_ends()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var guard = new LoginGuard(time);
        for (var i = 0; i < LoginGuard.FreeFailures; i++)
        {
            Assert.Null(guard.Check("alice", "203.0.113.9"));
            guard.Failed("alice", "203.0.113.9");
        }
        Assert.Equal(TimeSpan.FromMinutes(1), guard.Check("alice", "203.0.113.9"));
        // The owner, from another address, and other accounts from this one, are not affected.
        Assert.Null(guard.Check("alice", "198.51.100.7"));
        Assert.Null(guard.Check("bob", "203.0.113.9"));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(guard.Check("alice", "203.0.113.9"));
        for (var i = 0; i < LoginGuard.FreeFailures; i++) guard.Failed("alice", "203.0.113.9");
        Assert.Equal(TimeSpan.FromMinutes(2), guard.Check("alice", "203.0.113.9"));
        for (var round = 0; round < 10; round++)
        {
            time.Advance(TimeSpan.FromMinutes(20));
            for (var i = 0; i < LoginGuard.FreeFailures; i++) guard.Failed("alice", "203.0.113.9");
        }
        // Never more than a quarter of an hour.
        Assert.Equal(TimeSpan.FromMinutes(15), guard.Check("alice", "203.0.113.9"));
        // A success from there clears it.
        time.Advance(TimeSpan.FromMinutes(15));
        guard.Succeeded("alice", "203.0.113.9");
        guard.Failed("alice", "203.0.113.9");
        Assert.Null(guard.Check("alice", "203.0.113.9"));
    }

    [Fact]
    public void An_address_spraying_many_accounts_is_locked()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var guard = new LoginGuard(time);
        guard.Succeeded("owner", "203.0.113.9");
        for (var i = 0; i < LoginGuard.SourceFailures; i++) guard.Failed("user" + i, "203.0.113.9");
        Assert.NotNull(guard.Check("someone-else", "203.0.113.9"));
        // An account that signed in from there before still may: a shared address (NAT) does not lock its users out.
        Assert.Null(guard.Check("owner", "203.0.113.9"));
        Assert.Null(guard.Check("someone-else", "198.51.100.7"));
        time.Advance(TimeSpan.FromMinutes(16));
        Assert.Null(guard.Check("someone-else", "203.0.113.9"));
    }

    [Fact]
    public void An_account_guessed_from_many_addresses_still_lets_its_owner_in_from_a_known_address()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var guard = new LoginGuard(time);
        guard.Succeeded("alice", "198.51.100.7");
        for (var i = 0; i < LoginGuard.AccountFailures; i++) guard.Failed("alice", "203.0.113." + i);
        Assert.NotNull(guard.Check("alice", "192.0.2.50"));
        Assert.Null(guard.Check("alice", "198.51.100.7"));
        Assert.Null(guard.Check("bob", "192.0.2.50"));
        time.Advance(TimeSpan.FromMinutes(16));
        Assert.Null(guard.Check("alice", "192.0.2.50"));
    }
}
