package runapi

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/runner"
)

// Benchmarks measure; they assert nothing about speed. Compare
// BenchmarkRunScriptPython with the runner package's BenchmarkPythonBare and
// BenchmarkPythonRunner for what HTTP adds.

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	pct := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.9), "p90-ms")
}

func benchRunner(b *testing.B, workers, queue int) *runner.Runner {
	b.Helper()
	rn, err := runner.New(context.Background(), runner.Options{
		DataDir: b.TempDir(), Workers: workers, Queue: queue, RunTimeout: 60 * time.Second, Logger: quietLogger(), BwrapBin: testBwrap(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rn.Close() })
	return rn
}

func postOnce(b *testing.B, client *http.Client, url, body string) int {
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		b.Error(err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// BenchmarkRunScriptPython is `pass` through the whole HTTP route.
func BenchmarkRunScriptPython(b *testing.B) {
	srv := newServer(b, Options{Runner: benchRunner(b, 2, 8)})
	body := script("pass", "", "main")
	var l latencies
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if s := postOnce(b, srv.Client(), srv.URL+"/run_script/python", body); s != 200 {
			b.Fatalf("status %d", s)
		}
		l.add(time.Since(t0))
	}
	l.report(b)
}

// BenchmarkRunScript16Clients has 16 clients post small programs at once to
// a pool of one worker per CPU with the default queue (4 × workers); runs
// refused with 429 are counted, not retried.
func BenchmarkRunScript16Clients(b *testing.B) {
	srv := newServer(b, Options{Runner: benchRunner(b, 0, 0)})
	body := script("print(sum(range(1000)))", "", "main")
	var ok, busy atomic.Int64
	var l latencies
	b.SetParallelism(8) // × GOMAXPROCS 2 = 16 clients
	t0 := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			switch postOnce(b, srv.Client(), srv.URL+"/run_script/python", body) {
			case 200:
				ok.Add(1)
				l.add(time.Since(start))
			case 429:
				busy.Add(1)
			}
		}
	})
	b.ReportMetric(float64(ok.Load())/time.Since(t0).Seconds(), "runs/s")
	b.ReportMetric(float64(busy.Load())/float64(b.N), "429-ratio")
	l.report(b)
}

// BenchmarkHealthWhileSaturated measures a cheap handler on the same server
// while every worker runs a sleeping program and the queue is full.
func BenchmarkHealthWhileSaturated(b *testing.B) {
	rn := benchRunner(b, 2, 2)
	srv := newServer(b, Options{Runner: rn})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/run_script/python",
				strings.NewReader(script("import time\ntime.sleep(120)", "", "")))
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	b.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(b, "pool saturated", func() bool { running, queued := rn.Busy(); return running == 2 && queued == 2 })
	var l latencies
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		resp, err := srv.Client().Get(srv.URL + "/health")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		l.add(time.Since(t0))
	}
	b.StopTimer()
	l.report(b)
}
