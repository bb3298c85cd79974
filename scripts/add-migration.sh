#!/usr/bin/env bash
# Adds an EF Core migration for both providers: scripts/add-migration.sh Name
# Needs the dotnet-ef tool: dotnet tool install --global dotnet-ef --version 10.0.11
set -euo pipefail
cd "$(dirname "$0")/../src/Xinge.Server"
dotnet ef migrations add "$1" --context SqliteXingeDb --output-dir Data/Sqlite/Migrations
dotnet ef migrations add "$1" --context PostgresXingeDb --output-dir Data/Postgres/Migrations
