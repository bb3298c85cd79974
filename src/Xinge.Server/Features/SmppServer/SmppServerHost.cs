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
        services.AddSingleton<WakeSignalFor<SmppOutbox>>();
        services.AddSingleton<IMessagingObserver, SmppOutbox>();
        services.AddHostedService<SmppOutboxWorker>();
        return services;
    }
}

/// <summary>
/// The SMPP 3.4 server enterprises bind to as ESMEs (CONTRACT.md §3, port 2775): binds are checked against the
/// enterprise's SMPP accounts (hashed passwords, lock-out after repeated failures), and submit_sm goes through the
/// same pipeline as the HTTP API (concatenated submits are reassembled first); receipts and replies go back through
/// the <see cref="SmppOutboxWorker"/> to the enterprise's bound receivers.
/// </summary>
public sealed class SmppServerHost(IConfiguration config, Database database, MessagingService messaging, TimeProvider timeProvider, LoginGuard guard, AuditLog audit,
    Revocations revocations, ILogger<SmppServerHost> logger) : IHostedService
{
    private static readonly TimeSpan PartPatience = TimeSpan.FromSeconds(60);
    private readonly ConcurrentDictionary<SmppSession, long> _receivers = new();
    private SmppListener? _listener;
    private ILogger Logger => logger;
    private MessagingService Messaging => messaging;
    private TimeProvider Time => timeProvider;

    public bool Enabled => config.GetValue("Xinge:Smpp:Port", 2775) != 0;
    public bool IsListening => _listener?.IsListening == true;
    public int Port => _listener?.Port ?? 0;

    /// <summary>Bound sessions that can take deliver_sm (receivers and transceivers), with their enterprise.</summary>
    public IReadOnlyList<(SmppSession Session, long EnterpriseId)> Receivers =>
        _receivers.Where(kv => kv.Key.IsOpen).Select(kv => (kv.Key, kv.Value)).ToList();

    /// <summary>Raised when a receiver binds, so what waits for it goes at once.</summary>
    public event Action? ReceiverBound;

    public Task StartAsync(CancellationToken ct)
    {
        var port = config.GetValue("Xinge:Smpp:Port", 2775);
        if (port == 0) return Task.CompletedTask;
        var address = IPAddress.Parse(config["Xinge:Smpp:Address"] ?? "127.0.0.1");
        _listener = new SmppListener(address, port, () => new EsmeSession(this), new SmppSessionOptions { WindowSize = 100, EnquireLinkInterval = TimeSpan.FromSeconds(60) });
        _listener.Start();
        revocations.SmppAccountRemoved += CloseSessionsOf;
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
        public string AllowedIps { get; set; } = "";
        public int MaxBinds { get; set; }
        public int MaxTps { get; set; }
    }

    private readonly ConcurrentDictionary<string, (int MaxTps, System.Threading.RateLimiting.RateLimiter Limiter)> _tps = new();

    /// <summary>The account's submit rate across its sessions: false when this submit is over its MaxTps (answered ESME_RTHROTTLED).</summary>
    private bool WithinTps(SmppSession session)
    {
        if (!_tps.TryGetValue(session.SystemId, out var tps)) return true;
        using var lease = tps.Limiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    private void SetTps(string systemId, int maxTps)
    {
        if (maxTps <= 0)
        {
            _tps.TryRemove(systemId, out _);
            return;
        }
        (int, System.Threading.RateLimiting.RateLimiter) Create() => (maxTps, new System.Threading.RateLimiting.TokenBucketRateLimiter(new()
        {
            TokenLimit = maxTps,
            TokensPerPeriod = maxTps,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        // Another bind of the same account shares the bucket; a changed limit starts a new one.
        _tps.AddOrUpdate(systemId, _ => Create(), (_, old) => old.MaxTps == maxTps ? old : Create());
    }

    private static bool Allowed(string allowedIps, System.Net.IPAddress? remote)
    {
        if (allowedIps.Length == 0) return true;
        if (remote is null) return false;
        var ip = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        foreach (var entry in allowedIps.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Input.TryParseAddressRange(entry, out var network) && network.Contains(ip)) return true;
        }
        return false;
    }

    /// <summary>
    /// A bind's credentials. An unknown system_id and a wrong password answer alike (ESME_RINVPASWD, CONTRACT.md §3) and
    /// cost alike, and so does a bind from an address the account does not allow; guessing is throttled per system_id
    /// and address (<see cref="LoginGuard"/>), so a stranger cannot lock the enterprise's own ESMEs out; a throttled
    /// attempt gets ESME_RBINDFAIL without its password being looked at.
    /// </summary>
    private async Task<(CommandStatus Status, long EnterpriseId)> AuthenticateAsync(SmppSession session, Bind bind)
    {
        var source = (session.RemoteAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : session.RemoteAddress)?.ToString() ?? "";
        var account = "smpp:" + bind.SystemId;
        if (guard.Attempt(account, source, out var firstRefusal) is not null)
        {
            if (firstRefusal) await audit.RecordAsync(account, "smpp.bind", account, source, Outcome.Denied, "too many failed binds");
            return (CommandStatus.EsmeRbindfail, 0);
        }
        await using var c = await database.OpenAsync();
        var row = await c.QuerySingleOrDefaultAsync<AccountRow>(
            "SELECT enterprise_id AS EnterpriseId, password_hash AS PasswordHash, allowed_ips AS AllowedIps, max_binds AS MaxBinds, max_tps AS MaxTps " +
            "FROM smpp_accounts WHERE system_id = @s", new { s = bind.SystemId });
        string? failure = null;
        if (row is null)
        {
            await Secrets.VerifyDecoyAsync(bind.Password);
            failure = "unknown system_id";
        }
        else if (!Allowed(row.AllowedIps, session.RemoteAddress))
        {
            // Before the password: from an address the account does not allow, a right password and a wrong one get
            // the same answer, so the bind is no password oracle, and the account's owner is not locked out by it.
            await Secrets.VerifyDecoyAsync(bind.Password);
            logger.LogWarning("SMPP bind for {SystemId} from {Remote} is outside its allowed addresses", bind.SystemId, session.RemoteEndPoint);
            await audit.RecordAsync(account, "smpp.bind", account, source, Outcome.Denied, "address not allowed", row.EnterpriseId);
            return (CommandStatus.EsmeRinvpaswd, 0);
        }
        else if (!await Secrets.VerifyPasswordAsync(bind.Password, row.PasswordHash)) failure = "wrong password";
        if (failure is not null)
        {
            guard.Failed(account, source);
            await audit.RecordAsync(account, "smpp.bind", account, source, Outcome.Failure, failure, row?.EnterpriseId);
            return (CommandStatus.EsmeRinvpaswd, 0);
        }
        guard.Succeeded(account, source);
        if (row!.MaxBinds > 0 && _listener!.Sessions.Count(s => s != session && s.IsOpen && s.BoundAs is not null && s.SystemId == bind.SystemId) >= row.MaxBinds)
            return (CommandStatus.EsmeRbindfail, 0);
        SetTps(bind.SystemId, row.MaxTps);
        return (CommandStatus.EsmeRok, row.EnterpriseId);
    }

    /// <summary>A removed account's sessions end: unbound, then closed.</summary>
    private void CloseSessionsOf(string systemId)
    {
        foreach (var session in _listener?.Sessions.Where(s => s.BoundAs is not null && s.SystemId == systemId).ToList() ?? [])
        {
            logger.LogInformation("Closing the SMPP session of removed account {SystemId}", systemId);
            _ = session.CloseAsync(graceful: true).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }
    }

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


    /// <summary>Sends the reassembled text through the pipeline and answers every part with the one message id.</summary>
    private async Task SubmitAsync(SmppSession session, long enterpriseId, IReadOnlyList<SubmitSm> parts, string text)
    {
        var first = parts[0];
        CommandStatus status;
        string messageId;
        try
        {
            (status, messageId) = await SendAsync(session, enterpriseId, first, text);
        }
        catch (Exception e)
        {
            // Every part must be answered, or the ESME's window leaks.
            logger.LogError(e, "Submit from {SystemId} failed", session.SystemId);
            (status, messageId) = (CommandStatus.EsmeRsyserr, "");
        }
        foreach (var part in parts) session.Send(new SubmitSmResp { Sequence = part.Sequence, Status = status, MessageId = messageId });
    }

    private async Task<(CommandStatus, string)> SendAsync(SmppSession session, long enterpriseId, SubmitSm submit, string text)
    {
        var (signature, message) = SplitSignature(text);
        // The 【signature】 starts the text an ESME submits, as the operators' gateways require.
        if (signature is null) return (CommandStatus.EsmeRsubmitfail, "");
        if (!SmppTime.TryParse(submit.ScheduleDeliveryTime, Time.GetUtcNow(), out var sendAt)) return (CommandStatus.EsmeRinvsched, "");
        // SMPP 3.4 §5.2.16: the ESME's validity_period, absolute or relative; the platform's validity is the most it gets.
        if (!SmppTime.TryParse(submit.ValidityPeriod, Time.GetUtcNow(), out var validUntil) || validUntil <= (sendAt ?? Time.GetUtcNow()))
            return (CommandStatus.EsmeRinvexpiry, "");
        var to = submit.DestAddrTon == 1 && !submit.DestinationAddr.StartsWith('+') ? "+" + submit.DestinationAddr : submit.DestinationAddr;
        var origin = (submit.RegisteredDelivery & 0x03) != 0 ? "smpp:" + session.SystemId : null;
        var (result, refusal) = await messaging.SendAsync(new SendCommand(enterpriseId, [new Recipient(to, null)], signature,
            CategoryOf(submit.ServiceType), message, sendAt, null, null, origin, SendKind.Smpp, validUntil));
        if (refusal is null && result is { Messages.Count: > 0 }) return (CommandStatus.EsmeRok, result.Messages[0].Id.ToString());
        return (refusal is null ? CommandStatus.EsmeRsubmitfail : StatusOf(refusal), "");
    }

    /// <summary>
    /// A refused submit as command_status, the one table for every submitting PDU. Only a malformed or unknown number is
    /// ESME_RINVDSTADR; a number that may not receive this message (opted out, blacklisted, over a limit) is
    /// ESME_RSUBMITFAIL, a permanent failure that peers such as Kannel report without retrying and without taking the
    /// number for a bad one. README.md lists the table.
    /// </summary>
    public static CommandStatus StatusOf(SendRefusal refusal) => refusal.Error switch
    {
        SendError.NoValidRecipients when refusal.Rejected is [var first, ..] => StatusOf(first.Reason),
        SendError.TextTooLong => CommandStatus.EsmeRinvmsglen,
        SendError.Invalid => CommandStatus.EsmeRsubmitfail,
        _ => CommandStatus.EsmeRsubmitfail,
    };

    /// <summary>One destination's rejection reason as command_status (submit_multi answers it per destination).</summary>
    public static CommandStatus StatusOf(string reason) => reason.StartsWith("invalid_number", StringComparison.Ordinal) ? CommandStatus.EsmeRinvdstadr : CommandStatus.EsmeRsubmitfail;

    /// <summary>data_sm (SMPP 3.4 §4.7): the text is in message_payload.</summary>
    private async Task DataAsync(SmppSession session, long enterpriseId, DataSm data)
    {
        var payload = data.GetTlv(TlvTag.MessagePayload) ?? [];
        var submit = new SubmitSm
        {
            ServiceType = data.ServiceType,
            DestAddrTon = data.DestAddrTon,
            DestAddrNpi = data.DestAddrNpi,
            DestinationAddr = data.DestinationAddr,
            RegisteredDelivery = data.RegisteredDelivery,
            DataCoding = data.DataCoding,
            ShortMessage = payload,
        };
        var (status, id) = await SendAsync(session, enterpriseId, submit, SmsText.Decode(payload, data.DataCoding));
        session.Send(new DataSmResp { Sequence = data.Sequence, Status = status, MessageId = id });
    }

    /// <summary>submit_multi: one job to every SME address; distribution lists are not kept here, so those are refused per destination.</summary>
    private async Task SubmitMultiAsync(SmppSession session, long enterpriseId, SubmitMulti multi)
    {
        var text = SmsText.Decode(multi.UserData, multi.DataCoding);
        var (signature, message) = SplitSignature(text);
        var resp = new SubmitMultiResp { Sequence = multi.Sequence };
        foreach (var d in multi.Destinations.Where(d => d.DistributionList is not null)) resp.Unsuccessful.Add(new UnsuccessfulSme(0, 0, d.DistributionList!, CommandStatus.EsmeRinvdlname));
        var smes = multi.Destinations.Where(d => d.DistributionList is null).ToList();
        if (signature is null || smes.Count == 0)
        {
            resp.Status = signature is null ? CommandStatus.EsmeRsubmitfail : CommandStatus.EsmeRinvnumdests;
            session.Send(resp);
            return;
        }
        var recipients = smes.Select(d => new Recipient(d.Ton == 1 && !d.Address.StartsWith('+') ? "+" + d.Address : d.Address, null)).ToList();
        var origin = (multi.RegisteredDelivery & 0x03) != 0 ? "smpp:" + session.SystemId : null;
        var (result, refusal) = await messaging.SendAsync(new SendCommand(enterpriseId, recipients, signature, CategoryOf(multi.ServiceType), message, null, null, null, origin, SendKind.Smpp));
        if (result is not null)
        {
            resp.MessageId = result.Messages[0].Id.ToString();
            foreach (var r in result.Rejected)
            {
                var d = smes[r.Line - 1];
                resp.Unsuccessful.Add(new UnsuccessfulSme(d.Ton, d.Npi, d.Address, StatusOf(r.Reason)));
            }
        }
        else
        {
            resp.Status = StatusOf(refusal!);
            resp.Unsuccessful.Clear();
        }
        session.Send(resp);
    }

    /// <summary>replace_sm: a new text (and time) for a message still waiting to go, such as a scheduled one.</summary>
    private async Task<CommandStatus> ReplaceAsync(long enterpriseId, ReplaceSm replace)
    {
        if (!long.TryParse(replace.MessageId, out var id)) return CommandStatus.EsmeRinvmsgid;
        if (!SmppTime.TryParse(replace.ScheduleDeliveryTime, Time.GetUtcNow(), out var sendAt)) return CommandStatus.EsmeRinvsched;
        // replace_sm carries no data_coding: the new text is read in the original's.
        if (await messaging.FindAsync(enterpriseId, id) is not { } original) return CommandStatus.EsmeRinvmsgid;
        var text = SmsText.Decode(replace.ShortMessage, (byte)original.Encoding);
        var (signature, body) = SplitSignature(text);
        if (signature is null) return CommandStatus.EsmeRreplacefail;
        var (replaced, _) = await messaging.ReplaceAsync(enterpriseId, id, signature, body, sendAt);
        return replaced ? CommandStatus.EsmeRok : CommandStatus.EsmeRreplacefail;
    }

    /// <summary>query_sm: the state of one of this enterprise's messages.</summary>
    private async Task QueryAsync(SmppSession session, long enterpriseId, QuerySm query)
    {
        var found = long.TryParse(query.MessageId, out var id) ? await messaging.FindAsync(enterpriseId, id) : null;
        if (found is null)
        {
            session.Send(query.CreateResponse(CommandStatus.EsmeRinvmsgid));
            return;
        }
        var state = found.Status switch
        {
            MessageStatus.Delivered => MessageState.Delivered,
            MessageStatus.Expired => MessageState.Expired,
            MessageStatus.Failed when found.Error == "undeliverable" => MessageState.Undeliverable,
            MessageStatus.Failed when found.Error == "cancelled" => MessageState.Deleted,
            MessageStatus.Failed or MessageStatus.Rejected => MessageState.Rejected,
            MessageStatus.Submitted or MessageStatus.Queued or MessageStatus.Scheduled or MessageStatus.Held => MessageState.Enroute,
            _ => MessageState.Unknown,
        };
        session.Send(new QuerySmResp
        {
            Sequence = query.Sequence,
            MessageId = query.MessageId,
            MessageState = state,
            // SMPP 3.4 §7.1.1 absolute time format: YYMMDDhhmmsstnnp.
            FinalDate = found.DoneAt is { } done ? SmppTime.Format(DateTimeOffset.FromUnixTimeMilliseconds(done)) : "",
        });
    }

    private sealed class EsmeSession(SmppServerHost host) : ISmppRequestHandler
    {
        private readonly Dictionary<(string Dest, int Reference), (SubmitSm?[] Parts, string?[] Texts, DateTimeOffset FirstSeen)> _partial = [];
        private long _enterpriseId;
        private ITimer? _sweeper;

        public void OnClosed(SmppSession session)
        {
            host._receivers.TryRemove(session, out _);
            _sweeper?.Dispose();
        }

        public async ValueTask HandleAsync(SmppSession session, Pdu request)
        {
            if (request is Bind bind)
            {
                if (session.BoundAs is not null)
                {
                    session.Send(bind.CreateResponse(CommandStatus.EsmeRalybnd));
                    return;
                }
                var (status, enterpriseId) = await host.AuthenticateAsync(session, bind);
                if (status == CommandStatus.EsmeRok)
                {
                    _enterpriseId = enterpriseId;
                    session.BoundAs = bind.Type;
                    session.SystemId = bind.SystemId;
                    session.Tag = enterpriseId;
                }
                session.Send(new BindResp(bind.Type) { Sequence = bind.Sequence, Status = status, SystemId = "XINGE" });
                if (status != CommandStatus.EsmeRok)
                {
                    host.Logger.LogWarning("SMPP bind refused for {SystemId}: {Status}", bind.SystemId, status);
                }
                else if (session.CanReceive)
                {
                    host._receivers[session] = enterpriseId;
                    host.ReceiverBound?.Invoke();
                }
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
                case SubmitSm submit when !host.WithinTps(session):
                    session.Send(submit.CreateResponse(CommandStatus.EsmeRthrottled));
                    break;
                case SubmitSm submit:
                    await SubmitAsync(session, submit);
                    break;
                case DataSm data when !session.CanTransmit:
                    session.Send(data.CreateResponse(CommandStatus.EsmeRinvbndsts));
                    break;
                case DataSm data:
                    await host.DataAsync(session, _enterpriseId, data);
                    break;
                case SubmitMulti multi when !session.CanTransmit:
                    session.Send(multi.CreateResponse(CommandStatus.EsmeRinvbndsts));
                    break;
                case SubmitMulti multi:
                    await host.SubmitMultiAsync(session, _enterpriseId, multi);
                    break;
                case QuerySm query:
                    await host.QueryAsync(session, _enterpriseId, query);
                    break;
                case CancelSm cancel:
                    var cancelled = long.TryParse(cancel.MessageId, out var cancelId) && await host.Messaging.CancelAsync(_enterpriseId, cancelId);
                    session.Send(cancel.CreateResponse(cancelled ? CommandStatus.EsmeRok : CommandStatus.EsmeRcancelfail));
                    break;
                case ReplaceSm replace:
                    session.Send(replace.CreateResponse(await host.ReplaceAsync(_enterpriseId, replace)));
                    break;
                default:
                    Refuse(session, request, CommandStatus.EsmeRinvcmdid);
                    break;
            }
        }

        private async Task SubmitAsync(SmppSession session, SubmitSm submit)
        {
            var (concatenation, text, malformed) = ShortMessageContent.Of(submit);
            if (malformed)
            {
                session.Send(submit.CreateResponse(CommandStatus.EsmeRinvesmclass));
                return;
            }
            if (concatenation is not { } c)
            {
                await host.SubmitAsync(session, _enterpriseId, [submit], text);
                return;
            }
            List<SubmitSm>? complete = null;
            string? whole = null;
            lock (_partial)
            {
                DropStale(session);
                var key = (submit.DestinationAddr, c.Reference);
                if (!_partial.TryGetValue(key, out var entry) || entry.Parts.Length != c.Total)
                {
                    entry = (new SubmitSm?[c.Total], new string?[c.Total], host.Time.GetUtcNow());
                    _partial[key] = entry;
                    // Parts that never complete are answered when their patience runs out, traffic or not.
                    _sweeper ??= host.Time.CreateTimer(_ =>
                    {
                        lock (_partial) DropStale(session);
                    }, null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
                }
                entry.Parts[c.Sequence - 1] = submit;
                entry.Texts[c.Sequence - 1] = text;
                if (entry.Parts.All(p => p is not null))
                {
                    _partial.Remove(key);
                    complete = entry.Parts.Select(p => p!).ToList();
                    whole = string.Concat(entry.Texts);
                }
            }
            // The parts' responses wait until the whole message is in: they all carry its one message id.
            if (complete is not null) await host.SubmitAsync(session, _enterpriseId, complete, whole!);
        }

        private void DropStale(SmppSession session)
        {
            var now = host.Time.GetUtcNow();
            foreach (var (key, entry) in _partial.Where(kv => now - kv.Value.FirstSeen > PartPatience).ToList())
            {
                _partial.Remove(key);
                foreach (var part in entry.Parts.Where(p => p is not null)) session.Send(part!.CreateResponse(CommandStatus.EsmeRsubmitfail));
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
