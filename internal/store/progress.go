package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/itss-go/itss/internal/itss"
)

// UpsertProgress records page as the last page the user opened in the
// tutorial, overwriting the previous one even when it was further on (the
// original's "last opened" meaning). CodeNotFound if the user or the tutorial
// does not exist.
func (db *DB) UpsertProgress(ctx context.Context, userID int64, tutorialID string, page int) error {
	q := "INSERT INTO `user_tutorial_state` (`user_id`, `tutorial_id`, `last_page`) VALUES (?, ?, ?) " +
		db.onConflictUpdate("user_id", "tutorial_id") + "`last_page` = ?"
	// In a transaction only to be retried if MySQL picks it as a deadlock
	// victim against a concurrent DeleteTutorial.
	err := db.withTx(ctx, func(tx *DB) error {
		_, err := tx.q.ExecContext(ctx, q, userID, tutorialID, page, page)
		return dbErr(err, "record progress")
	})
	var ae *itss.Error
	if errors.As(err, &ae) && ae.Code == itss.CodeNotFound {
		return &itss.Error{Code: ae.Code, Message: "User or tutorial not found", Err: ae.Err}
	}
	return err
}

// LastPage returns the last page the user opened in the tutorial, 0 when none.
func (db *DB) LastPage(ctx context.Context, userID int64, tutorialID string) (int, error) {
	var page *int
	err := sqlx.GetContext(ctx, db.q, &page,
		"SELECT `last_page` FROM `user_tutorial_state` WHERE `user_id` = ? AND `tutorial_id` = ?", userID, tutorialID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && page == nil) {
		return 0, nil
	}
	if err != nil {
		return 0, dbErr(err, "load progress")
	}
	return *page, nil
}
