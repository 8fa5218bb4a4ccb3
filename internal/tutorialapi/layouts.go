package tutorialapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/validate"
)

// LayoutKey names one saved layout: a user's layout of a tutorial in a role
// (T18, T19). UserID is as sent (JSON number or numeric string).
type LayoutKey struct {
	UserID     any
	TutorialID string
	Role       string
}

type layoutKey struct {
	userID     int64
	tutorialID string
	role       string
}

func (s *Service) checkLayoutKey(ctx context.Context, id itss.Identity, k LayoutKey) (layoutKey, error) {
	if err := s.caller(id); err != nil {
		return layoutKey{}, err
	}
	switch {
	case k.UserID == nil || k.UserID == "":
		return layoutKey{}, itss.Errorf(itss.CodeInvalid, "Missing required field: userid")
	case k.TutorialID == "":
		return layoutKey{}, itss.Errorf(itss.CodeInvalid, "Missing required field: tutorialid")
	case k.Role == "":
		return layoutKey{}, itss.Errorf(itss.CodeInvalid, "Missing required field: role")
	}
	uid, err := validate.UserID(k.UserID)
	if err != nil {
		return layoutKey{}, itss.Errorf(itss.CodeInvalid, "Invalid user ID: %s", err.Error())
	}
	if err := checkUUID("tutorial", k.TutorialID); err != nil {
		return layoutKey{}, err
	}
	role, ok := validate.Role(k.Role)
	if !ok {
		return layoutKey{}, itss.Errorf(itss.CodeInvalid, "Invalid role: Must be author or learner")
	}
	if err := s.sameUser(id, uid); err != nil {
		return layoutKey{}, err
	}
	// Layouts only exist for tutorials the user can open.
	t, err := s.readableTutorial(ctx, id, k.TutorialID)
	if err != nil {
		return layoutKey{}, err
	}
	return layoutKey{userID: uid, tutorialID: t.ID, role: string(role)}, nil
}

// SaveLayout stores a user's dock layout of a tutorial as JSON (T18; the
// original wrote empty files).
func (s *Service) SaveLayout(ctx context.Context, id itss.Identity, k LayoutKey, layout json.RawMessage) error {
	key, err := s.checkLayoutKey(ctx, id, k)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if len(layout) == 0 || bytes.Equal(bytes.TrimSpace(layout), []byte("null")) {
		return itss.Errorf(itss.CodeInvalid, "Missing required field: layout")
	}
	if err := json.Compact(&buf, layout); err != nil {
		return itss.Errorf(itss.CodeInvalid, "Invalid layout: must be JSON")
	}
	if err := s.files.PutLayout(ctx, key.userID, key.tutorialID, key.role, buf.Bytes()); err != nil {
		return fmt.Errorf("save layout: %w", err)
	}
	s.event(ctx, "Save Tutorial Layout", "user_id", key.userID, "tutorial_id", key.tutorialID, "role", key.role)
	return nil
}

// Layout returns a saved layout as JSON text, or nil when there is none
// (T19). The original's empty layout files count as none.
func (s *Service) Layout(ctx context.Context, id itss.Identity, k LayoutKey) (*string, error) {
	key, err := s.checkLayoutKey(ctx, id, k)
	if err != nil {
		return nil, err
	}
	b, err := s.files.GetLayout(ctx, key.userID, key.tutorialID, key.role)
	if itss.IsCode(err, itss.CodeNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read layout: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !validJSON(b) {
		return nil, nil
	}
	v := string(b)
	return &v, nil
}
