package tutorialapi

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/store/storetest"
)

// benchTutorials creates n published tutorials of two sections each, the
// first with a recording, on SQLite.
func benchTutorials(b *testing.B, n int) (*env, []fixture) {
	b.Helper()
	e := newEnv(b, storetest.Open(b), envOptions{noLimit: true})
	fs := make([]fixture, n)
	for i := range fs {
		fs[i] = e.newTutorial(true)
	}
	return e, fs
}

// BenchmarkPlaybackPage measures T8, the learner's page load (a Code page:
// row reads, eleven stored files, a signed link, a progress write).
func BenchmarkPlaybackPage(b *testing.B) {
	e, fs := benchTutorials(b, 100)
	paths := make([]string, len(fs))
	for i, f := range fs {
		paths[i] = fmt.Sprintf("/tutorial/get/%s/1/%d", f.tid, e.learner)
	}
	tok := "Bearer " + e.token(learnerC)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if w := e.req("GET", paths[i%len(paths)], nil, tok); w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
		i++
	}
}

// BenchmarkCatalogue measures T2 with 100 published tutorials.
func BenchmarkCatalogue(b *testing.B) {
	e, _ := benchTutorials(b, 100)
	path := fmt.Sprintf("/tutorials/get_all/%d", e.learner)
	tok := "Bearer " + e.token(learnerC)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if w := e.req("GET", path, nil, tok); w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkUpload100MB streams 100 MB of audio (133 MB of base64 in a form
// field) through /upload_recording to local storage, and reports the bytes
// allocated and the peak live heap while it runs.
func BenchmarkUpload100MB(b *testing.B) {
	const size = 100 << 20
	e := newEnv(b, storetest.Open(b), envOptions{noLimit: true})
	f := e.newTutorial(false)
	tok := "Bearer " + e.token(ownerC)
	b.SetBytes(size)
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		fields := recordingFields(f.code, nil)
		fields = append(fields, field{"file", base64Stream(size)})
		body, ct := multipartBody(fields)
		runtime.GC()
		base := heapLive()
		stop := make(chan struct{})
		done := make(chan uint64)
		go samplePeak(stop, done)
		w := e.req("POST", "/upload_recording", body, tok, "Content-Type", ct)
		close(stop)
		if p := <-done; p > base && p-base > peak {
			peak = p - base
		}
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// samplePeak reports the highest live heap seen until stop is closed.
func samplePeak(stop <-chan struct{}, done chan<- uint64) {
	var peak uint64
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		if h := heapLive(); h > peak {
			peak = h
		}
		select {
		case <-stop:
			done <- peak
			return
		case <-t.C:
		}
	}
}
