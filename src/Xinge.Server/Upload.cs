namespace Xinge.Server;

/// <summary>A file sent to the API as multipart/form-data in a field named <c>file</c> (lists, licence scans).</summary>
public static class Upload
{
    /// <summary>The file, or the problem with the request: not multipart (415), unreadable or without the file (400).</summary>
    /// <param name="what">What the file is, for the problem's words ("the document", "the list").</param>
    public static async Task<(IFormFile? File, IResult? Problem)> FileAsync(HttpContext http, string what)
    {
        if (!http.Request.HasFormContentType)
            return (null, Problems.Of(415, "unsupported-media-type", "Unsupported media type", $"send {what} as multipart/form-data, in a field named file"));
        IFormFile? file;
        try
        {
            file = (await http.Request.ReadFormAsync(http.RequestAborted)).Files.GetFile("file");
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return (null, Problems.Validation("the multipart body cannot be read: " + e.Message));
        }
        return file is null || file.Length == 0 ? (null, Problems.Validation($"send {what} as a multipart form field named file")) : (file, null);
    }
}
