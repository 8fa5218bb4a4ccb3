package tutorialapi

import (
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

// TestServiceEnforcesAccessWithoutHTTP: the rules of API.md A3 hold when the
// Service is called directly, as both API families call it.
func TestServiceEnforcesAccessWithoutHTTP(t *testing.T) {
	t.Parallel()
	db := storetestOpen(t)
	req := newEnv(t, db, envOptions{})
	opt := newEnv(t, db, envOptions{optional: true})
	f := req.newTutorial(false)
	ctx := t.Context()
	cases := []struct {
		name string
		err  error
		want itss.Code // "" for success
	}{
		{"anonymous-required/update/unauthorized", req.svc.UpdateTutorial(ctx, itss.Identity{}, f.tid, TutorialUpdate{}), itss.CodeUnauthorized},
		{"anonymous-optional/update/ok", opt.svc.UpdateTutorial(ctx, itss.Identity{}, f.tid, TutorialUpdate{}), ""},
		{"other-author/update/forbidden", req.svc.UpdateTutorial(ctx, req.ident(otherAuthor), f.tid, TutorialUpdate{}), itss.CodeForbidden},
		{"service-token/update/forbidden", req.svc.UpdateTutorial(ctx, itss.Identity{UserID: req.owner, Service: true}, f.tid, TutorialUpdate{}), itss.CodeForbidden},
		{"owner/update/ok", req.svc.UpdateTutorial(ctx, req.ident(ownerC), f.tid, TutorialUpdate{}), ""},
		{"learner/create/forbidden", second(req.svc.CreateTutorial(ctx, req.ident(learnerC), NewTutorial{Name: "x", Language: "java"})), itss.CodeForbidden},
		{"author-naming-another-owner/create/forbidden", second(req.svc.CreateTutorial(ctx, req.ident(ownerC), NewTutorial{Name: "x", Language: "java", UserID: req.other})), itss.CodeForbidden},
		{"learner/unpublished-page/forbidden", second(req.svc.PlaybackPage(ctx, req.ident(learnerC), f.tid, 1, req.learner)), itss.CodeForbidden},
		{"owner/someone-elses-progress/forbidden", second(req.svc.PlaybackPage(ctx, req.ident(ownerC), f.tid, 1, req.learner)), itss.CodeForbidden},
		{"owner/unpublished-page/ok", second(req.svc.PlaybackPage(ctx, req.ident(ownerC), f.tid, 1, req.owner)), ""},
		{"learner/other-users-layout/forbidden", second(req.svc.Layout(ctx, req.ident(learnerC), LayoutKey{UserID: req.owner, TutorialID: f.tid, Role: "author"})), itss.CodeForbidden},
		{"guest/delete-section/forbidden", req.svc.DeleteSection(ctx, req.ident(guestC), f.quiz), itss.CodeForbidden},
		{"user-token/copy-sample/forbidden", second(req.svc.CopySample(ctx, req.ident(ownerC), req.owner)), itss.CodeForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "" && c.err != nil || c.want != "" && !itss.IsCode(c.err, c.want) {
				t.Fatalf("err = %v, want code %q", c.err, c.want)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// TestCatalogueListsOnlyOpenTutorialsWithSections: the publication window is
// start < now < end (end may be open), and an empty tutorial is not listed.
func TestCatalogueListsOnlyOpenTutorialsWithSections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	ctx := t.Context()
	owner := e.ident(ownerC)
	open := e.newTutorial(true)
	hidden := e.newTutorial(false)
	empty, err := e.svc.CreateTutorial(ctx, owner, NewTutorial{Name: "Empty", Language: "python"})
	must(t, err)
	past, future := mustDate(t, "2020-01-01T00:00:00Z"), mustDate(t, "2999-01-01T00:00:00+08:00")
	must(t, e.svc.UpdateTutorial(ctx, owner, empty, TutorialUpdate{SetStart: true, Start: &past}))
	ended := e.newTutorial(false)
	must(t, e.svc.UpdateTutorial(ctx, owner, ended.tid, TutorialUpdate{SetStart: true, Start: &past, SetEnd: true, End: &past}))
	later := e.newTutorial(false)
	must(t, e.svc.UpdateTutorial(ctx, owner, later.tid, TutorialUpdate{SetStart: true, Start: &future}))
	cards, err := e.svc.Catalogue(ctx, e.ident(learnerC), e.learner)
	must(t, err)
	if len(cards) != 1 || cards[0].ID != open.tid {
		t.Fatalf("catalogue %+v, want only %s (not %s)", cards, open.tid, hidden.tid)
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, ok := ParseDate(s)
	if !ok {
		t.Fatalf("date %q", s)
	}
	return d
}

func TestParseDateAcceptsTheFrontendsFormsAsUTC(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 8, 24, 9, 19, 0, 0, time.UTC)
	for _, in := range []string{"2025-08-24T17:19:00+08:00", "2025-08-24T09:19:00Z", "2025-08-24T09:19:00",
		"2025-08-24T09:19", "2025-08-24 09:19:00", "2025-08-24T09:19:00.000Z", "Sun, 24 Aug 2025 09:19:00 GMT"} {
		got, ok := ParseDate(in)
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %v, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "tomorrow", "24/08/2025", "2025-13-01T00:00:00Z"} {
		if _, ok := ParseDate(bad); ok {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}
