using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class FlowControl : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "flow_events",
                columns: table => new
                {
                    key = table.Column<long>(type: "INTEGER", nullable: false),
                    at = table.Column<long>(type: "INTEGER", nullable: false),
                    content = table.Column<long>(type: "INTEGER", nullable: false),
                    n = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_flow_events", x => new { x.key, x.at, x.content });
                });

            migrationBuilder.CreateTable(
                name: "flow_limit_overrides",
                columns: table => new
                {
                    enterprise_id = table.Column<long>(type: "INTEGER", nullable: false),
                    name = table.Column<string>(type: "TEXT", nullable: false),
                    value = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_flow_limit_overrides", x => new { x.enterprise_id, x.name });
                });

            migrationBuilder.CreateTable(
                name: "test_numbers",
                columns: table => new
                {
                    enterprise_id = table.Column<long>(type: "INTEGER", nullable: false),
                    msisdn = table.Column<string>(type: "TEXT", nullable: false),
                    added_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_test_numbers", x => new { x.enterprise_id, x.msisdn });
                });

            migrationBuilder.CreateIndex(
                name: "IX_flow_events_at",
                table: "flow_events",
                column: "at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "flow_events");

            migrationBuilder.DropTable(
                name: "flow_limit_overrides");

            migrationBuilder.DropTable(
                name: "test_numbers");
        }
    }
}
