using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class FlowLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "flow_events");

            migrationBuilder.CreateTable(
                name: "flow_log",
                columns: table => new
                {
                    seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    until = table.Column<long>(type: "INTEGER", nullable: false),
                    counts = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_flow_log", x => x.seq);
                });

            migrationBuilder.CreateIndex(
                name: "IX_flow_log_until",
                table: "flow_log",
                column: "until");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "flow_log");

            migrationBuilder.CreateTable(
                name: "flow_events",
                columns: table => new
                {
                    seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    at = table.Column<long>(type: "INTEGER", nullable: false),
                    content = table.Column<long>(type: "INTEGER", nullable: false),
                    key = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_flow_events", x => x.seq);
                });

            migrationBuilder.CreateIndex(
                name: "IX_flow_events_key_at",
                table: "flow_events",
                columns: new[] { "key", "at" });
        }
    }
}
