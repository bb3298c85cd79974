using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Localization;
using MudBlazor.Services;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Portal;

/// <summary>
/// The web portal (CONTRACT.md: Portal): Blazor components rendered on the server, signed in with a cookie that carries
/// the person's session token. The portal is a client of this node's own API: every read and action goes through the
/// same endpoints, rights, tenant checks and audit log as any other caller, so the portal cannot see or do more than
/// the API lets that person. The JSON API takes bearers only; the cookie opens the portal's pages alone, so a page on
/// another site cannot make a browser call the API.
/// </summary>
public static partial class PortalSetup
{
    public const string CookieScheme = "Portal";
    private const string Selector = "BearerOrPortal";
    public const string TokenClaim = "xinge:token";
    public static readonly CultureInfo[] Cultures = [new("zh-CN"), new("en")];

    public static IServiceCollection AddPortal(this IServiceCollection services)
    {
        // A page's messages to the server carry what a person typed: a pasted list of numbers is the largest.
        services.AddRazorComponents().AddInteractiveServerComponents().AddHubOptions(o => o.MaximumReceiveMessageSize = 1024 * 1024);
        services.AddMudServices();
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, PortalAuthenticationState>();
        services.AddScoped<PortalApi>();
        services.AddHttpContextAccessor();
        services.AddDataProtection().SetApplicationName("xinge").PersistKeysToDbContext<XingeDb>();
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = Selector;
                o.DefaultChallengeScheme = Selector;
            })
            .AddPolicyScheme(Selector, null, o => o.ForwardDefaultSelector = http =>
                http.Request.Path.StartsWithSegments("/api") || http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? BearerAuthentication.SchemeName : CookieScheme)
            .AddCookie(CookieScheme, o =>
            {
                o.Cookie.Name = "xinge.portal";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = TokenService.Lifetime;
                o.SlidingExpiration = false;
                o.LoginPath = "/signin";
                o.AccessDeniedPath = "/denied";
                // The session behind the cookie ends with it: signed out elsewhere, password changed, user disabled.
                o.Events.OnValidatePrincipal = async context =>
                {
                    var tokens = context.HttpContext.RequestServices.GetRequiredService<TokenService>();
                    if (context.Principal?.FindFirstValue(TokenClaim) is not { } token || tokens.Validate(token) is null)
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(CookieScheme);
                    }
                };
            });
        services.AddAntiforgery(o => o.Cookie.Name = "xinge.antiforgery");
        return services;
    }

    /// <summary>The principal of a signed-in person: the session's claims and the token the portal calls the API with.</summary>
    public static ClaimsPrincipal PrincipalOf(Caller caller, string token) =>
        new(new ClaimsIdentity(caller.Claims().Append(new Claim(TokenClaim, token)), CookieScheme, ClaimTypes.Name, ClaimTypes.Role));

    /// <summary>
    /// <c>?lang=en</c> or <c>?lang=zh-CN</c> on any page switches this browser's language and remembers it. The switch in
    /// the top bar (a form, <c>POST /language</c>) also keeps the choice with the signed-in person.
    /// </summary>
    public static IApplicationBuilder UsePortalLanguage(this IApplicationBuilder app)
    {
        app.Use(async (http, next) =>
        {
            if (http.Request.Query.TryGetValue("lang", out var lang) && CultureNamed(lang) is { } culture) RememberLanguage(http, culture);
            await next(http);
        });
        var options = new RequestLocalizationOptions { DefaultRequestCulture = new RequestCulture("zh-CN"), SupportedCultures = Cultures, SupportedUICultures = Cultures };
        options.RequestCultureProviders.Insert(0, new QueryStringRequestCultureProvider { QueryStringKey = "lang", UIQueryStringKey = "lang" });
        return app.UseRequestLocalization(options);
    }

    private static string? CultureNamed(string? name) => Cultures.FirstOrDefault(c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Name;

    /// <summary>Only a path on this site: a link that would send a person elsewhere (another host, a scheme, control characters) leads home.</summary>
    public static string LocalPath(string? url) =>
        url is { Length: > 1 } && url[0] == '/' && url[1] != '/' && url[1] != '\\' && !url.Contains("://") && !url.Any(char.IsControl) ? url : "/";

    /// <summary>This browser's language from now on (the cookie the request localization reads).</summary>
    public static void RememberLanguage(HttpContext http, string culture) =>
        http.Response.Cookies.Append(CookieRequestCultureProvider.DefaultCookieName, CookieRequestCultureProvider.MakeCookieValue(new RequestCulture(culture)),
            new CookieOptions { MaxAge = TimeSpan.FromDays(365), HttpOnly = true, SameSite = SameSiteMode.Lax, IsEssential = true });

    public static WebApplication MapPortal(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        // Sign-out is a form post with an antiforgery token, so another site cannot sign a person out.
        app.MapPost("/signout", async (HttpContext http, IAntiforgery antiforgery, PortalApi api) =>
        {
            if (!await antiforgery.IsRequestValidAsync(http)) return Results.BadRequest();
            if (http.User.FindFirstValue(TokenClaim) is { } token) await api.SignOutAsync(token, http);
            await http.SignOutAsync(CookieScheme);
            return Results.Redirect("/signin");
        }).ExcludeFromDescription();
        // The language switch: this browser's cookie, and the person's own choice, kept for their next sign-in anywhere.
        app.MapPost("/language", async (HttpContext http, IAntiforgery antiforgery, PortalApi api) =>
        {
            if (!await antiforgery.IsRequestValidAsync(http)) return Results.BadRequest();
            var form = await http.Request.ReadFormAsync();
            if (CultureNamed(form["language"]) is not { } culture) return Results.BadRequest();
            RememberLanguage(http, culture);
            if (http.User.FindFirstValue(TokenClaim) is { } token)
                await api.SendAsync<LanguageView>(HttpMethod.Put, "/api/v1/auth/language", new LanguageRequest(culture), token, http);
            return Results.Redirect(LocalPath(form["returnUrl"]));
        }).ExcludeFromDescription();
        // Exports download straight from the API as the signed-in person, so the browser shows their progress. Only
        // reads that make files pass; the cookie opens nothing else of the API.
        app.MapGet("/download/{**path}", async (string path, HttpContext http, PortalApi api) =>
        {
            if (!(Downloads.Contains(path) || LicenceDocument().IsMatch(path)) || http.User.FindFirstValue(TokenClaim) is not { } token)
            {
                http.Response.StatusCode = 404;
                return;
            }
            await api.ForwardDownloadAsync("/" + path + http.Request.QueryString, token, http);
        }).RequireAuthorization().ExcludeFromDescription();
        return app;
    }

    private static readonly HashSet<string> Downloads = ["api/v1/messages/export", "api/v1/reports", "api/v1/admin/reports", "api/v1/admin/blacklist/export", "api/v1/opt-outs/export", "api/v1/admin/sensitive-words/export"];

    [System.Text.RegularExpressions.GeneratedRegex("^api/v1/admin/enterprises/[0-9]{1,18}/licence-document$")]
    private static partial System.Text.RegularExpressions.Regex LicenceDocument();
}
