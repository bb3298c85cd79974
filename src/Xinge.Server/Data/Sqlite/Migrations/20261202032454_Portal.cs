using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Sqlite.Migrations
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
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "suspended",
                table: "enterprises",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "data_protection_keys",
                columns: table => new
                {
                    id = table.Column<int>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    friendly_name = table.Column<string>(type: "TEXT", nullable: true),
                    xml = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_data_protection_keys", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "licence_documents",
                columns: table => new
                {
                    enterprise_id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    file_name = table.Column<string>(type: "TEXT", nullable: false),
                    content_type = table.Column<string>(type: "TEXT", nullable: false),
                    content = table.Column<byte[]>(type: "BLOB", nullable: false),
                    uploaded_at = table.Column<long>(type: "INTEGER", nullable: false),
                    uploaded_by = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_licence_documents", x => x.enterprise_id);
                });

            migrationBuilder.CreateTable(
                name: "report_hours",
                columns: table => new
                {
                    hour = table.Column<long>(type: "INTEGER", nullable: false),
                    enterprise_id = table.Column<long>(type: "INTEGER", nullable: false),
                    connector = table.Column<string>(type: "TEXT", nullable: false),
                    category = table.Column<string>(type: "TEXT", nullable: false),
                    outcome = table.Column<string>(type: "TEXT", nullable: false),
                    reason = table.Column<string>(type: "TEXT", nullable: false),
                    messages = table.Column<long>(type: "INTEGER", nullable: false),
                    segments = table.Column<long>(type: "INTEGER", nullable: false),
                    revenue = table.Column<long>(type: "INTEGER", nullable: false)
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
