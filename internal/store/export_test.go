package store

import "github.com/jmoiron/sqlx"

// Raw exposes the pool to this package's tests, which need to build legacy
// schemas and inspect goose's table. It is not part of the API.
func (db *DB) Raw() *sqlx.DB { return db.db }
