package tutorialapi

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/config"
	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/openapi"
	"github.com/itss-go/itss/internal/runapi"
	"github.com/itss-go/itss/internal/runner"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
)

// Options configures the router.
type Options struct {
	Service *Service
	// APIVerifier checks session tokens (audience itss-api); ServiceVerifier
	// checks the auth service's tokens (audience itss-service).
	APIVerifier, ServiceVerifier TokenVerifier
	// Runner runs code for the run/compile routes (mounted from runapi) and
	// reports the sandbox in /health; nil leaves those routes out.
	Runner         *runner.Runner
	Limiter        httpapi.Limiter
	Logger         *slog.Logger
	AllowedOrigins []string
	TrustedProxies []netip.Prefix
	Registry       *prometheus.Registry
}

// apiLimit bounds requests per identity (or per IP when anonymous) over all
// tutorial routes: far above what a person clicking through pages needs, low
// enough to stop a script. Code runs have their own, tighter limit (runapi).
const apiLimit = 1200

// NewRouter returns the tutorial service's HTTP handler.
func NewRouter(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	h := &handlers{svc: o.Service}
	r := httpapi.NewRouter(httpapi.Options{Service: "tutorial", Logger: o.Logger, AllowedOrigins: o.AllowedOrigins,
		TrustedProxies: o.TrustedProxies, Registry: o.Registry})

	r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.JSON(w, http.StatusOK, map[string]string{"message": "hello world"})
	})
	r.Get("/health", httpapi.Health(func() map[string]any {
		sandbox := "off"
		if o.Runner != nil {
			sandbox = o.Runner.Isolation()
		}
		auth := "optional"
		if o.Service.AuthRequired() {
			auth = "required"
		}
		return map[string]any{"sandbox": sandbox, "storage": o.Service.StorageName(), "api_auth": auth}
	}))
	r.Get("/openapi.json", openapi.Handler(openapi.Tutorial()))
	r.Get("/ready", httpapi.Ready(
		httpapi.Check{Name: "database", Fn: o.Service.pingDB},
		httpapi.Check{Name: "storage", Fn: o.Service.pingStorage}))

	ident := &identifier{api: o.APIVerifier, service: o.ServiceVerifier, db: o.Service.db, log: o.Logger}
	r.Group(func(r chi.Router) {
		r.Use(ident.middleware)
		if o.Limiter != nil {
			r.Use(httpapi.RateLimit(o.Limiter, "tutorial-api", apiLimit, time.Minute, limitKey))
		}
		// Part B (the frontend's routes) and the README routes of A1.
		r.Get("/tutorials", h.myTutorials)
		r.Get("/tutorials/get_all/{uid}", h.catalogue)
		r.Get("/tutorials/get/{uid}", h.authorTutorials)
		r.Get("/tutorial/{tid}", h.tutorialDetail)
		r.Get("/tutorial/get/{tid}", h.tutorial)
		r.Get("/tutorial/get/{tid}/{page}/{uid}", h.playbackPage)
		r.Post("/tutorial/create", h.createTutorial)
		r.Post(sampleCopyPath, h.copySample)
		r.Post("/tutorial/update/{tid}", h.updateTutorial)
		r.Get("/tutorial/delete/{tid}", h.deleteTutorial)
		r.Post("/upload_recording", h.uploadRecording)
		r.Get("/tutorial_section/get/{sid}", h.section)
		r.Get("/tutorial_section/get/tutorial_id/{tid}", h.sections)
		r.Post("/tutorial_section/create", h.createSection)
		r.Post("/tutorial_section/update/{sid}", h.updateSection)
		r.Get("/tutorial_section/delete/{sid}", h.deleteSection)
		r.Get("/tutorial_section/search/keyword/{keyword}/{sid}", h.searchKeyword)
		r.Post("/save_learner_layout", h.saveLayout)
		r.Post("/get_learner_layout", h.getLayout)
		r.Get("/api/files/{sid}/{name}", h.file)
		r.Get("/api/storage/info", h.storageInfo)
		r.Get("/api/storage/health", h.storageHealth)
		if o.Runner != nil {
			runapi.Mount(r, runapi.Options{Runner: o.Runner, Limiter: o.Limiter,
				RequireIdentity: o.Service.AuthRequired(), Logger: o.Logger})
		}
	})
	return r
}

func limitKey(r *http.Request) string {
	if id := itss.IdentityFrom(r.Context()); !id.Anonymous() {
		return fmt.Sprintf("user:%d", id.UserID)
	}
	return "ip:" + httpapi.ClientKey(r)
}

// New wires the tutorial service from configuration: token verifiers (the
// public key file when it exists, else the auth service's JWKS), the rate
// limiter and the Service. cmd/tutorial calls it.
func New(cfg *config.Config, db *store.DB, files storage.Backend, run *runner.Runner, log *slog.Logger,
	reg *prometheus.Registry) (http.Handler, error) {
	vo := security.VerifierOptions{Issuer: cfg.AuthURL}
	switch _, err := os.Stat(cfg.JWTPublicKeyFile); {
	case cfg.JWTPublicKeyFileSet || err == nil:
		// A key file named explicitly must exist; NewVerifier says so if not.
		vo.PublicKeyFile = cfg.JWTPublicKeyFile
	case errors.Is(err, fs.ErrNotExist):
		// The auth service may not have created its key yet; the JWKS is
		// fetched when the first token arrives.
		vo.JWKSURL = cfg.JWKSURL
		vo.HTTPClient = &http.Client{Timeout: 5 * time.Second}
		log.Info("verifying tokens with the auth service's JWKS", "url", vo.JWKSURL)
	default:
		return nil, fmt.Errorf("public token key: %w", err)
	}
	if cfg.LegacyHS256 {
		vo.LegacySecret = cfg.SecretKey
	}
	apiOpts, svcOpts := vo, vo
	apiOpts.Audience = security.AudienceAPI
	svcOpts.Audience = security.AudienceService
	svcOpts.LegacySecret = nil
	apiV, err := security.NewVerifier(apiOpts)
	if err != nil {
		return nil, fmt.Errorf("token verifier: %w", err)
	}
	svcV, err := security.NewVerifier(svcOpts)
	if err != nil {
		return nil, fmt.Errorf("service token verifier: %w", err)
	}
	limiter, err := httpapi.NewLimiter(cfg.LimiterURI)
	if err != nil {
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	svc := NewService(ServiceOptions{
		DB: db, Storage: files, Runner: run, Logger: log, SecretKey: cfg.SecretKey, PublicURL: cfg.TutorialURL,
		AuthRequired: cfg.APIAuthRequired, SampleTutorialID: cfg.SampleTutorialID, MaxUploadBytes: cfg.MaxUploadBytes,
	})
	return NewRouter(Options{
		Service: svc, APIVerifier: apiV, ServiceVerifier: svcV, Runner: run, Limiter: limiter, Logger: log,
		AllowedOrigins: cfg.AllowedOrigins, TrustedProxies: cfg.TrustedProxies, Registry: reg,
	}), nil
}
