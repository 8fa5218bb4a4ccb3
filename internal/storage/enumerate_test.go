package storage

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/itss-go/itss/internal/itss"
)

// enumerable is what the enumeration additions give every backend.
type enumerable interface {
	Backend
	ListSections(ctx context.Context) ([]string, error)
	ListLayouts(ctx context.Context) ([]LayoutKey, error)
	OpenLayout(ctx context.Context, k LayoutKey) (io.ReadCloser, Info, error)
	StatLayout(ctx context.Context, k LayoutKey) (Info, error)
}

func TestListSectionsAndLayoutsReturnEverythingStoredSorted(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) enumerable{
		"local": func(t *testing.T) enumerable { return newTestLocal(t) },
		"s3":    func(t *testing.T) enumerable { return newTestS3(t, startFakeS3(t)) },
		"auto":  func(t *testing.T) enumerable { return newTestAuto(t, startFakeS3(t)) },
		"s3-one-bucket": func(t *testing.T) enumerable {
			o := testOptions(t, startFakeS3(t).URL())
			o.LearnerBucket = o.Bucket
			s, err := NewS3(context.Background(), o)
			must(t, err)
			return s
		},
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := mk(t)
			secs, err := b.ListSections(ctx)
			must(t, err)
			lays, err := b.ListLayouts(ctx)
			must(t, err)
			if len(secs) != 0 || len(lays) != 0 {
				t.Fatalf("empty store lists %v and %v", secs, lays)
			}

			put(t, b, secB, "description.md", "b")
			put(t, b, secA, "description.md", "a")
			put(t, b, secA, "recording.wav", "audio")
			put(t, b, secDashed, "question.json", "{}")
			// An abandoned stage is not a section.
			st, err := b.Stage(ctx, secC)
			must(t, err)
			must(t, st.Put(ctx, "description.md", strings.NewReader("staged")))
			must(t, b.PutLayout(ctx, 12, tutID, "learner", []byte(`{"l":1}`)))
			must(t, b.PutLayout(ctx, 6, tutID, "author", []byte(`{"a":1}`)))
			must(t, b.PutLayout(ctx, 6, tutID, "learner", []byte(`{"b":1}`)))

			secs, err = b.ListSections(ctx)
			must(t, err)
			want := []string{secB, secA, secDashed}
			slices.Sort(want)
			if !slices.Equal(secs, want) {
				t.Errorf("ListSections = %v, want %v", secs, want)
			}
			lays, err = b.ListLayouts(ctx)
			must(t, err)
			wantLays := []LayoutKey{{6, tutID, "author"}, {6, tutID, "learner"}, {12, tutID, "learner"}}
			if !slices.Equal(lays, wantLays) {
				t.Errorf("ListLayouts = %v, want %v", lays, wantLays)
			}
			must(t, st.Abort(ctx))

			rc, info, err := b.OpenLayout(ctx, LayoutKey{12, tutID, "learner"})
			must(t, err)
			got, err := io.ReadAll(rc)
			rc.Close()
			must(t, err)
			if string(got) != `{"l":1}` || info.Size != 7 || info.Name != "layout.json" {
				t.Errorf("OpenLayout = %q, %+v", got, info)
			}
			info, err = b.StatLayout(ctx, LayoutKey{6, tutID, "author"})
			must(t, err)
			if info.Size != 7 {
				t.Errorf("StatLayout size = %d, want 7", info.Size)
			}
			_, err = b.StatLayout(ctx, LayoutKey{7, tutID, "author"})
			wantCode(t, err, itss.CodeNotFound)
			_, _, err = b.OpenLayout(ctx, LayoutKey{7, tutID, "author"})
			wantCode(t, err, itss.CodeNotFound)
			_, err = b.StatLayout(ctx, LayoutKey{6, "../x", "author"})
			wantCode(t, err, itss.CodeInvalid)
			_, _, err = b.OpenLayout(ctx, LayoutKey{6, tutID, "admin"})
			wantCode(t, err, itss.CodeInvalid)
		})
	}
}

func TestPutLayoutStreamRoundTripsOnLocalAndS3(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) interface {
		enumerable
		PutLayoutStream(ctx context.Context, k LayoutKey, r io.Reader) error
	}{
		"local": func(t *testing.T) interface {
			enumerable
			PutLayoutStream(ctx context.Context, k LayoutKey, r io.Reader) error
		} {
			return newTestLocal(t)
		},
		"s3": func(t *testing.T) interface {
			enumerable
			PutLayoutStream(ctx context.Context, k LayoutKey, r io.Reader) error
		} {
			return newTestS3(t, startFakeS3(t))
		},
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := mk(t)
			k := LayoutKey{9, tutID, "learner"}
			must(t, b.PutLayoutStream(ctx, k, strings.NewReader(`{"dock":true}`)))
			got, err := b.GetLayout(ctx, 9, tutID, "learner")
			must(t, err)
			if string(got) != `{"dock":true}` {
				t.Fatalf("GetLayout after PutLayoutStream = %q", got)
			}
			// Large enough to take the multipart path on S3.
			must(t, b.PutLayoutStream(ctx, k, &patternReader{n: 3*testPartSize + 5}))
			info, err := b.StatLayout(ctx, k)
			must(t, err)
			if info.Size != 3*testPartSize+5 {
				t.Fatalf("size after replace = %d", info.Size)
			}
			err = b.PutLayoutStream(ctx, LayoutKey{0, tutID, "learner"}, strings.NewReader("{}"))
			wantCode(t, err, itss.CodeInvalid)
			lays, err := b.ListLayouts(ctx)
			must(t, err)
			if !slices.Equal(lays, []LayoutKey{k}) {
				t.Fatalf("ListLayouts = %v", lays)
			}
		})
	}
}

// TestOpenLayoutReturnsEmptyLegacyFilesAsStored: GetLayout hides the empty
// files the original's broken save wrote, but a migration must copy them.
func TestOpenLayoutReturnsEmptyLegacyFilesAsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := testOptions(t, "")
	dir := filepath.Join(opts.LayoutsPath, "6", tutID, "learner")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "layout.json"), nil, 0o644))
	// Stray entries that are not layouts.
	must(t, os.MkdirAll(filepath.Join(opts.LayoutsPath, "007", tutID, "learner"), 0o755))
	must(t, os.WriteFile(filepath.Join(opts.LayoutsPath, "007", tutID, "learner", "layout.json"), []byte("{}"), 0o644))
	must(t, os.WriteFile(filepath.Join(opts.LayoutsPath, "6", tutID, "notes.txt"), []byte("x"), 0o644))
	l, err := NewLocal(opts)
	must(t, err)
	t.Cleanup(func() { l.Close() })

	lays, err := l.ListLayouts(ctx)
	must(t, err)
	k := LayoutKey{6, tutID, "learner"}
	if !slices.Equal(lays, []LayoutKey{k}) {
		t.Fatalf("ListLayouts = %v, want only %v", lays, k)
	}
	_, err = l.GetLayout(ctx, 6, tutID, "learner")
	wantCode(t, err, itss.CodeNotFound)
	rc, info, err := l.OpenLayout(ctx, k)
	must(t, err)
	rc.Close()
	if info.Size != 0 {
		t.Fatalf("OpenLayout size = %d, want 0", info.Size)
	}
}

func TestAutoListsTheUnionOfS3AndLocalCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newTestAuto(t, startFakeS3(t))
	put(t, a.s3, secA, "description.md", "on s3")
	put(t, a.local, secB, "description.md", "local only")
	put(t, a.s3, secC, "description.md", "both")
	put(t, a.local, secC, "description.md", "both, newer")
	must(t, a.s3.PutLayout(ctx, 1, tutID, "author", []byte("{}")))
	must(t, a.local.PutLayout(ctx, 2, tutID, "author", []byte("{}")))
	must(t, a.s3.PutLayout(ctx, 3, tutID, "author", []byte(`{"s3":1}`)))
	must(t, a.local.PutLayout(ctx, 3, tutID, "author", []byte(`{"local":1}`)))

	secs, err := a.ListSections(ctx)
	must(t, err)
	want := []string{secA, secB, secC}
	slices.Sort(want)
	if !slices.Equal(secs, want) {
		t.Errorf("ListSections = %v, want %v", secs, want)
	}
	lays, err := a.ListLayouts(ctx)
	must(t, err)
	if wantLays := []LayoutKey{{1, tutID, "author"}, {2, tutID, "author"}, {3, tutID, "author"}}; !slices.Equal(lays, wantLays) {
		t.Errorf("ListLayouts = %v, want %v", lays, wantLays)
	}
	info, err := a.StatLayout(ctx, LayoutKey{3, tutID, "author"})
	must(t, err)
	if info.Size != int64(len(`{"local":1}`)) {
		t.Errorf("StatLayout read S3 before the newer local copy (size %d)", info.Size)
	}
}

func TestAutoListingFailsWhenS3IsDown(t *testing.T) {
	t.Parallel()
	f := startFakeS3(t)
	a := newTestAuto(t, f)
	f.Stop()
	_, err := a.ListSections(context.Background())
	wantCode(t, err, itss.CodeUnavailable)
	_, err = a.ListLayouts(context.Background())
	wantCode(t, err, itss.CodeUnavailable)
}

func TestParseLayoutKeyAcceptsOnlyCanonicalLayoutKeys(t *testing.T) {
	t.Parallel()
	good := "6/" + tutID + "/learner/layout.json"
	if k, ok := parseLayoutKey(good); !ok || k != (LayoutKey{6, tutID, "learner"}) || k.String() != good {
		t.Fatalf("parseLayoutKey(%q) = %v, %v", good, k, ok)
	}
	for _, bad := range []string{
		"06/" + tutID + "/learner/layout.json",
		"0/" + tutID + "/learner/layout.json",
		"-1/" + tutID + "/learner/layout.json",
		"6/" + tutID + "/admin/layout.json",
		"6/" + tutID + "/learner/other.json",
		"6/" + tutID + "/learner/x/layout.json",
		"6/xyz/learner/layout.json",
		secA + "/description.md",
		".staging/" + secA + "/tok/description.md",
	} {
		if k, ok := parseLayoutKey(bad); ok {
			t.Errorf("parseLayoutKey(%q) = %v, want rejected", bad, k)
		}
	}
}

func TestLocalDiskSpaceReportsBothRoots(t *testing.T) {
	t.Parallel()
	l := newTestLocal(t)
	spaces, err := l.DiskSpace()
	must(t, err)
	if len(spaces) != 2 || spaces[0].Root != "recordings" || spaces[1].Root != "layouts" {
		t.Fatalf("DiskSpace = %+v", spaces)
	}
	for _, s := range spaces {
		if s.Total == 0 || s.Free > s.Total {
			t.Errorf("%s: free %d of %d", s.Root, s.Free, s.Total)
		}
	}
}
