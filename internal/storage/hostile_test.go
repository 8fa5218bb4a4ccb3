package storage

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/itss-go/itss/internal/itss"
)

var (
	hostileIDs = []string{
		"", ".", "..", "../" + secA[3:], secA + "/..", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd",
		"%2e%2e", secA[:16] + "/" + secA[17:], secA[:16] + "%2F" + secA[19:], secA[:31] + "\x00",
		secA + "\x00", strings.Repeat("a", 100000), "/etc", `..\..\windows`, secA + "\n", " " + secA,
		".staging-" + secA, secA[:8] + "-" + secA[8:12] + "-" + secA[12:16] + "-" + secA[16:20] + "/" + secA[20:],
	}
	hostileNames = []string{
		"", ".", "..", "../recording.wav", "..%2Frecording.wav", "recording.wav\x00.txt", "/etc/passwd",
		"recording.wav/", "a b.wav", strings.Repeat("x", 100000), ".complete", "layout.json",
		"..\\recording.wav", "RECORDING.WAV", "recording.wav/../../x",
	}
	hostileRoles = []string{"", "admin", "Author", "../learner", "learner/..", "learner\x00", "%2e%2e"}
)

// TestHostileKeysAreInvalidOnEveryMethod sends traversal and injection
// attempts through every id and file-name parameter of every backend and
// checks each is refused as Invalid before any I/O: nothing is written in
// the roots, beside them, or in the buckets.
func TestHostileKeysAreInvalidOnEveryMethod(t *testing.T) {
	t.Parallel()
	type env struct {
		b    Backend
		opts Options
		f    *fakeS3
	}
	mk := map[string]func(t *testing.T) env{
		"local": func(t *testing.T) env {
			l := newTestLocal(t)
			return env{b: l, opts: rootsOf(l)}
		},
		"s3": func(t *testing.T) env {
			f := startFakeS3(t)
			return env{b: newTestS3(t, f), f: f}
		},
		"auto": func(t *testing.T) env {
			f := startFakeS3(t)
			a := newTestAuto(t, f)
			return env{b: a, opts: rootsOf(a.local), f: f}
		},
	}
	for name, mkEnv := range mk {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := mkEnv(t)
			b := e.b
			ctx := context.Background()
			st, err := b.Stage(ctx, secA)
			must(t, err)
			defer st.Abort(ctx)

			try := func(what string, err error) {
				t.Helper()
				if !itss.IsCode(err, itss.CodeInvalid) {
					t.Errorf("%s: got %v, want Invalid", what, err)
				}
			}
			fileCalls := func(id, n string) {
				try("PutFile", b.PutFile(ctx, id, n, strings.NewReader("pwned")))
				_, _, err := b.Open(ctx, id, n)
				try("Open", err)
				_, err = b.ReadFile(ctx, id, n)
				try("ReadFile", err)
				_, err = b.Stat(ctx, id, n)
				try("Stat", err)
				_, err = b.PresignURL(ctx, id, n, 0)
				try("PresignURL", err)
				_, err = b.LocalFile(ctx, id, n)
				try("LocalFile", err)
			}
			for _, id := range hostileIDs {
				fileCalls(id, "recording.wav")
				_, err := b.List(ctx, id)
				try("List", err)
				try("DeleteSection", b.DeleteSection(ctx, id))
				try("CopySection from", b.CopySection(ctx, id, secB))
				try("CopySection to", b.CopySection(ctx, secB, id))
				_, err = b.Stage(ctx, id)
				try("Stage", err)
				try("PutLayout tutorial", b.PutLayout(ctx, 6, id, "learner", []byte("{}")))
				_, err = b.GetLayout(ctx, 6, id, "learner")
				try("GetLayout tutorial", err)
			}
			for _, n := range hostileNames {
				fileCalls(secA, n)
				try("Stage.Put", st.Put(ctx, n, strings.NewReader("pwned")))
			}
			for _, role := range hostileRoles {
				try("PutLayout role", b.PutLayout(ctx, 6, tutID, role, []byte("{}")))
				_, err := b.GetLayout(ctx, 6, tutID, role)
				try("GetLayout role", err)
			}
			for _, uid := range []int64{0, -1, -6} {
				try("PutLayout user", b.PutLayout(ctx, uid, tutID, "learner", []byte("{}")))
				_, err := b.GetLayout(ctx, uid, tutID, "learner")
				try("GetLayout user", err)
			}
			must(t, st.Abort(ctx))

			if e.opts.RecordingsPath != "" {
				for _, root := range []string{e.opts.RecordingsPath, e.opts.LayoutsPath} {
					// Only a fallback spool folder may exist, and it must be empty.
					filepath.WalkDir(filepath.Dir(root), func(p string, d fs.DirEntry, err error) error {
						if err == nil && !d.IsDir() {
							t.Errorf("file written: %s", p)
						}
						return nil
					})
				}
			}
			if e.f != nil {
				s := e.b.(interface{ bucketsClient() *S3 }).bucketsClient()
				for _, bucket := range []string{testBucket, testLayoutBucket} {
					out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
					must(t, err)
					for _, o := range out.Contents {
						t.Errorf("object written: %s/%s", bucket, aws.ToString(o.Key))
					}
				}
			}
		})
	}
}

func (s *S3) bucketsClient() *S3   { return s }
func (a *Auto) bucketsClient() *S3 { return a.s3 }

func rootsOf(l *Local) Options {
	return Options{RecordingsPath: l.rec.Name(), LayoutsPath: l.lay.Name()}
}

// snapshot records every file under dir with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			must(t, err)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

// TestPlantedSymlinksCannotReachOutsideTheRoots plants symlinks in the
// storage roots pointing outside them (absolute and relative, at section,
// file and layout level) and checks that reads are refused (Invalid or
// NotFound) and that no operation reads or changes anything outside.
func TestPlantedSymlinksCannotReachOutsideTheRoots(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"local", "auto"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b Backend
			var l *Local
			if name == "local" {
				l = newTestLocal(t)
				b = l
			} else {
				a := newTestAuto(t, startFakeS3(t))
				l, b = a.local, a
			}
			ctx := context.Background()
			outside := t.TempDir()
			for _, f := range []string{"recording.wav", "description.md", "secret.txt"} {
				must(t, os.WriteFile(filepath.Join(outside, f), []byte("outside "+f), 0o644))
			}
			before := snapshot(t, outside)
			rec, lay := l.rec.Name(), l.lay.Name()
			rel, err := filepath.Rel(rec, outside)
			must(t, err)

			must(t, os.Symlink(outside, filepath.Join(rec, secA))) // absolute, section level
			must(t, os.Symlink(rel, filepath.Join(rec, secB)))     // relative, section level
			must(t, os.Mkdir(filepath.Join(rec, secC), 0o755))     // file level
			must(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(rec, secC, "recording.wav")))
			must(t, os.Symlink(filepath.Join("..", rel, "secret.txt"), filepath.Join(rec, secC, "description.md")))
			must(t, os.Symlink(outside, filepath.Join(lay, "6"))) // layout level

			refused := func(what string, err error) {
				t.Helper()
				if !itss.IsCode(err, itss.CodeInvalid) && !itss.IsCode(err, itss.CodeNotFound) {
					t.Errorf("%s: got %v, want Invalid or NotFound", what, err)
				}
			}
			for _, sec := range []string{secA, secB, secC} {
				for _, n := range []string{"recording.wav", "description.md"} {
					data, err := b.ReadFile(ctx, sec, n)
					refused("ReadFile "+sec+"/"+n, err)
					if strings.HasPrefix(string(data), "outside") {
						t.Fatalf("read outside content through %s/%s", sec, n)
					}
					_, _, err = b.Open(ctx, sec, n)
					refused("Open", err)
					_, err = b.Stat(ctx, sec, n)
					refused("Stat", err)
					_, err = b.LocalFile(ctx, sec, n)
					refused("LocalFile", err)
				}
			}
			for _, sec := range []string{secA, secB} {
				files, err := b.List(ctx, sec)
				if err == nil && len(files) > 0 {
					t.Errorf("List(%s) through a symlink = %v", sec, names(files))
				}
				// Writes either fail or replace the link inside the root;
				// both are fine as long as nothing outside changes.
				b.PutFile(ctx, sec, "description.md", strings.NewReader("new"))
			}
			b.PutFile(ctx, secC, "recording.wav", strings.NewReader("new"))
			_, err = b.GetLayout(ctx, 6, tutID, "learner")
			refused("GetLayout", err)
			b.PutLayout(ctx, 6, tutID, "learner", []byte("{}"))
			st, err := b.Stage(ctx, secB)
			must(t, err)
			must(t, st.Put(ctx, "recording.wav", strings.NewReader("staged")))
			b.Stage(ctx, secA)
			st.Commit(ctx)
			b.DeleteSection(ctx, secA)
			b.DeleteSection(ctx, secC)
			b.CopySection(ctx, secB, secA)

			after := snapshot(t, outside)
			if len(after) != len(before) {
				t.Fatalf("files outside the root changed: before %v after %v", before, after)
			}
			for p, c := range before {
				if after[p] != c {
					t.Fatalf("%s changed to %q", p, after[p])
				}
			}
		})
	}
}

// goldenFiles locates the files the original system wrote, kept in the
// shared folder beside the repository.
func goldenFiles(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"../../../shared/golden/_files", "/work/shared/golden/_files"} {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	t.Fatal("shared/golden/_files not found beside the repository")
	return ""
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	must(t, filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}))
}

// TestLegacyStorageFolderIsServedAsIs copies what the Flask system wrote
// into fresh roots and reads it back byte for byte, with the local backend
// and with auto (whose local-first reads serve it while S3 is empty).
func TestLegacyStorageFolderIsServedAsIs(t *testing.T) {
	t.Parallel()
	golden := goldenFiles(t)
	srcSec := filepath.Join(golden, "recordings-after-upload-"+secA)
	entries, err := os.ReadDir(srcSec)
	must(t, err)
	if len(entries) != 13 {
		t.Fatalf("golden section has %d files", len(entries))
	}
	for _, name := range []string{"local", "auto"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions(t, "")
			copyTree(t, srcSec, filepath.Join(opts.RecordingsPath, secA))
			copyTree(t, filepath.Join(golden, "layouts-after-save-6"), filepath.Join(opts.LayoutsPath, "6"))
			l, err := NewLocal(opts)
			must(t, err)
			t.Cleanup(func() { l.Close() })
			var b Backend = l
			if name == "auto" {
				f := startFakeS3(t)
				b = newTestAutoWith(t, newTestS3(t, f), l)
			}
			ctx := context.Background()
			files, err := b.List(ctx, secA)
			must(t, err)
			if len(files) != len(entries) {
				t.Fatalf("List = %v", names(files))
			}
			for _, e := range entries {
				want, err := os.ReadFile(filepath.Join(srcSec, e.Name()))
				must(t, err)
				got, err := b.ReadFile(ctx, secA, e.Name())
				must(t, err)
				if string(got) != string(want) {
					t.Errorf("%s differs from the original's bytes", e.Name())
				}
			}
			tr := read(t, b, secA, "transcript.json")
			if !strings.HasPrefix(tr, `"[{\"text\":\"\",\"timestamp\":0`) {
				t.Errorf("transcript not in its double-encoded form: %.40s", tr)
			}
			info, err := b.Stat(ctx, secA, "recording.wav")
			must(t, err)
			if info.Size != 1155116 {
				t.Errorf("recording.wav size = %d", info.Size)
			}
			f, err := b.LocalFile(ctx, secA, "recording.wav")
			must(t, err)
			f.Close()
			if u, err := b.PresignURL(ctx, secA, "recording.wav", 0); err != nil || u != "" {
				t.Errorf("PresignURL of a local file = %q, %v; want \"\" (served locally)", u, err)
			}
			// The original's broken layout save left an empty file: no layout.
			_, err = b.GetLayout(ctx, 6, tutID, "learner")
			wantCode(t, err, itss.CodeNotFound)
		})
	}
}
