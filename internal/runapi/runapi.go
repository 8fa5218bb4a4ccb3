// Package runapi serves code execution over HTTP: the original frontend's
// POST /run_script/<language> and POST /compile_script/<language> (API.md
// Part B T11/T12 as changed by A10), and the documented POST /code/execute
// (A1). Every answer carries "output" as a string, errors included, because
// the frontend appends it to its console and never resets its spinner
// otherwise.
package runapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/runner"
)

// Options configure the routes.
type Options struct {
	Runner *runner.Runner
	// Limiter counts runs per identity (per client IP when anonymous):
	// RunLimit per RunWindow (API.md A6). Nil disables the count; the
	// runner's pool still bounds concurrency.
	Limiter httpapi.Limiter
	// RequireIdentity refuses anonymous callers with 401 (API_AUTH=required).
	RequireIdentity bool
	Logger          *slog.Logger
}

// Rate of A6: 30 runs a minute.
const (
	RunLimit  = 30
	RunWindow = time.Minute
)

// Mount adds the routes to r.
func Mount(r chi.Router, o Options) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &handler{o: o}
	r.Post("/run_script/{language}", h.runScript)
	r.Post("/compile_script/{language}", h.compileScript)
	r.Post("/code/execute", h.execute)
}

type handler struct{ o Options }

// scriptBody is the frontend's body (sent as text/plain).
type scriptBody struct {
	Data     string  `json:"data"`
	Input    string  `json:"input"`
	FileName *string `json:"filename"`
}

// executeBody is the body of POST /code/execute.
type executeBody struct {
	Language string `json:"language"`
	Code     string `json:"code"`
	Input    string `json:"input"`
}

// supported reports whether language is one the routes accept at all; the
// runner still answers 503 when its interpreter is missing.
func supported(language string) bool {
	return language == runner.Python || language == runner.JavaScript || language == runner.Java
}

// outcome accumulates what the event line says about one request.
type outcome struct {
	action   string
	language string
	result   string
	res      *runner.Result
}

func (h *handler) runScript(w http.ResponseWriter, r *http.Request) {
	ev := &outcome{action: "Run Script", language: chi.URLParam(r, "language")}
	defer h.event(r, ev)
	req, ok := h.scriptRequest(w, r, ev, true)
	if !ok {
		return
	}
	res, err := h.o.Runner.Run(r.Context(), req)
	if err != nil {
		h.fail(w, r, ev, err)
		return
	}
	ev.res = &res
	httpapi.JSON(w, http.StatusOK, runScriptBody(res))
}

func (h *handler) compileScript(w http.ResponseWriter, r *http.Request) {
	ev := &outcome{action: "Compile Script", language: chi.URLParam(r, "language")}
	defer h.event(r, ev)
	req, ok := h.scriptRequest(w, r, ev, false)
	if !ok {
		return
	}
	res, err := h.o.Runner.Compile(r.Context(), req)
	if err != nil {
		h.fail(w, r, ev, err)
		return
	}
	ev.res = &res
	httpapi.JSON(w, http.StatusOK, compileScriptBody(res))
}

func (h *handler) execute(w http.ResponseWriter, r *http.Request) {
	ev := &outcome{action: "Execute Code"}
	defer h.event(r, ev)
	if !h.allowed(w, r, ev, false) {
		return
	}
	var body executeBody
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		h.fail(w, r, ev, err)
		return
	}
	ev.language = body.Language
	if !supported(body.Language) {
		h.fail(w, r, ev, itss.Errorf(itss.CodeInvalid, "Unsupported language"))
		return
	}
	if !h.allowed(w, r, ev, true) {
		return
	}
	res, err := h.o.Runner.Run(r.Context(), runner.Request{Language: body.Language, Source: body.Code, Stdin: body.Input})
	if err != nil {
		h.fail(w, r, ev, err)
		return
	}
	ev.res = &res
	httpapi.JSON(w, http.StatusOK, executeResponse(res))
}

// scriptRequest checks access, the language and the body of T11/T12 in the
// original's order, answering the error itself when something is wrong.
func (h *handler) scriptRequest(w http.ResponseWriter, r *http.Request, ev *outcome, withInput bool) (runner.Request, bool) {
	if !h.allowed(w, r, ev, false) {
		return runner.Request{}, false
	}
	if !supported(ev.language) {
		h.fail(w, r, ev, itss.Errorf(itss.CodeInvalid, "Unsupported language"))
		return runner.Request{}, false
	}
	var body scriptBody
	if err := httpapi.Decode(r, &body, httpapi.JSONLimit); err != nil {
		h.fail(w, r, ev, err)
		return runner.Request{}, false
	}
	req := runner.Request{Language: ev.language, Source: body.Data}
	if withInput {
		req.Stdin = body.Input
	}
	if body.FileName != nil {
		// The original's rule ([A-Za-z0-9._-]+), bounded in length: the
		// name replaces the temporary one in the program's output.
		if *body.FileName == "" || !runner.ValidFileName(*body.FileName) {
			h.fail(w, r, ev, itss.Errorf(itss.CodeInvalid, "Invalid filename"))
			return runner.Request{}, false
		}
		req.FileName = *body.FileName
	}
	// Python and JavaScript compile without touching the runner's pool, so
	// they need not count against the run rate either.
	if withInput || ev.language == runner.Java {
		if !h.allowed(w, r, ev, true) {
			return runner.Request{}, false
		}
	}
	return req, true
}

// allowed checks the caller's identity (count=false) or counts one run
// against the caller's rate (count=true), answering 401 or 429 itself.
func (h *handler) allowed(w http.ResponseWriter, r *http.Request, ev *outcome, count bool) bool {
	id := itss.IdentityFrom(r.Context())
	if !count {
		if h.o.RequireIdentity && id.Anonymous() {
			h.fail(w, r, ev, itss.Errorf(itss.CodeUnauthorized, "Authentication required"))
			return false
		}
		return true
	}
	if h.o.Limiter == nil {
		return true
	}
	key := "ip:" + httpapi.ClientKey(r)
	if !id.Anonymous() {
		key = "user:" + strconv.FormatInt(id.UserID, 10)
	}
	ok, retry, err := h.o.Limiter.Allow(r.Context(), "run:"+key, RunLimit, RunWindow)
	if err != nil {
		// A limiter outage must not stop learners; the pool still bounds
		// the load.
		httpapi.LoggerFrom(r.Context()).Warn("rate limiter unavailable, run allowed", "err", err)
		return true
	}
	if !ok {
		ev.result = "rate_limited"
		secs := max(int64(math.Ceil(retry.Seconds())), 1)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		msg := fmt.Sprintf("Too many runs: %d per minute", RunLimit)
		httpapi.ErrorStatus(w, r, http.StatusTooManyRequests, msg, map[string]any{"output": msg, "retry_after": secs})
		return false
	}
	return true
}

// fail answers err in the one error shape plus "output".
func (h *handler) fail(w http.ResponseWriter, r *http.Request, ev *outcome, err error) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away and its run was stopped; nobody reads this.
		ev.result = "cancelled"
		return
	}
	status := httpapi.StatusOf(err)
	msg := itss.ErrorMessage(err)
	switch {
	case status == http.StatusTooManyRequests:
		// The pool and its queue are full: come back shortly.
		ev.result = "busy"
		w.Header().Set("Retry-After", "1")
	case status == http.StatusInternalServerError:
		ev.result = "internal"
		httpapi.LoggerFrom(ctx).ErrorContext(ctx, "run failed", "err", err)
		msg = "Internal error."
	case status >= 500:
		ev.result = "unavailable"
		httpapi.LoggerFrom(ctx).WarnContext(ctx, "run refused", "err", err)
	default:
		if ev.result == "" {
			ev.result = "rejected"
		}
	}
	httpapi.ErrorStatus(w, r, status, msg, map[string]any{"output": msg})
}

// event logs one line per request: language, duration, outcome and the
// limits the program hit; never the source.
func (h *handler) event(r *http.Request, ev *outcome) {
	attrs := []any{"language", ev.language}
	if res := ev.res; res != nil {
		switch {
		case res.Interpreted:
			ev.result = "interpreted"
		case res.TimedOut:
			ev.result = "timeout"
		case res.Phase == "compile" && !res.OK():
			ev.result = "compile_error"
		case !res.OK():
			ev.result = "error"
		default:
			ev.result = "ok"
		}
		attrs = append(attrs,
			"phase", res.Phase,
			"duration_ms", res.Duration.Milliseconds(),
			"compile_ms", res.CompileDuration.Milliseconds(),
			"exit_code", res.ExitCode,
			"cached", res.Cached,
			"limits", res.LimitsHit,
		)
	}
	attrs = append(attrs, "outcome", ev.result)
	httpapi.Event(r.Context(), h.o.Logger, ev.action, attrs...)
}

// seconds formats a limit as the original's messages did ("10").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// output is what the learner's console shows for a finished program: stdout
// on success; stdout then stderr otherwise (A10); a note when a limit cut
// the program short; the timeout message when the wall clock did.
func output(res runner.Result) string {
	if res.TimedOut {
		if res.Phase == "compile" {
			return "Compilation timeout after " + seconds(res.Timeout) + " seconds"
		}
		return "Script execution timeout after " + seconds(res.Timeout) + " seconds"
	}
	var b strings.Builder
	b.WriteString(res.Stdout)
	if !res.OK() {
		b.WriteString(res.Stderr)
		if res.Phase == "compile" {
			// What Java's source launcher, which the original used, adds.
			b.WriteString("error: compilation failed\n")
		}
	}
	for _, l := range res.LimitsHit {
		if note := limitNote(l); note != "" && (!res.OK() || l == "output") {
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
				b.WriteByte('\n')
			}
			b.WriteString(note)
		}
	}
	return b.String()
}

func limitNote(limit string) string {
	switch limit {
	case "memory":
		return "[Program stopped: memory limit exceeded]\n"
	case "processes":
		return "[Limit on processes and threads reached]\n"
	case "cpu":
		return "[Program stopped: CPU time limit exceeded]\n"
	case "file_size":
		return "[Program stopped: file size limit exceeded]\n"
	case "output":
		return "[Output truncated]\n"
	}
	return ""
}

// runScriptBody is T11's answer: {"output"} plus "time" on success, and the
// original's trailing "\r\n" after Java's output.
func runScriptBody(res runner.Result) map[string]any {
	out := output(res)
	if !res.OK() {
		return map[string]any{"output": out}
	}
	if res.Language == runner.Java {
		out += "\r\n"
	}
	return map[string]any{"output": out, "time": (res.Duration + res.CompileDuration).Seconds()}
}

// compileScriptBody is T12's answer.
func compileScriptBody(res runner.Result) map[string]any {
	switch {
	case res.Interpreted && res.Language == runner.Python:
		return map[string]any{"output": "Python is an interpreted language - no compilation needed", "success": true}
	case res.Interpreted:
		return map[string]any{"output": "JavaScript is an interpreted language - no compilation needed", "success": true}
	case res.TimedOut:
		return map[string]any{"output": output(res)}
	case res.OK():
		return map[string]any{"output": "Compilation successful", "success": true, "time": res.Duration.Seconds()}
	}
	return map[string]any{"output": res.Stdout + res.Stderr, "success": false}
}

// executeResult is the answer of POST /code/execute.
type executeResult struct {
	Output    string  `json:"output"`
	Stdout    string  `json:"stdout"`
	Stderr    string  `json:"stderr"`
	ExitCode  *int    `json:"exit_code"` // null when the wall clock stopped the program
	Time      float64 `json:"time"`
	TimedOut  bool    `json:"timed_out"`
	Truncated bool    `json:"truncated"`
}

func executeResponse(res runner.Result) executeResult {
	out := executeResult{
		Output:    output(res),
		Stdout:    res.Stdout,
		Stderr:    res.Stderr,
		Time:      (res.Duration + res.CompileDuration).Seconds(),
		TimedOut:  res.TimedOut,
		Truncated: res.Truncated,
	}
	if !res.TimedOut {
		code := res.ExitCode
		out.ExitCode = &code
	}
	return out
}
