package store

import (
	"context"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/itss-go/itss/internal/itss"
)

const tutorialColumns = "t.`id`, COALESCE(t.`name`, '') AS `name`, COALESCE(t.`language`, '') AS `language`," +
	" t.`sequence`, COALESCE(t.`userid`, 0) AS `userid`, t.`start_date`, t.`end_date`, t.`description`"

// cardQuery lists tutorials with their author's name and picture. The join is
// a LEFT JOIN because `userid` has no foreign key in the original schema: a
// tutorial whose author is gone still lists, with an empty name.
const cardQuery = "SELECT " + tutorialColumns +
	", COALESCE(u.`name`, '') AS `author_name`, u.`picture` AS `author_picture`"

// maxSequenceLen is the width of tutorial.sequence, VARCHAR(10000): room for
// about 270 section ids. Checked here because SQLite does not enforce widths
// and MySQL outside strict mode would silently truncate the list.
const maxSequenceLen = 10000

// TutorialCard is a tutorial as listed in a catalogue: with its author's name
// and picture, and the page the listing user last opened (0 when none).
type TutorialCard struct {
	itss.Tutorial
	AuthorName    string  `db:"author_name"`
	AuthorPicture *string `db:"author_picture"`
	LastPage      int     `db:"last_page"`
}

// TutorialPatch lists the fields of a tutorial to change; nil or unset fields
// are left alone. Sequence is the stored text (JSON array, or a legacy list
// repr), which is written back as canonical JSON. SetStart/SetEnd with a nil
// date clear it.
type TutorialPatch struct {
	Name, Description, Sequence *string
	SetStart                    bool
	Start                       *time.Time
	SetEnd                      bool
	End                         *time.Time
}

// CreateTutorial inserts t. A nil sequence is stored as "[]"; dates are stored
// in UTC to the second. An id already used is CodeConflict.
func (db *DB) CreateTutorial(ctx context.Context, t itss.Tutorial) error {
	if t.ID == "" {
		return itss.Errorf(itss.CodeInvalid, "Tutorial ID is required")
	}
	seq, err := canonicalSequence(t.Sequence)
	if err != nil {
		return err
	}
	_, err = db.q.ExecContext(ctx,
		"INSERT INTO `tutorial` (`id`, `name`, `language`, `sequence`, `userid`, `start_date`, `end_date`, `description`)"+
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.Name, t.Language, seq, t.UserID, dbTime(t.StartDate), dbTime(t.EndDate), t.Description)
	return conflict(dbErr(err, "create tutorial"), "Tutorial already exists")
}

// TutorialByID returns the tutorial; CodeNotFound if there is none.
func (db *DB) TutorialByID(ctx context.Context, id string) (itss.Tutorial, error) {
	var t itss.Tutorial
	err := sqlx.GetContext(ctx, db.q, &t, "SELECT "+tutorialColumns+" FROM `tutorial` t WHERE t.`id` = ?", id)
	return t, rowErr(err, "Tutorial not found", "load tutorial")
}

// UpdateTutorial applies p; CodeNotFound if the tutorial does not exist and
// CodeInvalid if the sequence does not parse or is too long.
func (db *DB) UpdateTutorial(ctx context.Context, id string, p TutorialPatch) error {
	var set setList
	if p.Name != nil {
		set.add("name", *p.Name)
	}
	if p.Description != nil {
		set.add("description", *p.Description)
	}
	if p.Sequence != nil {
		seq, err := canonicalSequence(p.Sequence)
		if err != nil {
			return err
		}
		set.add("sequence", seq)
	}
	if p.SetStart {
		set.add("start_date", dbTime(p.Start))
	}
	if p.SetEnd {
		set.add("end_date", dbTime(p.End))
	}
	if len(set.cols) == 0 {
		_, err := db.TutorialByID(ctx, id)
		return err
	}
	res, err := db.q.ExecContext(ctx, "UPDATE `tutorial` SET "+set.sql()+" WHERE `id` = ?", append(set.args, id)...)
	return affected(res, err, "Tutorial not found", "update tutorial")
}

// DeleteTutorial deletes the tutorial, its sections and every learner's
// progress in it, in one transaction, and returns the ids of the deleted
// sections so that the caller can remove their files. CodeNotFound if there is
// no such tutorial.
func (db *DB) DeleteTutorial(ctx context.Context, id string) (sectionIDs []string, err error) {
	err = db.withTx(ctx, func(tx *DB) error {
		// Locking the tutorial first keeps a concurrent CreateSection from
		// adding a section whose id would be missing from the list.
		if _, err := tx.lockedSequence(ctx, id); err != nil {
			return err
		}
		sectionIDs = nil
		if err := sqlx.SelectContext(ctx, tx.q, &sectionIDs,
			"SELECT `id` FROM `tutorial_section` WHERE `tutorial_id` = ? ORDER BY `id`", id); err != nil {
			return dbErr(err, "list sections of tutorial")
		}
		for _, q := range []string{
			"DELETE FROM `user_tutorial_state` WHERE `tutorial_id` = ?",
			"DELETE FROM `tutorial_section` WHERE `tutorial_id` = ?",
			"DELETE FROM `tutorial` WHERE `id` = ?",
		} {
			if _, err := tx.q.ExecContext(ctx, q, id); err != nil {
				return dbErr(err, "delete tutorial")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sectionIDs, nil
}

// TutorialsByAuthor lists the author's tutorials, published or not, by id
// (the order the original's unordered query returned them in). LastPage is 0.
func (db *DB) TutorialsByAuthor(ctx context.Context, userID int64) ([]TutorialCard, error) {
	var cards []TutorialCard
	err := sqlx.SelectContext(ctx, db.q, &cards, cardQuery+", 0 AS `last_page`"+
		" FROM `tutorial` t LEFT JOIN `user` u ON u.`id` = t.`userid`"+
		" WHERE t.`userid` = ? ORDER BY t.`id`", userID)
	if err != nil {
		return nil, dbErr(err, "list tutorials of author")
	}
	return cards, nil
}

// PublishedTutorials lists, by id, every author's tutorials that are
// published at now: start_date < now and (end_date is NULL or end_date > now),
// so a tutorial without a start date is never listed. LastPage is forUser's
// progress (0 when none, or when forUser is 0). now is a parameter rather
// than the database's clock so that both services and the tests agree on it.
func (db *DB) PublishedTutorials(ctx context.Context, now time.Time, forUser int64) ([]TutorialCard, error) {
	at := dbTime(&now)
	var cards []TutorialCard
	err := sqlx.SelectContext(ctx, db.q, &cards, cardQuery+", COALESCE(p.`last_page`, 0) AS `last_page`"+
		" FROM `tutorial` t LEFT JOIN `user` u ON u.`id` = t.`userid`"+
		" LEFT JOIN `user_tutorial_state` p ON p.`tutorial_id` = t.`id` AND p.`user_id` = ?"+
		" WHERE t.`start_date` < ? AND (t.`end_date` IS NULL OR t.`end_date` > ?)"+
		" ORDER BY t.`id`", forUser, at, at)
	if err != nil {
		return nil, dbErr(err, "list published tutorials")
	}
	return cards, nil
}

// lockedSequence locks the tutorial's row for the rest of the transaction and
// returns its section ids. A legacy list repr parses like JSON (the caller
// writes it back as JSON). Text that parses as neither is rebuilt from the
// tutorial's sections, losing only their order, where the original system
// replaced it and lost the list.
func (db *DB) lockedSequence(ctx context.Context, tutorialID string) ([]string, error) {
	var seq *string
	err := sqlx.GetContext(ctx, db.q, &seq,
		"SELECT `sequence` FROM `tutorial` WHERE `id` = ?"+db.forUpdate(), tutorialID)
	if err != nil {
		return nil, rowErr(err, "Tutorial not found", "lock tutorial")
	}
	if ids, _, err := itss.ParseSequence(seq); err == nil {
		return ids, nil
	}
	var ids []string
	if err := sqlx.SelectContext(ctx, db.q, &ids,
		"SELECT `id` FROM `tutorial_section` WHERE `tutorial_id` = ? ORDER BY `id`", tutorialID); err != nil {
		return nil, dbErr(err, "rebuild sequence")
	}
	return ids, nil
}

// storeSequence writes ids as the tutorial's canonical sequence text.
func (db *DB) storeSequence(ctx context.Context, tutorialID string, ids []string) error {
	seq, err := formatSequence(ids)
	if err != nil {
		return err
	}
	_, err = db.q.ExecContext(ctx, "UPDATE `tutorial` SET `sequence` = ? WHERE `id` = ?", seq, tutorialID)
	return dbErr(err, "store sequence")
}

// canonicalSequence parses stored or submitted sequence text (nil is empty)
// and returns it as canonical JSON.
func canonicalSequence(text *string) (string, error) {
	ids, _, err := itss.ParseSequence(text)
	if err != nil {
		return "", itss.Wrap(itss.CodeInvalid, err, "Sequence must be a list of section IDs")
	}
	return formatSequence(ids)
}

func formatSequence(ids []string) (string, error) {
	seq := itss.FormatSequence(ids)
	if len(seq) > maxSequenceLen {
		return "", itss.Errorf(itss.CodeInvalid, "Too many sections in tutorial")
	}
	return seq, nil
}

// LockTutorial takes the tutorial's row lock until the end of the
// transaction the DB is bound to (MySQL: SELECT … FOR UPDATE; SQLite: write
// transactions are serialised from BEGIN), so that a read-check-write of its
// sequence cannot interleave with a section being created or deleted.
// CodeNotFound if there is no such tutorial.
func (db *DB) LockTutorial(ctx context.Context, id string) error {
	if db.tx == nil {
		return errors.New("lock tutorial: not inside a transaction")
	}
	_, err := db.lockedSequence(ctx, id)
	return err
}
