package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"
)

// scenario is one named workload. step sends one request and judges it.
type scenario struct {
	name, about string
	prepare     func(ctx context.Context, w *world, c *client) error
	step        func(ctx context.Context, e *stepEnv) outcome
}

// stepEnv is what one client of a scenario has.
type stepEnv struct {
	w       *world
	c       *client
	rng     *rand.Rand
	worker  int
	workers int
	iter    int
}

// outcome of one request; op names the request kind in mixed workloads.
type outcome struct {
	op     string
	status int
	err    error
}

var allScenarios = []*scenario{
	{name: "login", about: "POST /auth/login of a seeded learner (argon2id verification), each from a new client address",
		step: stepLogin},
	{name: "catalogue", about: "learner catalogue: GET /tutorials/get_all/<uid>", step: stepCatalogue},
	{name: "playback", about: "playback page: GET /tutorial/get/<tid>/<page>/<uid> (records progress)", step: stepPlayback},
	{name: "upload", about: "POST /upload_recording: multipart with the base64 WAV, as the section editor saves",
		step: stepUpload},
	{name: "run-python", about: "POST /run_script/python {data, input, filename}", step: stepRun("python")},
	{name: "run-java", about: "POST /run_script/java {data, input, filename}", step: stepRun("java")},
	{name: "run-javascript", about: "POST /run_script/javascript {data, input, filename}", step: stepRun("javascript")},
	{name: "mixed", about: "a learner's session: /auth/protected, catalogue, playback pages, layouts, audio ranges, keyword search, a few runs",
		prepare: collectRecordingURLs, step: stepMixed},
}

func scenarioNames() []string {
	var out []string
	for _, s := range allScenarios {
		out = append(out, s.name)
	}
	return out
}

func findScenario(name string) *scenario {
	for _, s := range allScenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

// ---- steps -------------------------------------------------------------------------------

func (e *stepEnv) learner() *account { return e.w.learners[e.rng.IntN(len(e.w.learners))] }

func (e *stepEnv) check(op string, r response, err error, ok func(response) bool) outcome {
	if err != nil {
		return outcome{op: op, status: r.status, err: err}
	}
	if !ok(r) {
		return outcome{op: op, status: r.status, err: httpError(op, r)}
	}
	return outcome{op: op, status: r.status}
}

func status200(r response) bool { return r.status == http.StatusOK }

func containing(s string) func(response) bool {
	return func(r response) bool { return r.status == http.StatusOK && bytes.Contains(r.body, []byte(s)) }
}

func stepLogin(ctx context.Context, e *stepEnv) outcome {
	a := e.learner()
	_, r, err := e.c.login(ctx, a, e.w.addrs.take())
	return outcome{op: "login", status: r.status, err: err}
}

func stepCatalogue(ctx context.Context, e *stepEnv) outcome {
	a := e.learner()
	r, err := e.c.do(ctx, call{method: http.MethodGet, url: fmt.Sprintf("%s/tutorials/get_all/%d", e.c.tutorialURL, a.uid),
		token: a.token, ip: a.ip})
	return e.check("catalogue", r, err, containing(`"tutorials"`))
}

func stepPlayback(ctx context.Context, e *stepEnv) outcome {
	a := e.learner()
	t := e.w.published[e.rng.IntN(len(e.w.published))]
	page := 1 + e.rng.IntN(len(t.sections))
	r, err := e.c.do(ctx, call{method: http.MethodGet,
		url:   fmt.Sprintf("%s/tutorial/get/%s/%d/%d", e.c.tutorialURL, t.id, page, a.uid),
		token: a.token, ip: a.ip})
	return e.check("playback", r, err, containing(`"tutorial_name"`))
}

// stepUpload re-saves Code sections; each client takes its own sections so
// two clients never save the same one at once.
func stepUpload(ctx context.Context, e *stepEnv) outcome {
	secs := e.w.codeSections
	if len(secs) == 0 {
		return outcome{op: "upload", err: errors.New("the data set has no Code section (--question-every 1?)")}
	}
	s := secs[(e.worker+e.iter*e.workers)%len(secs)]
	_, err := e.w.upload(ctx, e.c, s)
	if err != nil {
		return outcome{op: "upload", err: err}
	}
	return outcome{op: "upload", status: http.StatusOK}
}

// stepRun runs the language's program as a learner; the run limit is per
// identity, so each request comes from a random seeded learner.
func stepRun(lang string) func(ctx context.Context, e *stepEnv) outcome {
	p := programs[lang]
	return func(ctx context.Context, e *stepEnv) outcome {
		a := e.learner()
		r, err := e.c.do(ctx, jsonCall(e.c.tutorialURL+"/run_script/"+lang, map[string]string{
			"data": p.source, "input": p.input, "filename": p.filename,
		}, a.token, a.ip, ""))
		return e.check("run-"+lang, r, err, func(r response) bool {
			var body struct {
				Output string `json:"output"`
			}
			return r.status == http.StatusOK && json.Unmarshal(r.body, &body) == nil && bytes.Contains([]byte(body.Output), []byte(p.want))
		})
	}
}

// mixed workload weights: what a class of learners does, per request.
var mixedOps = []struct {
	weight int
	run    func(ctx context.Context, e *stepEnv) outcome
}{
	{20, stepProtected}, // PrivateRoute on every page load
	{10, stepCatalogue},
	{30, stepPlayback},
	{10, stepGetLayout},
	{4, stepSaveLayout},
	{14, stepAudio},
	{6, stepSearch},
	{6, stepRun("python")},
}

func stepMixed(ctx context.Context, e *stepEnv) outcome {
	total := 0
	for _, op := range mixedOps {
		total += op.weight
	}
	n := e.rng.IntN(total)
	for _, op := range mixedOps[:len(mixedOps)-1] {
		if n < op.weight {
			return op.run(ctx, e)
		}
		n -= op.weight
	}
	return mixedOps[len(mixedOps)-1].run(ctx, e)
}

func stepProtected(ctx context.Context, e *stepEnv) outcome {
	a := e.learner()
	r, err := e.c.do(ctx, call{method: http.MethodGet, url: e.c.authURL + "/auth/protected", token: a.token, ip: a.ip})
	return e.check("protected", r, err, containing(`"role"`))
}

func (e *stepEnv) layoutBody(a *account, t *tutorialInfo) map[string]any {
	return map[string]any{"userid": strconv.FormatInt(a.uid, 10), "tutorialid": t.id, "role": "learner"}
}

func stepGetLayout(ctx context.Context, e *stepEnv) outcome {
	a := e.learner()
	t := e.w.published[e.rng.IntN(len(e.w.published))]
	r, err := e.c.do(ctx, jsonCall(e.c.tutorialURL+"/get_learner_layout", e.layoutBody(a, t), a.token, a.ip, ""))
	return e.check("get-layout", r, err, containing(`"layout"`))
}

func stepSaveLayout(ctx context.Context, e *stepEnv) outcome {
	a := e.learner()
	t := e.w.published[e.rng.IntN(len(e.w.published))]
	body := e.layoutBody(a, t)
	body["layout"] = map[string]any{"dockbox": map[string]any{"id": "+1", "size": 200, "mode": "horizontal",
		"children": []any{map[string]any{"id": "+2", "size": 200, "tabs": []any{map[string]string{"id": "editor"}}, "activeId": "editor"}}}}
	r, err := e.c.do(ctx, jsonCall(e.c.tutorialURL+"/save_learner_layout", body, a.token, a.ip, ""))
	return e.check("save-layout", r, err, status200)
}

// stepAudio fetches the first 256 KiB of a recording by its signed URL, as
// the <audio> element does (no token: the signature is the permission).
func stepAudio(ctx context.Context, e *stepEnv) outcome {
	e.w.mu.Lock()
	urls := e.w.recordingURLs
	e.w.mu.Unlock()
	if len(urls) == 0 {
		return outcome{op: "audio", err: errors.New("no recording URL (no published Code section?)")}
	}
	a := e.learner()
	r, err := e.c.do(ctx, call{method: http.MethodGet, url: urls[e.rng.IntN(len(urls))], ip: a.ip,
		header: http.Header{"Range": {"bytes=0-262143"}}})
	return e.check("audio", r, err, func(r response) bool { return r.status == http.StatusPartialContent })
}

func stepSearch(ctx context.Context, e *stepEnv) outcome {
	secs := e.w.publishedCode
	if len(secs) == 0 {
		return outcome{op: "search", err: errors.New("no published Code section")}
	}
	a := e.learner()
	s := secs[e.rng.IntN(len(secs))]
	r, err := e.c.do(ctx, call{method: http.MethodGet,
		url:   e.c.tutorialURL + "/tutorial_section/search/keyword/" + url.PathEscape("loop") + "/" + s.id,
		token: a.token, ip: a.ip})
	return e.check("search", r, err, containing(`"result"`))
}

// collectRecordingURLs reads playback pages of published Code sections to
// learn their signed audio URLs (up to 100).
func collectRecordingURLs(ctx context.Context, w *world, c *client) error {
	w.mu.Lock()
	have := len(w.recordingURLs)
	w.mu.Unlock()
	if have > 0 {
		return nil
	}
	a := w.learners[0]
	var urls []string
	for _, t := range w.published {
		for page, s := range t.sections {
			if s.kind != "Code" {
				continue
			}
			r, err := c.do(ctx, call{method: http.MethodGet,
				url:   fmt.Sprintf("%s/tutorial/get/%s/%d/%d", c.tutorialURL, t.id, page+1, a.uid),
				token: a.token, ip: a.ip})
			if err != nil {
				return err
			}
			var body struct {
				Recording *string `json:"recording"`
			}
			if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil {
				return httpError("playback page", r)
			}
			if body.Recording != nil && *body.Recording != "" {
				urls = append(urls, *body.Recording)
			}
			break // one per tutorial spreads the reads over the storage
		}
		if len(urls) >= 100 {
			break
		}
	}
	w.mu.Lock()
	w.recordingURLs = urls
	w.mu.Unlock()
	return nil
}

// ---- running a scenario -------------------------------------------------------------------

type sample struct {
	op      string
	latency time.Duration
	status  int
	err     error
}

// runScenario drives n clients for warmup (not counted) and then duration,
// and measures the services' peak RSS over the measured part.
func runScenario(ctx context.Context, sc *scenario, w *world, c *client, t target, n int,
	warmup, duration time.Duration, seedValue int64) (runResult, error) {
	if sc.prepare != nil {
		if err := sc.prepare(ctx, w, c); err != nil {
			return runResult{}, err
		}
	}
	if warmup > 0 {
		drive(ctx, sc, w, c, n, warmup, seedValue^0x5eed)
	}
	sinceStart := false
	if t.svcs != nil {
		for _, s := range []*service{t.svcs.auth, t.svcs.tutorial} {
			if !resetPeakRSS(s.pid()) {
				sinceStart = true
			}
		}
	}
	start := time.Now()
	samples := drive(ctx, sc, w, c, n, duration, seedValue)
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return runResult{}, err
	}
	res := summarize(samples, elapsed)
	res.DB, res.Scenario, res.Clients = t.db, sc.name, n
	if t.svcs != nil {
		res.RSSPeakSinceStart = sinceStart
		if v, err := peakRSS(t.svcs.auth.pid()); err == nil {
			res.AuthPeakRSSKiB = &v
		}
		if v, err := peakRSS(t.svcs.tutorial.pid()); err == nil {
			res.TutorialPeakRSSKiB = &v
		}
	}
	return res, nil
}

// drive runs n clients, each sending one request after another until the
// time is up, and returns every request's sample.
func drive(ctx context.Context, sc *scenario, w *world, c *client, n int, d time.Duration, seedValue int64) []sample {
	deadline := time.Now().Add(d)
	per := make([][]sample, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &stepEnv{w: w, c: c, rng: rand.New(rand.NewPCG(uint64(seedValue), uint64(i))), worker: i, workers: n}
			for ; time.Now().Before(deadline) && ctx.Err() == nil; e.iter++ {
				t0 := time.Now()
				o := sc.step(ctx, e)
				per[i] = append(per[i], sample{op: o.op, latency: time.Since(t0), status: o.status, err: o.err})
			}
		}()
	}
	wg.Wait()
	var all []sample
	for _, s := range per {
		all = append(all, s...)
	}
	return all
}

// opStats are the figures of one kind of request.
type opStats struct {
	Requests int     `json:"requests"`
	RPS      float64 `json:"requests_per_second"`
	P50ms    float64 `json:"p50_ms"`
	P95ms    float64 `json:"p95_ms"`
	P99ms    float64 `json:"p99_ms"`
	Errors   int     `json:"errors"`
}

func summarize(samples []sample, elapsed time.Duration) runResult {
	res := runResult{Seconds: elapsed.Seconds(), Statuses: map[string]int{}}
	byOp := map[string][]sample{}
	for _, s := range samples {
		byOp[s.op] = append(byOp[s.op], s)
		key := strconv.Itoa(s.status)
		if s.status == 0 {
			key = "transport"
		}
		res.Statuses[key]++
		if s.err != nil && len(res.ErrorSamples) < 5 {
			res.ErrorSamples = append(res.ErrorSamples, s.err.Error())
		}
	}
	res.opStats = stats(samples, elapsed)
	if len(byOp) > 1 {
		res.Ops = map[string]opStats{}
		for op, ss := range byOp {
			res.Ops[op] = stats(ss, elapsed)
		}
	}
	return res
}

func stats(samples []sample, elapsed time.Duration) opStats {
	lat := make([]time.Duration, 0, len(samples))
	st := opStats{Requests: len(samples)}
	for _, s := range samples {
		lat = append(lat, s.latency)
		if s.err != nil {
			st.Errors++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if elapsed > 0 {
		st.RPS = float64(len(samples)) / elapsed.Seconds()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	st.P50ms, st.P95ms, st.P99ms = ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(percentile(lat, 99))
	return st
}

// percentile is the nearest-rank percentile of sorted durations (0 for none).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}
