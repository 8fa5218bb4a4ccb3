package tutorialapi

import (
	"log/slog"
	"testing"

	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/runner"
	"github.com/itss-go/itss/internal/security"
)

// TestCodeRunRoutesAreMountedBehindIdentity: the run routes come from
// runapi, inside this service's identity middleware.
func TestCodeRunRoutesAreMountedBehindIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetestOpen(t), envOptions{})
	rn, err := runner.New(t.Context(), runner.Options{Sandbox: runner.SandboxOff, DataDir: t.TempDir(), Workers: 1,
		Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	t.Cleanup(func() { rn.Close() })
	e.h = NewRouter(Options{Service: e.svc, Runner: rn, APIVerifier: e.signer.Verifier(security.AudienceAPI, nil),
		ServiceVerifier: e.signer.Verifier(security.AudienceService, nil), Limiter: httpapi.NewMemoryLimiter()})
	body := map[string]any{"data": "print(6*7)", "input": "", "filename": "answer"}
	wantStatus(t, e.req("POST", "/run_script/python", body, ""), 401)
	wantStatus(t, e.req("POST", "/code/execute", map[string]any{"language": "python", "code": "print(1)"}, ""), 401)
	wantStatus(t, e.req("POST", "/run_script/python", body, "Bearer "+e.serviceToken(e.owner)), 403)
	h := wantStatus(t, e.req("GET", "/health", nil, ""), 200)
	if h["sandbox"] != rn.Isolation() {
		t.Fatalf("health %v, runner isolation %q", h, rn.Isolation())
	}
	if rn.Version("python") == nil {
		t.Skip("python3 not installed: the run itself is runapi's to test")
	}
	m := wantStatus(t, e.req("POST", "/run_script/python", body, learnerC), 200)
	if m["output"] != "42\n" {
		t.Fatalf("run: %v", m)
	}
}
