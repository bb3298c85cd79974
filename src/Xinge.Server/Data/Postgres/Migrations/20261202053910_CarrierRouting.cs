using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class CarrierRouting : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "PK_report_hours",
                table: "report_hours");

            migrationBuilder.AddColumn<string>(
                name: "carrier",
                table: "report_hours",
                type: "text",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddPrimaryKey(
                name: "PK_report_hours",
                table: "report_hours",
                columns: new[] { "hour", "enterprise_id", "connector", "carrier", "category", "outcome", "reason" });

            migrationBuilder.CreateTable(
                name: "carrier_routes",
                columns: table => new
                {
                    carrier = table.Column<string>(type: "text", nullable: false),
                    connector = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_carrier_routes", x => x.carrier);
                });

            migrationBuilder.CreateTable(
                name: "number_segments",
                columns: table => new
                {
                    prefix = table.Column<string>(type: "text", nullable: false),
                    carrier = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_number_segments", x => x.prefix);
                });

            migrationBuilder.CreateTable(
                name: "ported_numbers",
                columns: table => new
                {
                    msisdn = table.Column<string>(type: "text", nullable: false),
                    carrier = table.Column<string>(type: "text", nullable: false),
                    at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ported_numbers", x => x.msisdn);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "carrier_routes");

            migrationBuilder.DropTable(
                name: "number_segments");

            migrationBuilder.DropTable(
                name: "ported_numbers");

            migrationBuilder.DropPrimaryKey(
                name: "PK_report_hours",
                table: "report_hours");

            migrationBuilder.DropColumn(
                name: "carrier",
                table: "report_hours");

            migrationBuilder.AddPrimaryKey(
                name: "PK_report_hours",
                table: "report_hours",
                columns: new[] { "hour", "enterprise_id", "connector", "category", "outcome", "reason" });
        }
    }
}
