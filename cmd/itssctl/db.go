package main

import (
	"context"
	"fmt"
	"io"

	"github.com/itss-go/itss/internal/config"
	"github.com/itss-go/itss/internal/sample"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/store"
)

func init() {
	register("db migrate", "apply pending schema migrations", dbMigrate)
	register("db seed", "add the demo accounts and the sample tutorial (idempotent)", dbSeed)
	register("db reset", "drop every table, migrate and seed again (needs --yes)", dbReset)
}

// seedUsers are the original system's seed accounts; they predate the
// password policy, which only registration enforces.
var seedUsers = []struct{ name, roles, email, password string }{
	{"Both Test", "author,learner", "test@its.com", "password"},
	{"Author Test", "author", "testa@its.com", "passworda"},
	{"Learner Test", "learner", "testl@its.com", "passwordl"},
}

// openDB loads the settings and opens the migrated database.
func openDB(ctx context.Context) (*config.Config, *store.DB, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, nil, err
	}
	// OpenMigrated creates a SQLite file's folder itself.
	db, err := store.OpenMigrated(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		return nil, nil, fmt.Errorf("database %s: %w", cfg.Database.Redacted, err)
	}
	return cfg, db, nil
}

func dbMigrate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("db migrate", "Apply pending schema migrations (the services also do this at start-up).", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(out, "database %s is up to date\n", cfg.Database.Redacted)
	return nil
}

func dbSeed(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("db seed", "Add the demo accounts (test@its.com/password, testa@its.com/passworda,\ntestl@its.com/passwordl) and the built-in sample tutorial. Running it again changes nothing.", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return seed(ctx, cfg, db, out)
}

func seed(ctx context.Context, cfg *config.Config, db *store.DB, out io.Writer) error {
	for _, u := range seedUsers {
		hash, err := hashPassword(ctx, u.password)
		if err != nil {
			return fmt.Errorf("hash password of %s: %w", u.email, err)
		}
		created, err := db.EnsureFormUser(ctx, u.name, u.roles, u.email, hash)
		if err != nil {
			return fmt.Errorf("seed %s: %w", u.email, err)
		}
		if created {
			fmt.Fprintf(out, "created user %s (%s)\n", u.email, u.roles)
		} else {
			fmt.Fprintf(out, "user %s already present\n", u.email)
		}
	}
	st, err := storage.New(ctx, storageOptions(cfg))
	if err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	if err := sample.Ensure(ctx, db, st); err != nil {
		return fmt.Errorf("seed sample tutorial: %w", err)
	}
	fmt.Fprintf(out, "sample tutorial %s ready\n", sample.TutorialID)
	return nil
}

func dbReset(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("db reset", "Drop every ITSS table (all users, tutorials and progress are lost), migrate and seed.", "--yes")
	yes := fs.Bool("yes", false, "confirm that all data in the database may be destroyed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*yes {
		return fmt.Errorf("%w: refusing to destroy the database without --yes", errUsage)
	}
	cfg, db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Reset(ctx); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(out, "database %s reset\n", cfg.Database.Redacted)
	return seed(ctx, cfg, db, out)
}

// storageOptions maps the settings onto the storage package's options.
func storageOptions(cfg *config.Config) storage.Options {
	return storage.Options{
		Type:            cfg.Storage.Type,
		RecordingsPath:  cfg.Storage.RecordingsPath,
		LayoutsPath:     cfg.Storage.LayoutsPath,
		AccessKeyID:     cfg.Storage.AccessKeyID,
		SecretAccessKey: cfg.Storage.SecretAccessKey,
		Bucket:          cfg.Storage.Bucket,
		LearnerBucket:   cfg.Storage.LearnerBucket,
		Region:          cfg.Storage.Region,
		Endpoint:        cfg.Storage.Endpoint,
		ForcePathStyle:  cfg.Storage.ForcePathStyle,
	}
}
