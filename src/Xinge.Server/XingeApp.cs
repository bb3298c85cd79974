using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.OpenApi;
using Prometheus;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Billing;
using Xinge.Server.Features.Compliance;
using Xinge.Server.Features.Connectors;
using Xinge.Server.Features.Messaging;
using Xinge.Server.Features.Reports;
using Xinge.Server.Features.Calls;
using Xinge.Server.Features.Onhook;
using Xinge.Server.Features.Routing;
using Xinge.Server.Features.SmppServer;
using Xinge.Server.Portal;
using Xinge.Simulator;

namespace Xinge.Server;

/// <summary>The composition root: every feature registers itself with one AddXxx and one MapXxx.</summary>
public static class XingeApp
{
    /// <summary>
    /// prometheus-net by default adapts the runtime's event counters and .NET meters. Its event counter listener enables
    /// Kestrel's and Hosting's EventSources, which then write an event at the start and end of every request; the
    /// adapted meters include ASP.NET Core's per-request instruments. The engine's metrics are prometheus-net's own.
    /// </summary>
    static XingeApp() => Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressEventCounters = true, SuppressMeters = true });

    /// <summary>CONTRACT.md §1: the embedded defaults, beneath appsettings.json, environment and command line.</summary>
    private static readonly Dictionary<string, string?> Defaults = new()
    {
        ["Urls"] = "http://127.0.0.1:5080",
        ["ConnectionStrings:Xinge"] = "Data Source=data/xinge.db",
        ["Xinge:Smpp:Port"] = "2775",
        ["Xinge:Simulator:Enabled"] = "true",
        ["Xinge:Simulator:Port"] = "2776",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // Configuration is read once at start. Watching the content root for changed settings files would also watch
        // the SQLite database under it (data/xinge.db): every commit woke the watcher, a twentieth of the CPU under load.
        // The application is this assembly wherever it is hosted (a test process too): the portal's pages and static
        // assets are found by its name.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false", .. args],
            ApplicationName = typeof(XingeApp).Assembly.GetName().Name,
        });
        // The component library's files (_content/MudBlazor) are served from the build output as from a published
        // app, in every environment: `dotnet run` is Production by default.
        builder.WebHost.UseStaticWebAssets();
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults });
        var config = builder.Configuration;

        var database = new Database(config.GetConnectionString("Xinge")!);
        builder.Services.AddSingleton(database);
        // Before every other service starts (the key ring of the portal's cookies is read at start): the schema.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, DatabaseMigrator>());
        builder.Services.AddHostedService<SqliteCheckpointer>();
        builder.Services.AddSingleton(TimeProvider.System);
        // Read now, so a time zone the platform cannot use stops the start with its reason.
        builder.Services.AddSingleton(new PlatformTimeZone(config));
        builder.Services.AddScoped(_ => database.CreateContext());
        builder.Services.AddProblemDetails();
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.PropertyNameCaseInsensitive = true;
            // A number is a JSON number: "100" for an amount is refused, not read as 100 (the web defaults allow it).
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            // Every call but the token's and the health check's takes a bearer: an API key, or a token from /auth/token.
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An enterprise API key (xk_…), an integration key (xi_…), or a token from POST /api/v1/auth/token",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];
            return Task.CompletedTask;
        }));

        builder.Services.AddAccounts();
        builder.Services.AddPortal();
        builder.Services.AddReports();
        builder.Services.AddCarrierRouting();
        builder.Services.AddCalls();
        builder.Services.AddOnhook();
        builder.Services.AddBilling();
        builder.Services.AddCompliance();
        builder.Services.AddMessaging(config);
        builder.Services.AddSmppServer(config);
        // Last, so tests and benchmarks can replace services (a fake TimeProvider, say).
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseMiddleware<ProblemMiddleware>();
        // Behind a reverse proxy: only the proxies named here may say who the client is (X-Forwarded-For), so sign-in
        // throttling, the audit log and /metrics' loopback rule see the client, not the proxy.
        if (config.GetSection("Xinge:TrustedProxies").Get<string[]>() is { Length: > 0 } proxies)
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto, ForwardLimit = 1 };
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in proxies)
            {
                if (Input.TryParseAddressRange(proxy, out var network)) forwarded.KnownIPNetworks.Add(network);
                else throw new InvalidOperationException($"Xinge:TrustedProxies: '{proxy}' is not an IP address or CIDR range");
            }
            app.UseForwardedHeaders(forwarded);
        }
        app.UseStatusCodePages();
        app.UsePortalLanguage();
        app.UseAuthentication();
        app.UsePasswordChangeGate();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapOpenApi();
        app.MapMetrics("/metrics").RequireAuthorization("metrics");
        app.MapHealth();
        app.MapAccounts();
        app.MapEnterpriseProfile();
        app.MapCompliance();
        app.MapMessaging();
        app.MapBilling();
        app.MapConnectors();
        app.MapReports();
        app.MapCarrierRouting();
        app.MapCalls();
        app.MapOnhook();
        app.MapPortal();
        // Handsets receive OTP codes and can opt subscribers out: the operator's, unless this is a developer's machine.
        var simulator = app.MapSimulator(() => app.Services.GetRequiredService<ConnectorRegistry>().Simulator);
        if (!app.Environment.IsDevelopment()) simulator.RequireAuthorization(Rights.SimulatorUse);
        return app;
    }

    private static void MapHealth(this WebApplication app) =>
        app.MapGet("/healthz", async (Database database, ConnectorRegistry connectors, SmppServerHost smpp) =>
        {
            var checks = new Dictionary<string, string>();
            try
            {
                await using var c = await database.OpenAsync();
                await using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT 1";
                await cmd.ExecuteScalarAsync();
                checks["database"] = "up";
            }
            catch (Exception e)
            {
                checks["database"] = "down: " + e.GetType().Name;
            }
            checks["smpp"] = smpp.IsListening ? "up" : smpp.Enabled ? "down" : "disabled";
            var bound = connectors.Connectors.Where(c => c.IsBound).Select(c => c.Name).ToList();
            checks["connectors"] = bound.Count > 0 ? string.Join(",", bound) : "none bound";
            var healthy = checks["database"] == "up" && checks["smpp"] != "down" && bound.Count > 0;
            return Results.Json(new { status = healthy ? "up" : "down", checks }, statusCode: healthy ? 200 : 503);
        }).AllowAnonymous().WithTags("Health");
}

/// <summary>Every failure leaves as problem details: unreadable requests as 400, bugs as 500 without a stack trace.</summary>
public sealed class ProblemMiddleware(RequestDelegate next, ILogger<ProblemMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            var status = e.StatusCode is >= 400 and < 500 ? e.StatusCode : 400;
            context.Response.StatusCode = status;
            var detail = e.InnerException is System.Text.Json.JsonException ? "the body is not valid JSON for this request"
                : e.Message.Contains("no body was provided", StringComparison.Ordinal) || e.Message.StartsWith("Required parameter", StringComparison.Ordinal) ? "a JSON body is required"
                : e.Message;
            await Problems.Of(status, status == 413 ? "too-large" : "validation", status == 413 ? "Request too large" : "The request is not valid", detail).ExecuteAsync(context);
        }
        catch (Exception e) when (!context.Response.HasStarted && e is not OperationCanceledException)
        {
            logger.LogError(e, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
            context.Response.Clear();
            context.Response.StatusCode = 500;
            await Problems.Of(500, "internal", "Internal error", "the server failed to handle the request; it has been logged").ExecuteAsync(context);
        }
    }
}
