using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class JobCounted : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "job_counted",
                table: "messages",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);
            // Messages of the jobs that keep counters on their row (JobCounters): the status writer counts them there.
            migrationBuilder.Sql("UPDATE messages SET job_counted = TRUE WHERE job_id IN (SELECT id FROM jobs WHERE accepted > 1000)");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "job_counted",
                table: "messages");
        }
    }
}
