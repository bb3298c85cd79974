using System.Collections.Concurrent;
using System.Net;
using Dapper;
using Xinge.Server.Data;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Messaging;
using Xinge.Smpp;
using Xinge.Text;

namespace Xinge.Server.Features.SmppServer;

public static class SmppServerSetup
{
    public static IServiceCollection AddSmppServer(this IServiceCollection services, IConfiguration config)
    {
        services.AddSingleton<SmppServerHost>();
        services.AddHostedService(sp => sp.GetRequiredService<SmppServerHost>());
        return services;
    }
}

/// <summary>
/// The SMPP 3.4 server enterprises bind to as ESMEs (CONTRACT.md §3, port 2775): binds are checked against the
/// enterprise's SMPP accounts (hashed passwords, lock-out after repeated failures), and submit_sm goes through the
/// same pipeline as the HTTP API.
/// </summary>
public sealed class SmppServerHost(IConfiguration config, Database database, MessagingService messaging, TimeProvider time, ILogger<SmppServerHost> logger) : IHostedService
{
    private const int MaxFailures = 5;
    private static readonly TimeSpan LockOut = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset Until)> _failures = new();
    private SmppListener? _listener;
    private ILogger Logger => logger;

    public bool Enabled => config.GetValue("Xinge:Smpp:Port", 2775) != 0;
    public bool IsListening => _listener is not null;
    public int Port => _listener?.Port ?? 0;

    public Task StartAsync(CancellationToken ct)
    {
        var port = config.GetValue("Xinge:Smpp:Port", 2775);
        if (port == 0) return Task.CompletedTask;
        var address = IPAddress.Parse(config["Xinge:Smpp:Address"] ?? "127.0.0.1");
        _listener = new SmppListener(address, port, () => new EsmeSession(this), new SmppSessionOptions { WindowSize = 100, EnquireLinkInterval = TimeSpan.FromSeconds(60) });
        _listener.Start();
        logger.LogInformation("SMPP server listening on {Address}:{Port}", address, _listener.Port);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (_listener is not null) await _listener.DisposeAsync();
    }

    private sealed class AccountRow
    {
        public long EnterpriseId { get; set; }
        public string PasswordHash { get; set; } = "";
    }

    private async Task<(CommandStatus Status, long EnterpriseId)> AuthenticateAsync(Bind bind)
    {
        var now = time.GetUtcNow();
        if (_failures.TryGetValue(bind.SystemId, out var f) && f.Failures >= MaxFailures && f.Until > now)
            return (CommandStatus.EsmeRbindfail, 0);
        await using var c = await database.OpenAsync();
        var account = await c.QuerySingleOrDefaultAsync<AccountRow>(
            "SELECT enterprise_id AS EnterpriseId, password_hash AS PasswordHash FROM smpp_accounts WHERE system_id = @s", new { s = bind.SystemId });
        if (account is null)
        {
            Fail(bind.SystemId, now);
            return (CommandStatus.EsmeRinvsysid, 0);
        }
        if (!Secrets.VerifyPassword(bind.Password, account.PasswordHash))
        {
            Fail(bind.SystemId, now);
            return (CommandStatus.EsmeRinvpaswd, 0);
        }
        _failures.TryRemove(bind.SystemId, out _);
        return (CommandStatus.EsmeRok, account.EnterpriseId);
    }

    private void Fail(string systemId, DateTimeOffset now) =>
        _failures.AddOrUpdate(systemId, _ => (1, now + LockOut), (_, v) => (v.Until < now ? 1 : v.Failures + 1, now + LockOut));

    /// <summary>The text an ESME submitted, the 【signature】 it starts with, and the rest.</summary>
    public static (string? Signature, string Body) SplitSignature(string text)
    {
        if (text.StartsWith('【'))
        {
            var end = text.IndexOf('】');
            if (end > 1) return (text[1..end], text[(end + 1)..]);
        }
        return (null, text);
    }

    private static string CategoryOf(string serviceType) => serviceType.ToUpperInvariant() switch
    {
        "OTP" => Category.Otp,
        "MKT" or "MARKETING" => Category.Marketing,
        _ => Category.Notification,
    };

    private async ValueTask SubmitAsync(SmppSession session, long enterpriseId, SubmitSm submit)
    {
        var data = submit.UserData;
        var body = (ReadOnlySpan<byte>)data;
        if ((submit.EsmClass & EsmClass.UdhIndicator) != 0)
        {
            if (!Concatenation.TryParse(data, out var concatenation, out var offset))
            {
                session.Send(submit.CreateResponse(CommandStatus.EsmeRinvesmclass));
                return;
            }
            if (concatenation is { Total: > 1 })
            {
                // Concatenated submits from ESMEs are reassembled in the next step of the SMPP server (issue 3);
                // until then they are refused whole rather than sent in pieces.
                session.Send(submit.CreateResponse(CommandStatus.EsmeRinvesmclass));
                return;
            }
            body = body[offset..];
        }
        var text = SmsText.Decode(body, submit.DataCoding);
        var (signature, message) = SplitSignature(text);
        if (signature is null)
        {
            session.Send(submit.CreateResponse(CommandStatus.EsmeRsubmitfail));
            return;
        }
        var to = submit.DestAddrTon == 1 && !submit.DestinationAddr.StartsWith('+') ? "+" + submit.DestinationAddr : submit.DestinationAddr;
        var (result, refusal) = await messaging.SendAsync(new SendCommand(enterpriseId, [new Recipient(to, null)], signature,
            CategoryOf(submit.ServiceType), message, null, null, null));
        if (refusal is not null || result is null || result.Messages.Count == 0)
        {
            var status = refusal?.Type switch
            {
                "no-valid-recipients" => CommandStatus.EsmeRinvdstadr,
                "insufficient-balance" => CommandStatus.EsmeRsubmitfail,
                _ => CommandStatus.EsmeRsubmitfail,
            };
            session.Send(submit.CreateResponse(status));
            return;
        }
        session.Send(new SubmitSmResp { Sequence = submit.Sequence, MessageId = result.Messages[0].Id.ToString() });
    }

    private sealed class EsmeSession(SmppServerHost host) : ISmppRequestHandler
    {
        private long _enterpriseId;

        public async ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            if (request is Bind bind)
            {
                if (session.BoundAs is not null)
                {
                    session.Send(bind.CreateResponse(CommandStatus.EsmeRalybnd));
                    return;
                }
                var (status, enterpriseId) = await host.AuthenticateAsync(bind);
                if (status == CommandStatus.EsmeRok)
                {
                    _enterpriseId = enterpriseId;
                    session.BoundAs = bind.Type;
                    session.SystemId = bind.SystemId;
                    session.Tag = enterpriseId;
                }
                session.Send(new BindResp(bind.Type) { Sequence = bind.Sequence, Status = status, SystemId = "XINGE" });
                if (status != CommandStatus.EsmeRok) host.Logger.LogWarning("SMPP bind refused for {SystemId}: {Status}", bind.SystemId, status);
                return;
            }
            if (session.BoundAs is null)
            {
                // SMPP 3.4 §2.3: nothing but a bind is allowed before the session is bound.
                Refuse(session, request, CommandStatus.EsmeRinvbndsts);
                return;
            }
            switch (request)
            {
                case SubmitSm submit when !session.CanTransmit:
                    session.Send(submit.CreateResponse(CommandStatus.EsmeRinvbndsts));
                    break;
                case SubmitSm submit:
                    await host.SubmitAsync(session, _enterpriseId, submit);
                    break;
                default:
                    Refuse(session, request, CommandStatus.EsmeRinvcmdid);
                    break;
            }
        }

        private static void Refuse(SmppSession session, Pdu request, CommandStatus status)
        {
            try
            {
                session.Send(request.CreateResponse(status));
            }
            catch (InvalidOperationException)
            {
                session.Send(new GenericNack { Sequence = request.Sequence, Status = status });
            }
        }
    }
}
