using System.Text;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Xinge.Server.Features.Accounts;
using Xinge.Server.Features.Billing;
using Xinge.Server.Features.Compliance;
using Xinge.Server.Features.Connectors;
using Xinge.Server.Features.Messaging;
using Xinge.Server.Features.Reports;
using Xinge.Server.Features.Routing;
using Xinge.Server.Features.SmppServer;

namespace Xinge.Server.Data;

/// <summary>
/// The schema. Tables and columns are snake_case so the hot paths' hand-written SQL reads the same on SQLite and
/// PostgreSQL. Times are Unix milliseconds (UTC), money integer fen.
/// </summary>
public abstract class XingeDb(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<Enterprise> Enterprises => Set<Enterprise>();
    public DbSet<User> Users => Set<User>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<AuditEntry> Audit => Set<AuditEntry>();
    public DbSet<Revocation> Revocations => Set<Revocation>();
    public DbSet<RoleRight> RoleRights => Set<RoleRight>();
    public DbSet<SmppAccount> SmppAccounts => Set<SmppAccount>();
    public DbSet<Setting> Settings => Set<Setting>();
    public DbSet<Signature> Signatures => Set<Signature>();
    public DbSet<Review> Reviews => Set<Review>();
    public DbSet<MessageTemplate> Templates => Set<MessageTemplate>();
    public DbSet<FlowLogRow> FlowLog => Set<FlowLogRow>();
    public DbSet<NumberSegment> NumberSegments => Set<NumberSegment>();
    public DbSet<Features.Calls.CallEventRow> CallEvents => Set<Features.Calls.CallEventRow>();
    public DbSet<Features.Onhook.Hotline> Hotlines => Set<Features.Onhook.Hotline>();
    public DbSet<Features.Onhook.OnhookService> OnhookServices => Set<Features.Onhook.OnhookService>();
    public DbSet<Features.Onhook.OnhookPolicy> OnhookPolicies => Set<Features.Onhook.OnhookPolicy>();
    public DbSet<Features.Onhook.OnhookDecision> OnhookDecisions => Set<Features.Onhook.OnhookDecision>();
    public DbSet<Features.Onhook.OnhookDaily> OnhookDaily => Set<Features.Onhook.OnhookDaily>();
    public DbSet<Features.Onhook.OnhookCaller> OnhookCallers => Set<Features.Onhook.OnhookCaller>();
    public DbSet<PortedNumber> PortedNumbers => Set<PortedNumber>();
    public DbSet<CarrierRoute> CarrierRoutes => Set<CarrierRoute>();
    public DbSet<TestNumber> TestNumbers => Set<TestNumber>();
    public DbSet<FlowLimitOverride> FlowLimitOverrides => Set<FlowLimitOverride>();
    public DbSet<OptOut> OptOuts => Set<OptOut>();
    public DbSet<LedgerEntry> Ledger => Set<LedgerEntry>();
    public DbSet<Message> Messages => Set<Message>();
    public DbSet<MessagePart> MessageParts => Set<MessagePart>();
    public DbSet<Job> Jobs => Set<Job>();
    public DbSet<JobRejection> JobRejections => Set<JobRejection>();
    public DbSet<InboundMessage> Inbound => Set<InboundMessage>();
    public DbSet<Webhook> Webhooks => Set<Webhook>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();
    public DbSet<IdempotentRequest> IdempotentRequests => Set<IdempotentRequest>();
    public DbSet<SmppOutboxItem> SmppOutbox => Set<SmppOutboxItem>();
    public DbSet<ConnectorDefinition> Connectors => Set<ConnectorDefinition>();
    public DbSet<ReportHour> ReportHours => Set<ReportHour>();
    public DbSet<LicenceDocument> LicenceDocuments => Set<LicenceDocument>();
    public DbSet<BlacklistEntry> Blacklist => Set<BlacklistEntry>();
    public DbSet<SensitiveWord> SensitiveWords => Set<SensitiveWord>();
    /// <summary>The portal's cookie and antiforgery keys, shared by every node and kept over restarts.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<Enterprise>(e =>
        {
            e.ToTable("enterprises");
            e.HasIndex(x => x.Extension).IsUnique();
        });
        b.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasIndex(x => x.Username).IsUnique();
        });
        b.Entity<ApiKey>(e =>
        {
            e.ToTable("api_keys");
            e.HasIndex(x => x.KeyHash).IsUnique();
            e.HasIndex(x => x.EnterpriseId);
        });
        b.Entity<AuditEntry>(e =>
        {
            e.ToTable("audit_log");
            e.HasIndex(x => x.At);
            e.HasIndex(x => new { x.Actor, x.Id });
            e.HasIndex(x => new { x.Action, x.Id });
        });
        b.Entity<RoleRight>(e =>
        {
            e.ToTable("role_rights");
            e.HasKey(x => new { x.Role, x.RightName });
        });
        b.Entity<Revocation>(e =>
        {
            e.ToTable("revocations");
            e.HasIndex(x => x.At);
        });
        b.Entity<SmppAccount>(e =>
        {
            e.ToTable("smpp_accounts");
            e.HasIndex(x => x.SystemId).IsUnique();
        });
        b.Entity<Setting>(e =>
        {
            e.ToTable("settings");
            e.HasKey(x => x.Key);
        });
        b.Entity<Signature>(e =>
        {
            e.ToTable("signatures");
            e.HasIndex(x => new { x.EnterpriseId, x.Text }).IsUnique();
        });
        b.Entity<MessageTemplate>(e =>
        {
            e.ToTable("templates");
            e.HasIndex(x => new { x.EnterpriseId, x.Name }).IsUnique();
        });
        b.Entity<FlowLogRow>(e =>
        {
            e.ToTable("flow_log");
            e.HasKey(x => x.Seq);
            e.HasIndex(x => x.Until);
        });
        b.Entity<Features.Calls.CallEventRow>(e =>
        {
            e.ToTable("call_events");
            e.HasKey(x => x.CallId);
            e.HasIndex(x => x.ReceivedAt);
        });
        b.Entity<Features.Onhook.Hotline>(e =>
        {
            e.ToTable("hotlines");
            e.HasIndex(x => x.Number).IsUnique();
            e.HasIndex(x => x.EnterpriseId);
        });
        b.Entity<Features.Onhook.OnhookService>(e =>
        {
            e.ToTable("onhook_services");
            e.HasKey(x => x.EnterpriseId);
        });
        b.Entity<Features.Onhook.OnhookPolicy>(e =>
        {
            e.ToTable("onhook_policies");
            e.HasIndex(x => new { x.HotlineId, x.Priority });
            e.HasIndex(x => x.EnterpriseId);
        });
        b.Entity<Features.Onhook.OnhookDecision>(e =>
        {
            e.ToTable("onhook_decisions");
            e.HasKey(x => x.CallId);
            e.HasIndex(x => new { x.EnterpriseId, x.Day });
            // No repeat within a period: a caller's earlier SMS of a policy.
            e.HasIndex(x => new { x.PolicyId, x.Caller });
            // The sender's queue: only the decisions whose SMS has not gone yet.
            e.HasIndex(x => x.SendAt).HasFilter("send_state = 'pending'");
        });
        b.Entity<Features.Onhook.OnhookDaily>(e =>
        {
            e.ToTable("onhook_daily");
            e.HasKey(x => new { x.PolicyId, x.Day });
        });
        b.Entity<Features.Onhook.OnhookCaller>(e =>
        {
            e.ToTable("onhook_callers");
            e.HasKey(x => new { x.PolicyId, x.Caller });
        });
        b.Entity<NumberSegment>(e =>
        {
            e.ToTable("number_segments");
            e.HasKey(x => x.Prefix);
        });
        b.Entity<PortedNumber>(e =>
        {
            e.ToTable("ported_numbers");
            e.HasKey(x => x.Msisdn);
        });
        b.Entity<CarrierRoute>(e =>
        {
            e.ToTable("carrier_routes");
            e.HasKey(x => x.Carrier);
        });
        b.Entity<TestNumber>(e =>
        {
            e.ToTable("test_numbers");
            e.HasKey(x => new { x.EnterpriseId, x.Msisdn });
        });
        b.Entity<FlowLimitOverride>(e =>
        {
            e.ToTable("flow_limit_overrides");
            e.HasKey(x => new { x.EnterpriseId, x.Name });
        });
        b.Entity<Review>(e =>
        {
            e.ToTable("reviews");
            e.HasIndex(x => new { x.Status, x.Id });
        });
        b.Entity<OptOut>(e =>
        {
            e.ToTable("opt_outs");
            e.HasKey(x => new { x.EnterpriseId, x.Msisdn });
        });
        b.Entity<LedgerEntry>(e =>
        {
            e.ToTable("ledger");
            e.HasIndex(x => new { x.EnterpriseId, x.Id });
        });
        b.Entity<Message>(e =>
        {
            e.ToTable("messages");
            // PostgreSQL: room on each page for a claimed row's new version beside the old (a HOT update, no index
            // entries), as a lane claims a page's rows together; bulk COPY fills pages to this mark only.
            e.HasStorageParameter("fillfactor", 50);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasIndex(x => x.JobId);
            e.HasIndex(x => new { x.EnterpriseId, x.Id });
            // The lanes (ARCHITECTURE.md): one queue per connector in priority order; only rows waiting to go out are in it.
            e.HasIndex(x => new { x.Connector, x.Priority, x.Id }).HasDatabaseName("ix_messages_lane").HasFilter("status = 'queued'");
            e.HasIndex(x => x.SendAt).HasDatabaseName("ix_messages_scheduled").HasFilter("status = 'scheduled'");
            e.HasIndex(x => x.SubmittedAt).HasDatabaseName("ix_messages_in_flight").HasFilter("status = 'submitted'");
            e.HasIndex(x => x.ExpiresAt).HasDatabaseName("ix_messages_expiry").HasFilter("expires_at IS NOT NULL");
            e.HasIndex(x => x.CreatedAt).HasDatabaseName("ix_messages_held").HasFilter("status = 'held'");
        });
        b.Entity<MessagePart>(e =>
        {
            e.ToTable("message_parts");
            e.HasKey(x => new { x.Connector, x.SmscId });
            e.HasIndex(x => x.MessageId);
        });
        b.Entity<Job>(e =>
        {
            e.ToTable("jobs");
            e.Property(x => x.Id).ValueGeneratedNever();
            e.HasIndex(x => new { x.EnterpriseId, x.Id });
        });
        b.Entity<JobRejection>(e =>
        {
            e.ToTable("job_rejections");
            e.HasIndex(x => new { x.JobId, x.Line });
        });
        b.Entity<InboundMessage>(e =>
        {
            e.ToTable("inbound_messages");
            e.HasIndex(x => new { x.EnterpriseId, x.Id });
        });
        b.Entity<Webhook>(e =>
        {
            e.ToTable("webhooks");
            e.HasKey(x => x.EnterpriseId);
        });
        b.Entity<WebhookDelivery>(e =>
        {
            e.ToTable("webhook_deliveries");
            e.HasIndex(x => x.NextAttemptAt).HasDatabaseName("ix_webhook_due").HasFilter("done = false");
        });
        b.Entity<ConnectorDefinition>(e =>
        {
            e.ToTable("connectors");
            e.HasIndex(x => x.Name).IsUnique();
        });
        b.Entity<ReportHour>(e =>
        {
            e.ToTable("report_hours");
            e.HasKey(x => new { x.Hour, x.EnterpriseId, x.Connector, x.Carrier, x.Category, x.Outcome, x.Reason });
        });
        b.Entity<DataProtectionKey>(e => e.ToTable("data_protection_keys"));
        b.Entity<BlacklistEntry>(e =>
        {
            e.ToTable("blacklist");
            e.HasKey(x => x.Msisdn);
        });
        b.Entity<SensitiveWord>(e =>
        {
            e.ToTable("sensitive_words");
            e.HasIndex(x => x.Word).IsUnique();
        });
        b.Entity<LicenceDocument>(e =>
        {
            e.ToTable("licence_documents");
            e.HasKey(x => x.EnterpriseId);
        });
        b.Entity<SmppOutboxItem>(e =>
        {
            e.ToTable("smpp_outbox");
            e.HasIndex(x => new { x.EnterpriseId, x.Id });
        });
        b.Entity<IdempotentRequest>(e =>
        {
            e.ToTable("idempotent_requests");
            e.HasKey(x => new { x.EnterpriseId, x.Key });
        });

        foreach (var entity in b.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties()) property.SetColumnName(SnakeCase(property.Name));
        }
    }

    public static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }
}

public sealed class SqliteXingeDb(DbContextOptions<SqliteXingeDb> options) : XingeDb(options);

public sealed class PostgresXingeDb(DbContextOptions<PostgresXingeDb> options) : XingeDb(options);

/// <summary>For `dotnet ef migrations add … --context SqliteXingeDb`.</summary>
public sealed class SqliteDesignFactory : IDesignTimeDbContextFactory<SqliteXingeDb>
{
    public SqliteXingeDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteXingeDb>().UseSqlite("Data Source=design.db",
            o => o.MigrationsAssembly(typeof(XingeDb).Assembly.FullName)).Options);
}

/// <summary>For `dotnet ef migrations add … --context PostgresXingeDb`.</summary>
public sealed class PostgresDesignFactory : IDesignTimeDbContextFactory<PostgresXingeDb>
{
    public PostgresXingeDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresXingeDb>().UseNpgsql("Host=localhost;Database=design").Options);
}
