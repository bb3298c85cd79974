using Microsoft.AspNetCore.Http.HttpResults;

namespace Xinge.Server;

/// <summary>RFC 9457 problem details with stable types. Domain failures are values, answered through these.</summary>
public static class Problems
{
    public const string Base = "https://xinge.dev/problems/";

    public static ProblemHttpResult Of(int status, string type, string title, string detail, object? extensions = null)
    {
        var ext = extensions is null ? null : System.Text.Json.JsonSerializer.SerializeToElement(extensions, System.Text.Json.JsonSerializerOptions.Web)
            .EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        return TypedResults.Problem(type: Base + type, title: title, detail: detail, statusCode: status, extensions: ext);
    }

    public static ProblemHttpResult Validation(string detail) => Of(400, "validation", "The request is not valid", detail);
    public static ProblemHttpResult Unprocessable(string type, string detail) => Of(422, type, "The request cannot be carried out", detail);
    public static ProblemHttpResult NotFound(string what) => Of(404, "not-found", "Not found", $"{what} does not exist");
    public static ProblemHttpResult Conflict(string type, string detail) => Of(409, type, "Conflict", detail);
    public static ProblemHttpResult Forbidden(string detail) => Of(403, "forbidden", "Forbidden", detail);
}
