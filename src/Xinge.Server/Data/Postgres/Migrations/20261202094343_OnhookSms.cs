using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Xinge.Server.Data.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class OnhookSms : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "call_events",
                columns: table => new
                {
                    call_id = table.Column<string>(type: "text", nullable: false),
                    caller = table.Column<string>(type: "text", nullable: false),
                    called = table.Column<string>(type: "text", nullable: false),
                    outcome = table.Column<string>(type: "text", nullable: false),
                    diverted = table.Column<bool>(type: "boolean", nullable: false),
                    started_at = table.Column<long>(type: "bigint", nullable: false),
                    ended_at = table.Column<long>(type: "bigint", nullable: false),
                    received_at = table.Column<long>(type: "bigint", nullable: false),
                    ivr_choice = table.Column<string>(type: "text", nullable: true),
                    ivr_number = table.Column<string>(type: "text", nullable: true),
                    recording_url = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_call_events", x => x.call_id);
                });

            migrationBuilder.CreateTable(
                name: "hotlines",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    enterprise_id = table.Column<long>(type: "bigint", nullable: false),
                    number = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_hotlines", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "onhook_callers",
                columns: table => new
                {
                    policy_id = table.Column<long>(type: "bigint", nullable: false),
                    caller = table.Column<string>(type: "text", nullable: false),
                    last_sent_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_onhook_callers", x => new { x.policy_id, x.caller });
                });

            migrationBuilder.CreateTable(
                name: "onhook_daily",
                columns: table => new
                {
                    policy_id = table.Column<long>(type: "bigint", nullable: false),
                    day = table.Column<int>(type: "integer", nullable: false),
                    sent = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_onhook_daily", x => new { x.policy_id, x.day });
                });

            migrationBuilder.CreateTable(
                name: "onhook_decisions",
                columns: table => new
                {
                    call_id = table.Column<string>(type: "text", nullable: false),
                    enterprise_id = table.Column<long>(type: "bigint", nullable: false),
                    hotline_id = table.Column<long>(type: "bigint", nullable: false),
                    policy_id = table.Column<long>(type: "bigint", nullable: true),
                    caller = table.Column<string>(type: "text", nullable: false),
                    outcome = table.Column<string>(type: "text", nullable: false),
                    ended_at = table.Column<long>(type: "bigint", nullable: false),
                    day = table.Column<int>(type: "integer", nullable: false),
                    decision = table.Column<string>(type: "text", nullable: false),
                    send_at = table.Column<long>(type: "bigint", nullable: true),
                    send_state = table.Column<string>(type: "text", nullable: true),
                    message_id = table.Column<long>(type: "bigint", nullable: true),
                    error = table.Column<string>(type: "text", nullable: true),
                    lease_until = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_onhook_decisions", x => x.call_id);
                });

            migrationBuilder.CreateTable(
                name: "onhook_policies",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    enterprise_id = table.Column<long>(type: "bigint", nullable: false),
                    hotline_id = table.Column<long>(type: "bigint", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    signature = table.Column<string>(type: "text", nullable: false),
                    category = table.Column<string>(type: "text", nullable: false),
                    delay_minutes = table.Column<int>(type: "integer", nullable: false),
                    content_answered = table.Column<string>(type: "text", nullable: true),
                    content_busy = table.Column<string>(type: "text", nullable: true),
                    content_no_answer = table.Column<string>(type: "text", nullable: true),
                    no_repeat = table.Column<bool>(type: "boolean", nullable: false),
                    period_days = table.Column<int>(type: "integer", nullable: true),
                    window_from = table.Column<int>(type: "integer", nullable: true),
                    window_to = table.Column<int>(type: "integer", nullable: true),
                    daily_limit = table.Column<int>(type: "integer", nullable: true),
                    priority = table.Column<int>(type: "integer", nullable: false),
                    enabled = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<long>(type: "bigint", nullable: false),
                    updated_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_onhook_policies", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "onhook_services",
                columns: table => new
                {
                    enterprise_id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    open = table.Column<bool>(type: "boolean", nullable: false),
                    time_zone = table.Column<string>(type: "text", nullable: false),
                    changed_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_onhook_services", x => x.enterprise_id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_call_events_received_at",
                table: "call_events",
                column: "received_at");

            migrationBuilder.CreateIndex(
                name: "IX_hotlines_enterprise_id",
                table: "hotlines",
                column: "enterprise_id");

            migrationBuilder.CreateIndex(
                name: "IX_hotlines_number",
                table: "hotlines",
                column: "number",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_onhook_decisions_enterprise_id_day",
                table: "onhook_decisions",
                columns: new[] { "enterprise_id", "day" });

            migrationBuilder.CreateIndex(
                name: "IX_onhook_decisions_policy_id_caller",
                table: "onhook_decisions",
                columns: new[] { "policy_id", "caller" });

            migrationBuilder.CreateIndex(
                name: "IX_onhook_decisions_send_at",
                table: "onhook_decisions",
                column: "send_at",
                filter: "send_state = 'pending'");

            migrationBuilder.CreateIndex(
                name: "IX_onhook_policies_enterprise_id",
                table: "onhook_policies",
                column: "enterprise_id");

            migrationBuilder.CreateIndex(
                name: "IX_onhook_policies_hotline_id_priority",
                table: "onhook_policies",
                columns: new[] { "hotline_id", "priority" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "call_events");

            migrationBuilder.DropTable(
                name: "hotlines");

            migrationBuilder.DropTable(
                name: "onhook_callers");

            migrationBuilder.DropTable(
                name: "onhook_daily");

            migrationBuilder.DropTable(
                name: "onhook_decisions");

            migrationBuilder.DropTable(
                name: "onhook_policies");

            migrationBuilder.DropTable(
                name: "onhook_services");
        }
    }
}
