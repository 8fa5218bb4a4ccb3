package store

import (
	"context"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/itss-go/itss/internal/itss"
)

const sectionColumns = "s.`id`, COALESCE(s.`name`, '') AS `name`, COALESCE(s.`tutorial_type`, '') AS `tutorial_type`," +
	" s.`code_input`, s.`language`, s.`frequent_word`, s.`duration`, COALESCE(s.`tutorial_id`, '') AS `tutorial_id`"

// SectionPatch lists the fields of a section to change; nil fields are left
// alone.
type SectionPatch struct {
	Name, TutorialType, Language, CodeInput, FrequentWord *string
	Duration                                              *int64
}

// CreateSection inserts s and appends its id to its tutorial's sequence in
// the same transaction, with the tutorial's row locked so that concurrent
// creations each keep their place. A legacy list-repr sequence is repaired to
// JSON rather than discarded. CodeNotFound if the tutorial does not exist,
// CodeConflict if the id is taken.
func (db *DB) CreateSection(ctx context.Context, s itss.Section) error {
	if s.ID == "" || s.TutorialID == "" {
		return itss.Errorf(itss.CodeInvalid, "Section ID and tutorial ID are required")
	}
	return db.withTx(ctx, func(tx *DB) error {
		ids, err := tx.lockedSequence(ctx, s.TutorialID)
		if err != nil {
			return err
		}
		_, err = tx.q.ExecContext(ctx,
			"INSERT INTO `tutorial_section` (`id`, `name`, `tutorial_type`, `code_input`, `language`, `frequent_word`, `duration`, `tutorial_id`)"+
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			s.ID, s.Name, s.TutorialType, s.CodeInput, s.Language, s.FrequentWord, s.Duration, s.TutorialID)
		if err != nil {
			return conflict(dbErr(err, "create section"), "Tutorial section already exists")
		}
		if !slices.Contains(ids, s.ID) {
			ids = append(ids, s.ID)
		}
		return tx.storeSequence(ctx, s.TutorialID, ids)
	})
}

// SectionByID returns the section; CodeNotFound if there is none.
func (db *DB) SectionByID(ctx context.Context, id string) (itss.Section, error) {
	var s itss.Section
	err := sqlx.GetContext(ctx, db.q, &s, "SELECT "+sectionColumns+" FROM `tutorial_section` s WHERE s.`id` = ?", id)
	return s, rowErr(err, "Tutorial section not found", "load section")
}

// SectionsByTutorial returns the tutorial's sections in the order of its
// sequence, which is their order of creation unless the author reordered
// them; sections missing from the sequence follow, by id. Neither dialect
// keeps an insertion order for rows keyed by random ids, so the sequence is
// the only order there is. An unknown tutorial has no sections.
func (db *DB) SectionsByTutorial(ctx context.Context, tutorialID string) ([]itss.Section, error) {
	var secs []itss.Section
	if err := sqlx.SelectContext(ctx, db.q, &secs,
		"SELECT "+sectionColumns+" FROM `tutorial_section` s WHERE s.`tutorial_id` = ? ORDER BY s.`id`", tutorialID); err != nil {
		return nil, dbErr(err, "list sections of tutorial")
	}
	if len(secs) < 2 {
		return secs, nil
	}
	var seq *string
	err := sqlx.GetContext(ctx, db.q, &seq, "SELECT `sequence` FROM `tutorial` WHERE `id` = ?", tutorialID)
	if err != nil {
		return nil, rowErr(err, "Tutorial not found", "load sequence")
	}
	ids, _, err := itss.ParseSequence(seq)
	if err != nil {
		return secs, nil // unreadable order: id order is as good as any
	}
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		if _, dup := pos[id]; !dup {
			pos[id] = i
		}
	}
	rank := func(s itss.Section) int {
		if p, ok := pos[s.ID]; ok {
			return p
		}
		return len(ids)
	}
	slices.SortStableFunc(secs, func(a, b itss.Section) int { return rank(a) - rank(b) })
	return secs, nil
}

// UpdateSection applies p; CodeNotFound if the section does not exist.
func (db *DB) UpdateSection(ctx context.Context, id string, p SectionPatch) error {
	var set setList
	for _, f := range []struct {
		col string
		v   *string
	}{
		{"name", p.Name},
		{"tutorial_type", p.TutorialType},
		{"language", p.Language},
		{"code_input", p.CodeInput},
		{"frequent_word", p.FrequentWord},
	} {
		if f.v != nil {
			set.add(f.col, *f.v)
		}
	}
	if p.Duration != nil {
		set.add("duration", *p.Duration)
	}
	if len(set.cols) == 0 {
		_, err := db.SectionByID(ctx, id)
		return err
	}
	res, err := db.q.ExecContext(ctx, "UPDATE `tutorial_section` SET "+set.sql()+" WHERE `id` = ?", append(set.args, id)...)
	return affected(res, err, "Tutorial section not found", "update section")
}

// DeleteSection removes the section's id from its tutorial's sequence and
// deletes the row, in one transaction with the tutorial's row locked (the
// lock order of CreateSection, so the two cannot deadlock). A legacy
// list-repr sequence is repaired rather than reset. CodeNotFound if the
// section does not exist.
func (db *DB) DeleteSection(ctx context.Context, id string) error {
	return db.withTx(ctx, func(tx *DB) error {
		var tutorialID string
		err := sqlx.GetContext(ctx, tx.q, &tutorialID,
			"SELECT COALESCE(`tutorial_id`, '') FROM `tutorial_section` WHERE `id` = ?", id)
		if err != nil {
			return rowErr(err, "Tutorial section not found", "load section")
		}
		ids, err := tx.lockedSequence(ctx, tutorialID)
		switch {
		case itss.IsCode(err, itss.CodeNotFound):
			// An orphan row (possible only in a legacy database): there
			// is no sequence to update.
		case err != nil:
			return err
		default:
			ids = slices.DeleteFunc(ids, func(s string) bool { return s == id })
			if err := tx.storeSequence(ctx, tutorialID, ids); err != nil {
				return err
			}
		}
		// A concurrent delete of the same section may have won the
		// tutorial lock first: then nothing is left to delete.
		res, err := tx.q.ExecContext(ctx, "DELETE FROM `tutorial_section` WHERE `id` = ?", id)
		return affected(res, err, "Tutorial section not found", "delete section")
	})
}
