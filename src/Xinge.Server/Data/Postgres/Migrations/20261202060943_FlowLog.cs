using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Xinge.Server.Data.Postgres.Migrations
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
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    until = table.Column<long>(type: "bigint", nullable: false),
                    counts = table.Column<byte[]>(type: "bytea", nullable: false)
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
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    at = table.Column<long>(type: "bigint", nullable: false),
                    content = table.Column<long>(type: "bigint", nullable: false),
                    key = table.Column<long>(type: "bigint", nullable: false)
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
