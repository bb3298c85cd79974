using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Xinge.Simulator;

public sealed record HandsetSend(string? To, string? Text);
public sealed record HandsetState(bool? Reachable, string? DeliveryFailure);

/// <summary>The simulator's HTTP API (CONTRACT.md §2, Simulator).</summary>
public static class SimulatorEndpoints
{
    /// <summary>The handsets' API; the caller decides who may use it (the group is returned for that).</summary>
    public static RouteGroupBuilder MapSimulator(this IEndpointRouteBuilder app, Func<SmscSimulator?> current)
    {
        var group = app.MapGroup("/api/v1/simulator/handsets").WithTags("Simulator");
        group.AddEndpointFilter(async (context, next) => current() is null
            ? Results.Problem(type: "https://xinge.dev/problems/simulator-disabled", title: "Not found", detail: "the simulator is not enabled (Xinge:Simulator:Enabled)", statusCode: 404)
            : await next(context));
        SmscSimulator simulator() => current()!;
        group.MapGet("/{msisdn}/messages", (string msisdn) =>
            Results.Ok(simulator().MessagesOf(msisdn).Select(m => new { from = m.From, text = m.Text, receivedAt = m.ReceivedAt })));
        group.MapPost("/{msisdn}/messages", (string msisdn, HandsetSend body) =>
        {
            if (string.IsNullOrWhiteSpace(body.To) || string.IsNullOrEmpty(body.Text))
                return Results.Problem(type: "https://xinge.dev/problems/validation", title: "Invalid request", detail: "to and text are required", statusCode: 400);
            // A handset sends at most 255 concatenated parts; 5,000 characters fit in that whatever the alphabet.
            if (body.Text.Length > 5000)
                return Results.Problem(type: "https://xinge.dev/problems/validation", title: "Invalid request", detail: "text is at most 5,000 characters", statusCode: 400);
            if (!IsMsisdn(msisdn) || !IsMsisdn(body.To))
                return Results.Problem(type: "https://xinge.dev/problems/validation", title: "Invalid request", detail: "numbers are digits with an optional leading +", statusCode: 400);
            return simulator().SendFromHandset(msisdn, body.To, body.Text)
                ? Results.Accepted()
                : Results.Problem(type: "https://xinge.dev/problems/no-receiver", title: "No receiver bound", detail: "no ESME is bound to the simulator to receive the message", statusCode: 409);
        });
        group.MapPut("/{msisdn}", (string msisdn, HandsetState body) =>
        {
            if (!IsMsisdn(msisdn))
                return Results.Problem(type: "https://xinge.dev/problems/validation", title: "Invalid request", detail: "numbers are digits with an optional leading +", statusCode: 400);
            DeliveryFailure? failure = body.DeliveryFailure switch
            {
                null => null,
                "none" => DeliveryFailure.None,
                "undeliverable" => DeliveryFailure.Undeliverable,
                _ => (DeliveryFailure)(-1),
            };
            if (failure is (DeliveryFailure)(-1))
                return Results.Problem(type: "https://xinge.dev/problems/validation", title: "Invalid request", detail: "deliveryFailure is none or undeliverable", statusCode: 400);
            var handset = simulator().GetHandset(msisdn);
            simulator().SetHandset(msisdn, body.Reachable ?? handset.Reachable, failure);
            return Results.Ok(new { msisdn = "+" + handset.Msisdn, reachable = handset.Reachable, deliveryFailure = handset.Failure.ToString().ToLowerInvariant() });
        });
        return group;
    }

    private static bool IsMsisdn(string s)
    {
        var digits = s.StartsWith('+') ? s[1..] : s;
        return digits.Length is >= 3 and <= 20 && digits.All(char.IsAsciiDigit);
    }
}
