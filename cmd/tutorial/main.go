// Command tutorial is the ITSS tutorial service (port 5002): tutorials,
// sections, recordings, layouts, code runs and the sample tutorial.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/itss-go/itss/internal/config"
	"github.com/itss-go/itss/internal/httpapi"
	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/runner"
	"github.com/itss-go/itss/internal/sample"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
	"github.com/itss-go/itss/internal/tutorialapi"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tutorial: "+err.Error())
		os.Exit(2)
	}
	log := httpapi.NewLogger(os.Stderr, cfg.LogLevel).With("service", "tutorial")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("tutorial service stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	db, err := store.OpenMigrated(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return fmt.Errorf("database %s: %w", cfg.Database.Redacted, err)
	}
	defer db.Close()
	s := cfg.Storage
	files, err := storage.New(ctx, storage.Options{
		Type: s.Type, RecordingsPath: s.RecordingsPath, LayoutsPath: s.LayoutsPath,
		AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, Bucket: s.Bucket,
		LearnerBucket: s.LearnerBucket, Region: s.Region, Endpoint: s.Endpoint, ForcePathStyle: s.ForcePathStyle,
		Logger: log,
	})
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if c, ok := files.(io.Closer); ok {
		defer c.Close()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(db.Collector("itss"))
	files = storage.Instrument(files, reg)
	if err := sample.Ensure(ctx, db, files); itss.IsCode(err, itss.CodeUnavailable) {
		// S3 down at start: serve anyway (auto falls back to local disk);
		// the sample is checked again at the next start.
		log.Warn("sample tutorial not checked: file storage unavailable", "err", err)
	} else if err != nil {
		return fmt.Errorf("sample tutorial: %w", err)
	}
	rn, err := runner.New(ctx, runner.Options{
		Sandbox: cfg.Sandbox, RunTimeout: cfg.RunTimeout, CompileTimeout: cfg.CompileTimeout,
		Workers: cfg.RunWorkers, Queue: cfg.RunQueue, PythonBin: cfg.PythonBin, JavaBin: cfg.JavaBin,
		JavacBin: cfg.JavacBin, NodeBin: cfg.NodeBin, DataDir: cfg.DataDir, SandboxUID: cfg.SandboxUID, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("code runner: %w", err)
	}
	defer rn.Close()
	if !cfg.APIAuthRequired {
		log.Warn("API_AUTH=optional: tutorial requests without identity are served as the original served them")
	}
	if err := rn.RegisterMetrics(reg); err != nil {
		return fmt.Errorf("runner metrics: %w", err)
	}
	router, err := tutorialapi.New(cfg, db, files, rn, log, reg)
	if err != nil {
		return err
	}
	log.Info("tutorial service starting", "addr", cfg.TutorialAddr, "database", cfg.Database.Redacted,
		"storage", files.Name(), "sandbox", rn.Isolation())
	return httpapi.Serve(ctx, cfg.TutorialAddr, router, log)
}
