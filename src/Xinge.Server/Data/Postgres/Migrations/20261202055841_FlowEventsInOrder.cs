using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Xinge.Server.Data.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class FlowEventsInOrder : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The counts are kept a day at most: the table starts again in its new shape rather than converting.
            migrationBuilder.DropTable(name: "flow_events");
            migrationBuilder.CreateTable(
                name: "flow_events",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false).Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    key = table.Column<long>(type: "bigint", nullable: false),
                    at = table.Column<long>(type: "bigint", nullable: false),
                    content = table.Column<long>(type: "bigint", nullable: false),
                },
                constraints: table => table.PrimaryKey("PK_flow_events", x => x.seq));
            migrationBuilder.CreateIndex(name: "IX_flow_events_key_at", table: "flow_events", columns: new[] { "key", "at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(name: "flow_events");
            migrationBuilder.CreateTable(
                name: "flow_events",
                columns: table => new
                {
                    key = table.Column<long>(type: "bigint", nullable: false),
                    at = table.Column<long>(type: "bigint", nullable: false),
                    content = table.Column<long>(type: "bigint", nullable: false),
                    n = table.Column<int>(type: "integer", nullable: false),
                },
                constraints: table => table.PrimaryKey("PK_flow_events", x => new { x.key, x.at, x.content }));
            migrationBuilder.CreateIndex(name: "IX_flow_events_at", table: "flow_events", column: "at");
        }
    }
}
