using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;
using Xinge.Server.Features.Compliance;

namespace Xinge.Server.Portal;

/// <summary>A list file on its way up from the browser: read a piece at a time with the bar showing how far, then sent to the platform.</summary>
public sealed class UploadState
{
    public const long MaxBytes = 50L * 1024 * 1024;
    public double? Progress { get; private set; }
    public bool Busy => Progress is not null;
    public IReadOnlyList<ListProblem> Problems { get; private set; } = [];

    public async Task<T?> SendAsync<T>(IBrowserFile? file, string path, PortalApi api, ISnackbar snackbar, Action changed) where T : class
    {
        if (file is null) return null;
        if (file.Size > MaxBytes)
        {
            snackbar.Add(PortalText.T("A file is at most 50 MB."), Severity.Warning);
            return null;
        }
        Progress = 0;
        try
        {
            var content = new byte[file.Size];
            await using var stream = file.OpenReadStream(MaxBytes);
            var read = 0;
            while (read < content.Length)
            {
                var n = await stream.ReadAsync(content.AsMemory(read, Math.Min(256 * 1024, content.Length - read)));
                if (n == 0) break;
                read += n;
                Progress = 90.0 * read / content.Length;
                changed();
            }
            var r = await api.UploadAsync<T>(HttpMethod.Put, path, content[..read], file.Name, "text/csv");
            return snackbar.Report(r) ? r.Value : null;
        }
        finally
        {
            Progress = null;
        }
    }

    public void Show(int added, IReadOnlyList<ListProblem> problems, ISnackbar snackbar)
    {
        snackbar.Add($"{PortalText.T("Added")}: {added}", Severity.Success);
        Problems = problems;
    }
}
