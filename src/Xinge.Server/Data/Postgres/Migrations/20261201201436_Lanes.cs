using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class Lanes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_messages_queue",
                table: "messages");

            migrationBuilder.AddColumn<string>(
                name: "state",
                table: "jobs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "fingerprint",
                table: "idempotent_requests",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_messages_lane",
                table: "messages",
                columns: new[] { "connector", "priority", "id" },
                filter: "status = 'queued'");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_enterprise_id_id",
                table: "jobs",
                columns: new[] { "enterprise_id", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_messages_lane",
                table: "messages");

            migrationBuilder.DropIndex(
                name: "IX_jobs_enterprise_id_id",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "state",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "fingerprint",
                table: "idempotent_requests");

            migrationBuilder.CreateIndex(
                name: "ix_messages_queue",
                table: "messages",
                columns: new[] { "priority", "id" },
                filter: "status = 'queued'");
        }
    }
}
