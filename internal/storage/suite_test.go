package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

// TestBackendSuite runs the same behaviour tests against every backend:
// local on a temp dir, s3 against gofakes3 over real HTTP, and auto over both.
func TestBackendSuite(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) Backend{
		"local": func(t *testing.T) Backend { return newTestLocal(t) },
		"s3":    func(t *testing.T) Backend { return newTestS3(t, startFakeS3(t)) },
		"auto":  func(t *testing.T) Backend { return newTestAuto(t, startFakeS3(t)) },
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runSuite(t, mk)
		})
	}
}

func names(infos []Info) []string {
	out := make([]string, len(infos))
	for i, f := range infos {
		out[i] = f.Name
	}
	return out
}

func put(t *testing.T, b Backend, sec, name, content string) {
	t.Helper()
	must(t, b.PutFile(context.Background(), sec, name, strings.NewReader(content)))
}

func read(t *testing.T, b Backend, sec, name string) string {
	t.Helper()
	data, err := b.ReadFile(context.Background(), sec, name)
	must(t, err)
	return string(data)
}

func stageSet(t *testing.T, b Backend, sec string, files map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := b.Stage(ctx, sec)
	must(t, err)
	for n, c := range files {
		must(t, st.Put(ctx, n, strings.NewReader(c)))
	}
	must(t, st.Commit(ctx))
}

func runSuite(t *testing.T, mk func(t *testing.T) Backend) {
	ctx := context.Background()

	t.Run("PutFileThenReadReturnsSameBytes", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		body := "\"[{\\\"text\\\":\\\"héllo\\\"}]\"\x00\xff"
		put(t, b, secA, "transcript.json", body)
		if got := read(t, b, secA, "transcript.json"); got != body {
			t.Fatalf("ReadFile = %q, want %q", got, body)
		}
		rc, info, err := b.Open(ctx, secA, "transcript.json")
		must(t, err)
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != body || info.Size != int64(len(body)) || info.Name != "transcript.json" {
			t.Fatalf("Open = %q %+v", got, info)
		}
		st, err := b.Stat(ctx, secA, "transcript.json")
		must(t, err)
		if st.Size != int64(len(body)) || st.ModTime.IsZero() {
			t.Fatalf("Stat = %+v", st)
		}
	})

	t.Run("DashedSectionIDWorks", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secDashed, "description.md", "dashed")
		if got := read(t, b, secDashed, "description.md"); got != "dashed" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("PutFileReplacesContent", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "description.md", "old")
		put(t, b, secA, "description.md", "new")
		if got := read(t, b, secA, "description.md"); got != "new" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("MissingFileIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "description.md", "x")
		_, err := b.ReadFile(ctx, secA, "recording.wav")
		wantCode(t, err, itss.CodeNotFound)
		_, _, err = b.Open(ctx, secB, "recording.wav")
		wantCode(t, err, itss.CodeNotFound)
		_, err = b.Stat(ctx, secB, "recording.wav")
		wantCode(t, err, itss.CodeNotFound)
		_, err = b.GetLayout(ctx, 5, tutID, "author")
		wantCode(t, err, itss.CodeNotFound)
	})

	t.Run("ListReturnsSortedFilesAndEmptyForUnknownSection", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "recording.wav", "RIFF")
		put(t, b, secA, "code_content.txt", "print(1)")
		put(t, b, secA, "description.md", "d")
		got, err := b.List(ctx, secA)
		must(t, err)
		if want := []string{"code_content.txt", "description.md", "recording.wav"}; !slices.Equal(names(got), want) {
			t.Fatalf("List = %v, want %v", names(got), want)
		}
		if got[0].Size != int64(len("print(1)")) {
			t.Fatalf("size = %d", got[0].Size)
		}
		empty, err := b.List(ctx, secB)
		must(t, err)
		if empty == nil || len(empty) != 0 {
			t.Fatalf("List(unknown) = %#v, want empty non-nil", empty)
		}
	})

	t.Run("DeleteSectionRemovesEveryFileAndMissingSectionIsFine", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "recording.wav", "RIFF")
		put(t, b, secA, "keystroke.json", "[]")
		put(t, b, secB, "keystroke.json", "other")
		must(t, b.DeleteSection(ctx, secA))
		got, err := b.List(ctx, secA)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("after delete List = %v", names(got))
		}
		_, err = b.ReadFile(ctx, secA, "recording.wav")
		wantCode(t, err, itss.CodeNotFound)
		if read(t, b, secB, "keystroke.json") != "other" {
			t.Fatal("delete touched another section")
		}
		must(t, b.DeleteSection(ctx, secC))
	})

	t.Run("CopySectionMakesTargetHoldExactlySourceFiles", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "recording.wav", "audio")
		put(t, b, secA, "description.md", "desc")
		put(t, b, secB, "question.json", "stale")
		must(t, b.CopySection(ctx, secA, secB))
		got, err := b.List(ctx, secB)
		must(t, err)
		if want := []string{"description.md", "recording.wav"}; !slices.Equal(names(got), want) {
			t.Fatalf("target files = %v, want %v", names(got), want)
		}
		if read(t, b, secB, "recording.wav") != "audio" || read(t, b, secA, "description.md") != "desc" {
			t.Fatal("copy content mismatch or source changed")
		}
	})

	t.Run("StageCommitReplacesWholeSet", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		stageSet(t, b, secA, map[string]string{"recording.wav": "old audio", "transcript.json": "old", "description.md": "old"})
		st, err := b.Stage(ctx, secA)
		must(t, err)
		must(t, st.Put(ctx, "description.md", strings.NewReader("new")))
		must(t, st.Put(ctx, "keystroke.json", strings.NewReader("[1]")))
		// Nothing is visible before Commit.
		if got := read(t, b, secA, "description.md"); got != "old" {
			t.Fatalf("staged content visible before commit: %q", got)
		}
		_, err = b.Stat(ctx, secA, "keystroke.json")
		wantCode(t, err, itss.CodeNotFound)
		must(t, st.Commit(ctx))
		got, err := b.List(ctx, secA)
		must(t, err)
		if want := []string{"description.md", "keystroke.json"}; !slices.Equal(names(got), want) {
			t.Fatalf("after commit = %v, want %v (old files not staged must be gone)", names(got), want)
		}
		if read(t, b, secA, "description.md") != "new" {
			t.Fatal("commit did not replace content")
		}
		// Abort after Commit is a no-op; further use fails.
		must(t, st.Abort(ctx))
		if err := st.Put(ctx, "description.md", strings.NewReader("late")); err == nil {
			t.Fatal("Put after Commit succeeded")
		}
		if err := st.Commit(ctx); err == nil {
			t.Fatal("second Commit succeeded")
		}
	})

	t.Run("StageAbortKeepsOldSet", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		stageSet(t, b, secA, map[string]string{"recording.wav": "old audio", "description.md": "old"})
		st, err := b.Stage(ctx, secA)
		must(t, err)
		must(t, st.Put(ctx, "description.md", strings.NewReader("new")))
		must(t, st.Abort(ctx))
		got, err := b.List(ctx, secA)
		must(t, err)
		if want := []string{"description.md", "recording.wav"}; !slices.Equal(names(got), want) {
			t.Fatalf("after abort = %v, want %v", names(got), want)
		}
		if read(t, b, secA, "description.md") != "old" {
			t.Fatal("abort changed content")
		}
	})

	t.Run("InterruptedUploadLeavesPreviousRecordingIntact", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		stageSet(t, b, secA, map[string]string{"recording.wav": "old audio", "description.md": "old"})
		st, err := b.Stage(ctx, secA)
		must(t, err)
		must(t, st.Put(ctx, "description.md", strings.NewReader("new")))
		err = st.Put(ctx, "recording.wav", &failingReader{n: 200 << 10, err: errClientGone})
		if !errors.Is(err, errClientGone) {
			t.Fatalf("Put with broken stream = %v, want client error", err)
		}
		must(t, st.Abort(ctx))
		if read(t, b, secA, "recording.wav") != "old audio" || read(t, b, secA, "description.md") != "old" {
			t.Fatal("previous recording damaged")
		}
		// A plain PutFile with a broken stream leaves the old file too.
		err = b.PutFile(ctx, secA, "recording.wav", &failingReader{n: 100 << 10, err: errClientGone})
		if !errors.Is(err, errClientGone) {
			t.Fatalf("PutFile with broken stream = %v", err)
		}
		if read(t, b, secA, "recording.wav") != "old audio" {
			t.Fatal("failed PutFile replaced the file")
		}
	})

	t.Run("ConcurrentStagesOnDifferentSectionsDoNotMix", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		secs := []string{secA, secB, secC, secDashed}
		var wg sync.WaitGroup
		errs := make(chan error, len(secs)*3)
		for round := range 3 {
			for _, sec := range secs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := b.Stage(ctx, sec)
					if err != nil {
						errs <- err
						return
					}
					for _, n := range []string{"description.md", "keystroke.json", "recording.wav"} {
						if err := st.Put(ctx, n, strings.NewReader(fmt.Sprintf("%s/%s/%d", sec, n, round))); err != nil {
							errs <- err
							st.Abort(ctx)
							return
						}
					}
					errs <- st.Commit(ctx)
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		for _, sec := range secs {
			got, err := b.List(ctx, sec)
			must(t, err)
			if len(got) != 3 {
				t.Fatalf("%s holds %v", sec, names(got))
			}
			var round string
			for _, f := range got {
				c := read(t, b, sec, f.Name)
				prefix := sec + "/" + f.Name + "/"
				if !strings.HasPrefix(c, prefix) {
					t.Fatalf("%s/%s holds %q: files mixed between sections", sec, f.Name, c)
				}
				r := strings.TrimPrefix(c, prefix)
				if round != "" && r != round {
					t.Fatalf("%s mixes rounds %s and %s", sec, round, r)
				}
				round = r
			}
		}
	})

	t.Run("LargeStreamedPutRoundTrips", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		const size = 1<<20 + 12345 // many multipart parts at the test part size
		want := sha256.New()
		io.Copy(want, &patternReader{n: size})
		must(t, b.PutFile(ctx, secA, "recording.wav", &patternReader{n: size}))
		st, err := b.Stage(ctx, secB)
		must(t, err)
		must(t, st.Put(ctx, "recording.wav", &patternReader{n: size}))
		must(t, st.Commit(ctx))
		for _, sec := range []string{secA, secB} {
			rc, info, err := b.Open(ctx, sec, "recording.wav")
			must(t, err)
			got := sha256.New()
			n, _ := io.Copy(got, rc)
			rc.Close()
			if n != size || info.Size != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
				t.Fatalf("%s: read %d bytes (info %d), hash match %v", sec, n, info.Size, bytes.Equal(got.Sum(nil), want.Sum(nil)))
			}
		}
	})

	t.Run("ExactPartSizeAndEmptyBodiesRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		for _, size := range []int64{0, testPartSize, 2 * testPartSize} {
			must(t, b.PutFile(ctx, secA, "recording.wav", &patternReader{n: size}))
			info, err := b.Stat(ctx, secA, "recording.wav")
			must(t, err)
			if info.Size != size {
				t.Fatalf("size %d stored as %d", size, info.Size)
			}
		}
	})

	t.Run("CancelledContextStopsPut", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := b.PutFile(cctx, secA, "recording.wav", &patternReader{n: 1 << 20}); err == nil {
			t.Fatal("PutFile with cancelled context succeeded")
		}
		_, err := b.Stat(ctx, secA, "recording.wav")
		wantCode(t, err, itss.CodeNotFound)
	})

	t.Run("LayoutsRoundTripPerUserTutorialRole", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		author := []byte(`{"dockbox":{"mode":"horizontal","children":[]}}`)
		learner := []byte(`{"global":{},"layout":{"type":"row","children":[]}}`)
		must(t, b.PutLayout(ctx, 5, tutID, "author", author))
		must(t, b.PutLayout(ctx, 5, tutID, "learner", learner))
		got, err := b.GetLayout(ctx, 5, tutID, "author")
		must(t, err)
		if !bytes.Equal(got, author) {
			t.Fatalf("author layout = %s", got)
		}
		got, err = b.GetLayout(ctx, 5, tutID, "learner")
		must(t, err)
		if !bytes.Equal(got, learner) {
			t.Fatalf("learner layout = %s", got)
		}
		_, err = b.GetLayout(ctx, 6, tutID, "learner")
		wantCode(t, err, itss.CodeNotFound)
		must(t, b.PutLayout(ctx, 5, tutID, "author", learner))
		got, _ = b.GetLayout(ctx, 5, tutID, "author")
		if !bytes.Equal(got, learner) {
			t.Fatal("layout not replaced")
		}
	})

	t.Run("PresignURLAndLocalFileMatchWhereFilesLive", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "recording.wav", "RIFF-audio")
		u, err := b.PresignURL(ctx, secA, "recording.wav", time.Hour)
		must(t, err)
		f, ferr := b.LocalFile(ctx, secA, "recording.wav")
		switch b.Name() {
		case "local":
			must(t, ferr)
			defer f.Close()
			if u != "" {
				t.Fatalf("local PresignURL = %q, want empty", u)
			}
		default: // s3, and auto while S3 is up
			wantCode(t, ferr, itss.CodeNotFound)
			if !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "X-Amz-Expires=3600") {
				t.Fatalf("PresignURL = %q", u)
			}
			resp, err := http.Get(u)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "RIFF-audio" {
				t.Fatalf("GET presigned = %d %q", resp.StatusCode, body)
			}
		}
	})

	t.Run("HealthyAndInfoHasNoPaths", func(t *testing.T) {
		t.Parallel()
		b := mk(t)
		put(t, b, secA, "description.md", "12345")
		must(t, b.Health(ctx))
		info := b.Info(ctx)
		if info["backend_type"] != b.Name() {
			t.Fatalf("Info backend_type = %v", info["backend_type"])
		}
		js, _ := json.Marshal(info)
		if strings.Contains(string(js), "/tmp") || strings.Contains(string(js), "storage/") || strings.Contains(string(js), t.TempDir()[:5]) {
			t.Fatalf("Info leaks a path: %s", js)
		}
	})
}
