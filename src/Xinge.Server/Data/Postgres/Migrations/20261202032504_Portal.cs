using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Xinge.Server.Data.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class Portal : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_ledger_enterprise_id",
                table: "ledger");

            migrationBuilder.AddColumn<string>(
                name: "language",
                table: "users",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "suspended",
                table: "enterprises",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "data_protection_keys",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    friendly_name = table.Column<string>(type: "text", nullable: true),
                    xml = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_data_protection_keys", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "licence_documents",
                columns: table => new
                {
                    enterprise_id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    file_name = table.Column<string>(type: "text", nullable: false),
                    content_type = table.Column<string>(type: "text", nullable: false),
                    content = table.Column<byte[]>(type: "bytea", nullable: false),
                    uploaded_at = table.Column<long>(type: "bigint", nullable: false),
                    uploaded_by = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_licence_documents", x => x.enterprise_id);
                });

            migrationBuilder.CreateTable(
                name: "report_hours",
                columns: table => new
                {
                    hour = table.Column<long>(type: "bigint", nullable: false),
                    enterprise_id = table.Column<long>(type: "bigint", nullable: false),
                    connector = table.Column<string>(type: "text", nullable: false),
                    category = table.Column<string>(type: "text", nullable: false),
                    outcome = table.Column<string>(type: "text", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: false),
                    messages = table.Column<long>(type: "bigint", nullable: false),
                    segments = table.Column<long>(type: "bigint", nullable: false),
                    revenue = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_report_hours", x => new { x.hour, x.enterprise_id, x.connector, x.category, x.outcome, x.reason });
                });

            migrationBuilder.CreateIndex(
                name: "IX_ledger_enterprise_id_id",
                table: "ledger",
                columns: new[] { "enterprise_id", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "data_protection_keys");

            migrationBuilder.DropTable(
                name: "licence_documents");

            migrationBuilder.DropTable(
                name: "report_hours");

            migrationBuilder.DropIndex(
                name: "IX_ledger_enterprise_id_id",
                table: "ledger");

            migrationBuilder.DropColumn(
                name: "language",
                table: "users");

            migrationBuilder.DropColumn(
                name: "suspended",
                table: "enterprises");

            migrationBuilder.CreateIndex(
                name: "IX_ledger_enterprise_id",
                table: "ledger",
                column: "enterprise_id");
        }
    }
}
