using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Xinge.Server.Features.Accounts;

namespace Xinge.Server.Portal;

/// <summary>What an API call answered: the value, or the problem's <c>detail</c> to show the person.</summary>
public sealed record ApiResult<T>(T? Value, HttpStatusCode Status, string? Problem, string? ProblemType = null)
{
    public bool Ok => Problem is null;
}

/// <summary>
/// The portal's way to the platform: this node's own API over loopback, with the signed-in person's session token, and
/// the browser's address in a header only this process can sign (<see cref="ClientAddress"/>).
/// </summary>
public sealed class PortalApi(IServer server, IConfiguration config, AuthenticationStateProvider authentication, NavigationManager navigation, IHttpContextAccessor accessor)
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false })
    {
        Timeout = TimeSpan.FromMinutes(5),
    };
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private Uri? _base;
    // The browser's address, as the connection that opened this circuit saw it (after any trusted proxy).
    private readonly string? _client = accessor.HttpContext?.Connection.RemoteIpAddress?.ToString();

    public Task<ApiResult<T>> GetAsync<T>(string path) => SendAsync<T>(HttpMethod.Get, path, null);
    public Task<ApiResult<T>> PostAsync<T>(string path, object? body = null) => SendAsync<T>(HttpMethod.Post, path, body);

    /// <summary>A POST that the API answers as the first time when repeated with the same key (a double click, a retry).</summary>
    public Task<ApiResult<T>> PostOnceAsync<T>(string path, object body, string idempotencyKey) =>
        AsPersonAsync<T>(HttpMethod.Post, path, body, request => request.Headers.Add("Idempotency-Key", idempotencyKey));

    public Task<ApiResult<T>> PutAsync<T>(string path, object? body) => SendAsync<T>(HttpMethod.Put, path, body);
    public Task<ApiResult<JsonNode>> DeleteAsync(string path) => SendAsync<JsonNode>(HttpMethod.Delete, path, null);

    /// <summary>A file as the multipart form field <c>file</c>, as the API takes uploads.</summary>
    public Task<ApiResult<T>> UploadAsync<T>(HttpMethod method, string path, byte[] content, string fileName, string contentType) =>
        AsPersonAsync<T>(method, path, null, request =>
        {
            var file = new ByteArrayContent(content);
            file.Headers.ContentType = MediaTypeHeaderValue.TryParse(contentType, out var type) ? type : new MediaTypeHeaderValue("application/octet-stream");
            request.Content = new MultipartFormDataContent { { file, "file", fileName } };
        });

    /// <summary>A form with a file (a job from a CSV or XLSX file), repeated safely with the same key.</summary>
    public Task<ApiResult<T>> PostFormOnceAsync<T>(string path, IReadOnlyDictionary<string, string?> fields, byte[] content, string fileName, string idempotencyKey) =>
        AsPersonAsync<T>(HttpMethod.Post, path, null, request =>
        {
            var form = new MultipartFormDataContent();
            foreach (var (name, value) in fields)
            {
                if (value is not null) form.Add(new StringContent(value), name);
            }
            form.Add(new ByteArrayContent(content), "file", fileName);
            request.Content = form;
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        });

    public Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, object? body) => AsPersonAsync<T>(method, path, body, null);

    /// <summary>A call as the person signed in to this page, with what the call adds to the request (a header, a file).</summary>
    private async Task<ApiResult<T>> AsPersonAsync<T>(HttpMethod method, string path, object? body, Action<HttpRequestMessage>? shape)
    {
        var token = (await authentication.GetAuthenticationStateAsync()).User.FindFirstValue(PortalSetup.TokenClaim);
        using var request = Request(method, path, body, token, _client);
        shape?.Invoke(request);
        return await ReadAsync<T>(request, signedIn: token is not null);
    }

    /// <summary>A call made while rendering a plain (not interactive) page: sign-in, password change, sign-out.</summary>
    public async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, object? body, string? token, HttpContext http)
    {
        using var request = Request(method, path, body, token, http.Connection.RemoteIpAddress?.ToString());
        return await ReadAsync<T>(request, signedIn: false);
    }

    public async Task SignOutAsync(string token, HttpContext http) => await SendAsync<JsonNode>(HttpMethod.Post, "/api/v1/auth/logout", null, token, http);

    /// <summary>
    /// A file the API makes (an export), passed through to the browser as it comes, so the browser shows the download's
    /// progress and the server holds no more of it than a buffer.
    /// </summary>
    public async Task ForwardDownloadAsync(string pathAndQuery, string token, HttpContext http)
    {
        using var request = Request(HttpMethod.Get, pathAndQuery, null, token, http.Connection.RemoteIpAddress?.ToString());
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted);
        http.Response.StatusCode = (int)response.StatusCode;
        http.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream";
        if (response.Content.Headers.ContentDisposition is { } disposition) http.Response.Headers.ContentDisposition = disposition.ToString();
        await response.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
    }

    private HttpRequestMessage Request(HttpMethod method, string path, object? body, string? token, string? client)
    {
        var request = new HttpRequestMessage(method, new Uri(Base(), path));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add(ClientAddress.PortalHeader, ClientAddress.PortalSecret);
        if (client is not null) request.Headers.Add(ClientAddress.ForHeader, client);
        if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        return request;
    }

    private async Task<ApiResult<T>> ReadAsync<T>(HttpRequestMessage request, bool signedIn)
    {
        try
        {
            using var response = await Http.SendAsync(request);
            return await ReadAsync<T>(response, signedIn);
        }
        catch (HttpRequestException e)
        {
            return new(default, HttpStatusCode.ServiceUnavailable, "the platform did not answer: " + e.Message);
        }
        catch (TaskCanceledException)
        {
            return new(default, HttpStatusCode.GatewayTimeout, "the platform did not answer in time");
        }
        catch (JsonException)
        {
            return new(default, HttpStatusCode.BadGateway, "the platform's answer could not be read");
        }
    }

    private async Task<ApiResult<T>> ReadAsync<T>(HttpResponseMessage response, bool signedIn)
    {
        if (response.IsSuccessStatusCode)
        {
            var value = response.Content.Headers.ContentLength == 0 || response.StatusCode == HttpStatusCode.NoContent
                ? default
                : await response.Content.ReadFromJsonAsync<T>(Json);
            return new(value, response.StatusCode, null);
        }
        // The session ended (signed out elsewhere, password changed, disabled): back to the sign-in page.
        if (response.StatusCode == HttpStatusCode.Unauthorized && signedIn) navigation.NavigateTo("/signin", forceLoad: true);
        string? detail = null, type = null;
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(Json);
            detail = problem?["detail"]?.GetValue<string>();
            type = problem?["type"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
        }
        return new(default, response.StatusCode, detail ?? $"{(int)response.StatusCode} {response.ReasonPhrase}", type);
    }

    /// <summary>
    /// This node's own address: <c>Xinge:Portal:ApiAddress</c> when set (a node that listens on HTTPS only, say), else
    /// the first plain HTTP address it listens on, with a wildcard host taken as loopback.
    /// </summary>
    private Uri Base()
    {
        if (_base is not null) return _base;
        if (config["Xinge:Portal:ApiAddress"] is { Length: > 0 } configured) return _base = new Uri(configured);
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal))
            ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:5080";
        var uri = new UriBuilder(address.Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1"));
        if (uri.Host is "0.0.0.0" or "[::]" or "::") uri.Host = uri.Host == "0.0.0.0" ? "127.0.0.1" : "[::1]";
        return _base = uri.Uri;
    }
}

public static class SnackbarReports
{
    /// <summary>Shows what a call did: its problem, or <paramref name="done"/> when it went through. True when it went through.</summary>
    public static bool Report<T>(this MudBlazor.ISnackbar snackbar, ApiResult<T> result, string? done = null)
    {
        if (!result.Ok) snackbar.Add(result.Problem!, MudBlazor.Severity.Error);
        else if (done is not null) snackbar.Add(done, MudBlazor.Severity.Success);
        return result.Ok;
    }
}
