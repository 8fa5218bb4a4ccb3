package store

import (
	"context"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// inChunk bounds the placeholders of one IN list, far below the limits of
// both dialects (SQLite's default is 32766, MySQL's 65535).
const inChunk = 500

// SectionIDs returns the id of every section in the database, sorted
// bytewise (the same order in both dialects, whatever the collation).
func (db *DB) SectionIDs(ctx context.Context) ([]string, error) {
	ids := []string{}
	if err := sqlx.SelectContext(ctx, db.q, &ids, "SELECT `id` FROM `tutorial_section`"); err != nil {
		return nil, dbErr(err, "list section ids")
	}
	slices.Sort(ids)
	return ids, nil
}

// SectionIDsOfTutorials returns the ids of the sections belonging to any of
// the given tutorials, sorted bytewise, without duplicates. Unknown tutorial
// ids contribute nothing.
func (db *DB) SectionIDsOfTutorials(ctx context.Context, tutorialIDs []string) ([]string, error) {
	out := []string{}
	want := slices.Clone(tutorialIDs)
	slices.Sort(want)
	want = slices.Compact(want)
	for chunk := range slices.Chunk(want, inChunk) {
		var ids []string
		err := sqlx.SelectContext(ctx, db.q, &ids,
			"SELECT `id` FROM `tutorial_section` WHERE `tutorial_id` IN (?"+strings.Repeat(", ?", len(chunk)-1)+")",
			anySlice(chunk)...)
		if err != nil {
			return nil, dbErr(err, "list section ids of tutorials")
		}
		out = append(out, ids...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
