using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;
using Xinge.Server.Features.Compliance;

namespace Xinge.Server.Portal;

/// <summary>
/// A file on its way up from the browser (a list, a licence scan): read a piece at a time with the bar showing how far,
/// then sent to the platform. Lists are at most 50 MB unless said otherwise.
/// </summary>
public sealed class UploadState(long maxBytes = 50L * 1024 * 1024, string tooLarge = "A file is at most 50 MB.")
{
    public double? Progress { get; private set; }
    public bool Busy => Progress is not null;
    public IReadOnlyList<ListProblem> Problems { get; private set; } = [];

    /// <param name="contentType">What the file is sent as; its own type (as the browser says) when null.</param>
    /// <param name="done">Shown when the platform took it.</param>
    public async Task<T?> SendAsync<T>(IBrowserFile? file, string path, PortalApi api, ISnackbar snackbar, Action changed, string? contentType = "text/csv",
        string? done = null) where T : class
    {
        if (await ReadAsync(file, snackbar, changed, keepBar: true) is not { } content) return null;
        try
        {
            var r = await api.UploadAsync<T>(HttpMethod.Put, path, content, file!.Name, contentType ?? file.ContentType);
            return snackbar.Report(r, done) ? r.Value : null;
        }
        finally
        {
            Progress = null;
        }
    }

    /// <summary>The file's bytes, read from the browser a piece at a time with the bar moving (to 90% when the platform still has to take it).</summary>
    public async Task<byte[]?> ReadAsync(IBrowserFile? file, ISnackbar snackbar, Action changed, bool keepBar = false)
    {
        if (file is null) return null;
        if (file.Size > maxBytes)
        {
            snackbar.Add(PortalText.T(tooLarge), Severity.Warning);
            return null;
        }
        Progress = 0;
        try
        {
            var content = new byte[file.Size];
            await using var stream = file.OpenReadStream(maxBytes);
            var read = 0;
            while (read < content.Length)
            {
                var n = await stream.ReadAsync(content.AsMemory(read, Math.Min(256 * 1024, content.Length - read)));
                if (n == 0) break;
                read += n;
                Progress = (keepBar ? 90.0 : 100.0) * read / content.Length;
                changed();
            }
            return content[..read];
        }
        finally
        {
            if (!keepBar) Progress = null;
        }
    }

    public void Show(int added, IReadOnlyList<ListProblem> problems, ISnackbar snackbar)
    {
        snackbar.Add($"{PortalText.T("Added")}: {added}", Severity.Success);
        Problems = problems;
    }
}

/// <summary>Numbers or words pasted into a field: separated by lines, commas, semicolons, spaces or tabs, full-width ones too.</summary>
public static class Pasted
{
    private static readonly char[] Separators = [',', ';', ' ', '\n', '\r', '\t', '，', '；'];

    public static string[] Split(string? pasted) => (pasted ?? "").Split(Separators, StringSplitOptions.RemoveEmptyEntries);
}
