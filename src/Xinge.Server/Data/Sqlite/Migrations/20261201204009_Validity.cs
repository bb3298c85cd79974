using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Xinge.Server.Data.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class Validity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "expires_at",
                table: "messages",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_messages_expiry",
                table: "messages",
                column: "expires_at",
                filter: "expires_at IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_messages_expiry",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "expires_at",
                table: "messages");
        }
    }
}
