// Package migrations holds the goose SQL migrations of the ITSS database, one
// folder per dialect, embedded so that both services and itssctl carry them.
//
// Rules: a migration is never edited once released; additions are new files
// with the next version, and the two folders keep the same version numbers so
// that a schema version means the same thing on either dialect. Migrations
// are forward-only: the first one adopts tables that may hold the original
// system's data, which no "down" should drop; `itssctl db reset` starts over.
package migrations

import "embed"

// MySQL holds the migrations for MySQL 8 and MariaDB (folder "mysql").
//
//go:embed mysql/*.sql
var MySQL embed.FS

// SQLite holds the migrations for SQLite (folder "sqlite").
//
//go:embed sqlite/*.sql
var SQLite embed.FS
