package store

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Stats reports the connection pool's statistics.
func (db *DB) Stats() sql.DBStats { return db.db.Stats() }

// Collector exports the pool statistics (open, in use, idle, waits, closes)
// as Prometheus metrics labelled db_name=name.
func (db *DB) Collector(name string) prometheus.Collector {
	return collectors.NewDBStatsCollector(db.db.DB, name)
}
