package tutorialapi

import (
	"context"
	"fmt"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/validate"
)

// CopySample gives a (guest) author their own unpublished copy of the sample
// tutorial — SAMPLE_TUTORIAL_ID or the built-in one — with all of its
// sections, rows and files (T6, A11), and returns the new tutorial's id. Only
// the auth service may ask, with a service token; when the token names a
// user, the body must name the same one.
func (s *Service) CopySample(ctx context.Context, id itss.Identity, userID any) (string, error) {
	if !id.Service {
		if id.Anonymous() {
			return "", itss.Errorf(itss.CodeUnauthorized, "A service token is required.")
		}
		return "", itss.Errorf(itss.CodeForbidden, "Only the auth service may copy the sample tutorial.")
	}
	if userID == nil || userID == "" {
		return "", itss.Errorf(itss.CodeInvalid, "Missing required field: userid")
	}
	uid, err := validate.UserID(userID)
	if err != nil {
		return "", itss.Errorf(itss.CodeInvalid, "Invalid user ID: %s", err.Error())
	}
	if id.UserID != 0 && id.UserID != uid {
		return "", itss.Errorf(itss.CodeForbidden, msgUserMismatch)
	}
	if _, err := s.db.UserByID(ctx, uid); itss.IsCode(err, itss.CodeNotFound) {
		return "", itss.Errorf(itss.CodeNotFound, "User not found")
	} else if err != nil {
		return "", fmt.Errorf("load user: %w", err)
	}
	src, err := s.db.TutorialByID(ctx, s.sampleID)
	if itss.IsCode(err, itss.CodeNotFound) {
		return "", itss.Errorf(itss.CodeNotFound, "Sample tutorial not found")
	} else if err != nil {
		return "", fmt.Errorf("load sample tutorial: %w", err)
	}
	secs, err := s.db.SectionsByTutorial(ctx, src.ID)
	if err != nil {
		return "", fmt.Errorf("list sample sections: %w", err)
	}
	// The sample's pages, as its playback shows them: the sections its
	// sequence lists, in order (all of them when the sequence is unreadable).
	ids, _, perr := itss.ParseSequence(src.Sequence)
	secs = orderSections(ids, secs, perr != nil)

	// Files first, under fresh ids nobody refers to yet; rows second, in one
	// transaction. Either failing removes the copied files again.
	copies := make([]itss.Section, 0, len(secs))
	cleanup := func() {
		for _, c := range copies {
			if err := s.files.DeleteSection(context.WithoutCancel(ctx), c.ID); err != nil {
				s.log.ErrorContext(ctx, "remove files of a failed sample copy", "section_id", c.ID, "err", err)
			}
		}
	}
	for _, sec := range secs {
		c := sec
		c.ID = newID()
		c.FrequentWord = frequentWordJSON(sec.FrequentWord)
		copies = append(copies, c)
		if err := s.files.CopySection(ctx, sec.ID, c.ID); err != nil && !itss.IsCode(err, itss.CodeNotFound) {
			cleanup()
			return "", fmt.Errorf("copy sample files: %w", err)
		}
	}
	seq := itss.FormatSequence(nil)
	t := itss.Tutorial{ID: newID(), Name: src.Name, Language: src.Language, Sequence: &seq, UserID: uid,
		Description: src.Description}
	err = s.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.CreateTutorial(ctx, t); err != nil {
			return err
		}
		for _, c := range copies {
			c.TutorialID = t.ID
			if err := tx.CreateSection(ctx, c); err != nil { // appends to the sequence
				return err
			}
		}
		return nil
	})
	if err != nil {
		cleanup()
		return "", fmt.Errorf("copy sample rows: %w", err)
	}
	s.event(ctx, "Create Sample Tutorial", "user_id", uid, "tutorial_id", t.ID, "sample_id", src.ID,
		"sections", len(copies))
	return t.ID, nil
}
