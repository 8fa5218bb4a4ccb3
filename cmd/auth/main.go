// Command auth is the ITSS auth service (port 5001): registration, logins,
// token refresh and the session's identity.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/authapi"
	"github.com/itss-go/itss/internal/config"
	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/security"
	"github.com/itss-go/itss/internal/store"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "auth: "+err.Error())
		os.Exit(2)
	}
	log := httpapi.NewLogger(os.Stderr, cfg.LogLevel).With("service", "auth")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("auth service stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	db, err := store.OpenMigrated(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return fmt.Errorf("database %s: %w", cfg.Database.Redacted, err)
	}
	defer db.Close()
	signer, err := security.LoadOrCreateSigner(cfg.JWTPrivateKeyFile, cfg.AuthURL, log)
	if err != nil {
		return fmt.Errorf("load signing key: %w", err)
	}
	var legacy []byte
	if cfg.LegacyHS256 {
		legacy = cfg.SecretKey
		log.Warn("LEGACY_HS256_TOKENS=true: HS256 tokens of the original system are accepted")
	}
	limiter, err := httpapi.NewLimiter(cfg.LimiterURI)
	if err != nil {
		return fmt.Errorf("rate limiter: %w", err)
	}
	if !cfg.APIAuthRequired {
		log.Warn("API_AUTH=optional: /getUserDetails answers requests without identity as the original did")
	}
	svc := &authapi.Service{
		DB:           db,
		Hasher:       security.NewHasher(security.DefaultArgon2Params(), runtime.NumCPU()),
		Signer:       signer,
		Access:       signer.Verifier(security.AudienceAPI, legacy),
		LegacySecret: legacy,
		Backoff:      &authapi.Backoff{Limiter: limiter, Log: log},
		Log:          log,
		TutorialURL:  cfg.TutorialURL,
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
	}
	if cfg.GoogleClientID != "" {
		svc.Google = security.NewGoogleVerifier(cfg.GoogleIssuerURL, cfg.GoogleClientID, &http.Client{Timeout: 10 * time.Second})
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(db.Collector("itss"))
	router := authapi.NewRouter(authapi.Options{
		Service:         svc,
		Limiter:         limiter,
		Logger:          log,
		AllowedOrigins:  cfg.AllowedOrigins,
		TrustedProxies:  cfg.TrustedProxies,
		Registry:        reg,
		APIAuthRequired: cfg.APIAuthRequired,
		Ready:           []httpapi.Check{{Name: "database", Fn: db.Ping}},
	})
	log.Info("auth service starting", "addr", cfg.AuthAddr, "database", cfg.Database.Redacted)
	return httpapi.ServeWith(ctx, cfg.AuthAddr, router, log, serverOptions())
}

// serverOptions tightens the shared defaults, whose 15 minutes per request
// are for the tutorial service's recording uploads: every auth body is at
// most 1 MiB, so a client trickling one should not hold a connection for
// long. A minute still covers a login queued behind a flood of password
// hashes plus the 5 s sample copy of a guest author.
func serverOptions() httpapi.ServerOptions {
	o := httpapi.DefaultServerOptions()
	o.ReadTimeout = time.Minute
	o.WriteTimeout = time.Minute
	return o
}
