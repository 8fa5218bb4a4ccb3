// Command itss-bench measures the two ITSS services over HTTP, the way the
// React frontend and its users load them.
//
// By default it builds bin/auth and bin/tutorial into a temporary folder,
// starts them on a temporary SQLite database (and again on MySQL when
// ITSS_TEST_MYSQL_DSN is set) with free ports, a temporary DATA_DIR and
// storage roots and API_AUTH=required, seeds a realistic data set through the
// public API (authors, learners, tutorials, Code sections with recordings,
// Question sections, publishing), then drives named scenarios with a number
// of concurrent clients for a fixed time each. It prints one table
// (requests/s, latency percentiles, errors, peak RSS of each service) and
// writes the same figures as JSON.
//
// With --auth-url and --tutorial-url it runs against services that are
// already running (it still seeds its own accounts and tutorials there) and
// reports RSS as n/a.
//
// Rate limits: the services limit logins and registrations per client IP
// (A6). The harness runs the services with TRUSTED_PROXIES=127.0.0.1/32,::1/128
// and gives every simulated person, and every login request, its own
// X-Forwarded-For address from 198.18.0.0/15 (the range RFC 2544 reserves for
// benchmarks), as a reverse proxy would for real clients. Code runs are limited
// per identity, so run scenarios rotate over the seeded learners.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	authURL, tutorialURL string // external mode when both are set

	data     dataset
	clients  []int
	duration time.Duration
	warmup   time.Duration

	scenarios   []string
	seedWorkers int
	jsonPath    string
	repo        string // module root to build from
	binDir      string // prebuilt binaries instead of building
	keep        bool
	serviceEnv  []string
	databases   []string // sqlite, mysql
	serviceLogs string   // LOG_LEVEL of the services started here
	seed        int64
	timeout     time.Duration // per request
}

// dataset is the size of the seeded data.
type dataset struct {
	Authors          int `json:"authors"`
	Learners         int `json:"learners"`
	Tutorials        int `json:"tutorials"`
	Sections         int `json:"sections"`
	QuestionEvery    int `json:"question_every"`    // every Nth section is a Question section (0: none)
	UnpublishedEvery int `json:"unpublished_every"` // every Nth tutorial stays unpublished (0: none)
	RecordingSeconds int `json:"recording_seconds"` // audio length of each Code section
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("itss-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var clients, scenarios, databases string
	var quick bool
	var serviceEnv listFlag
	fs.StringVar(&o.authURL, "auth-url", "", "base URL of a running auth service (with --tutorial-url: start nothing)")
	fs.StringVar(&o.tutorialURL, "tutorial-url", "", "base URL of a running tutorial service")
	fs.IntVar(&o.data.Authors, "authors", 50, "authors to register")
	fs.IntVar(&o.data.Learners, "learners", 200, "learners to register (run scenarios rotate over them: the run limit is per identity)")
	fs.IntVar(&o.data.Tutorials, "tutorials", 500, "tutorials to create, spread over the authors")
	fs.IntVar(&o.data.Sections, "sections", 2000, "sections to create, spread over the tutorials")
	fs.IntVar(&o.data.QuestionEvery, "question-every", 4, "every Nth section is a Question section, the others are Code sections with a recording (0: all Code)")
	fs.IntVar(&o.data.UnpublishedEvery, "unpublished-every", 10, "every Nth tutorial stays unpublished (0: publish all)")
	fs.IntVar(&o.data.RecordingSeconds, "recording-seconds", 30, "length of each recording: 16-bit stereo 48 kHz WAV as the browser records it, about 11.5 MB a minute, sent base64-encoded")
	fs.BoolVar(&quick, "quick", false, "small data set and short scenarios for a smoke run (explicit flags still win)")
	fs.StringVar(&clients, "clients", "8", "concurrent clients, or a comma-separated list to run each scenario at each count")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each scenario")
	fs.StringVar(&scenarios, "scenarios", "all", "comma-separated scenarios: "+strings.Join(scenarioNames(), ", "))
	fs.IntVar(&o.seedWorkers, "seed-workers", 4, "concurrent requests while seeding")
	fs.StringVar(&o.jsonPath, "json", "bench-results.json", "where to write the results as JSON (empty: do not write)")
	fs.StringVar(&o.repo, "repo", "", "module root to build the services from (default: found from the working directory)")
	fs.StringVar(&o.binDir, "bin-dir", "", "folder with prebuilt auth and tutorial binaries (default: go build into a temporary folder)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (databases, storage, service logs) and the MySQL database")
	fs.Var(&serviceEnv, "service-env", "KEY=VALUE added to the environment of the services started here (repeatable)")
	fs.StringVar(&databases, "db", "", "databases to run on: sqlite, mysql or both (default: sqlite, plus mysql when ITSS_TEST_MYSQL_DSN is set)")
	fs.StringVar(&o.serviceLogs, "service-log-level", "info", "LOG_LEVEL of the services started here (their logs go to files in the temporary folder)")
	fs.Int64Var(&o.seed, "seed", 1, "random seed of the data set and the request mix")
	fs.DurationVar(&o.timeout, "request-timeout", 2*time.Minute, "timeout of one request")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: itss-bench [flags]\n\n"+
			"Starts the ITSS services on temporary databases (or uses --auth-url/--tutorial-url), seeds data\n"+
			"through the API and measures named scenarios. Scenarios:\n")
		for _, s := range allScenarios {
			fmt.Fprintf(stderr, "  %-15s %s\n", s.name, s.about)
		}
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickDefaults := map[string]func(){
			"authors":           func() { o.data.Authors = 5 },
			"learners":          func() { o.data.Learners = 50 },
			"tutorials":         func() { o.data.Tutorials = 20 },
			"sections":          func() { o.data.Sections = 60 },
			"recording-seconds": func() { o.data.RecordingSeconds = 2 },
			"duration":          func() { o.duration = 5 * time.Second },
			"warmup":            func() { o.warmup = time.Second },
		}
		for name, apply := range quickDefaults {
			if !set[name] {
				apply()
			}
		}
	}
	o.serviceEnv = serviceEnv

	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--clients: %q is not a positive number", c)
		}
		o.clients = append(o.clients, n)
	}
	if scenarios == "all" || scenarios == "" {
		o.scenarios = scenarioNames()
	} else {
		for _, s := range strings.Split(scenarios, ",") {
			s = strings.TrimSpace(s)
			if findScenario(s) == nil {
				return nil, fmt.Errorf("--scenarios: unknown scenario %q (have %s)", s, strings.Join(scenarioNames(), ", "))
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	if (o.authURL == "") != (o.tutorialURL == "") {
		return nil, errors.New("--auth-url and --tutorial-url go together")
	}
	o.authURL = strings.TrimRight(o.authURL, "/")
	o.tutorialURL = strings.TrimRight(o.tutorialURL, "/")
	switch {
	case o.authURL != "":
		if databases != "" {
			return nil, errors.New("--db has no meaning with --auth-url/--tutorial-url")
		}
	case databases == "":
		o.databases = []string{"sqlite"}
		if os.Getenv(mysqlDSNEnv) != "" {
			o.databases = append(o.databases, "mysql")
		}
	default:
		for _, d := range strings.Split(databases, ",") {
			d = strings.TrimSpace(d)
			if d != "sqlite" && d != "mysql" {
				return nil, fmt.Errorf("--db: %q is neither sqlite nor mysql", d)
			}
			if d == "mysql" && os.Getenv(mysqlDSNEnv) == "" {
				return nil, fmt.Errorf("--db mysql needs %s", mysqlDSNEnv)
			}
			o.databases = append(o.databases, d)
		}
	}
	d := o.data
	switch {
	case d.Authors < 1 || d.Learners < 1:
		return nil, errors.New("--authors and --learners must be at least 1")
	case d.Tutorials < d.Authors:
		return nil, errors.New("--tutorials must be at least --authors (every author writes one)")
	case d.Sections < d.Tutorials:
		return nil, errors.New("--sections must be at least --tutorials (every tutorial has one)")
	case d.RecordingSeconds < 1:
		return nil, errors.New("--recording-seconds must be at least 1")
	case o.seedWorkers < 1:
		return nil, errors.New("--seed-workers must be at least 1")
	case o.duration <= 0:
		return nil, errors.New("--duration must be positive")
	}
	for _, kv := range o.serviceEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("--service-env: %q is not KEY=VALUE", kv)
		}
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "itss-bench:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "itss-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options, log *slog.Logger, stdout io.Writer) error {
	rep := newReport(o)
	if o.authURL != "" {
		rep.Target = "external"
		err := benchTarget(ctx, o, log, target{db: "external", authURL: o.authURL, tutorialURL: o.tutorialURL}, rep)
		writeResults(o, rep, stdout, log)
		return err
	}
	rep.Target = "started"
	tmp, err := os.MkdirTemp("", "itss-bench-")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	if o.keep {
		log.Info("keeping the temporary folder", "dir", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bins, err := binaries(ctx, o, tmp, log)
	if err != nil {
		return err
	}
	for _, db := range o.databases {
		if err := benchStarted(ctx, o, log, bins, filepath.Join(tmp, db), db, rep); err != nil {
			// Print what was measured before the failure too.
			writeResults(o, rep, stdout, log)
			return fmt.Errorf("%s: %w", db, err)
		}
	}
	writeResults(o, rep, stdout, log)
	return nil
}

// benchStarted starts the services on one database, measures and stops them.
func benchStarted(ctx context.Context, o *options, log *slog.Logger, bins binPaths, dir, db string, rep *report) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !o.keep {
		// Recordings of a full data set take gigabytes: free them before the next database.
		defer os.RemoveAll(dir)
	}
	dbURI, cleanup, err := prepareDatabase(ctx, db, dir, o.keep, log)
	if err != nil {
		return err
	}
	defer cleanup()
	svcs, err := startServices(ctx, o, bins, dir, dbURI, log)
	if err != nil {
		return err
	}
	defer func() {
		if serr := svcs.stop(log); serr != nil && err == nil {
			err = serr
		}
	}()
	return benchTarget(ctx, o, log, target{db: db, authURL: svcs.auth.url, tutorialURL: svcs.tutorial.url, svcs: svcs}, rep)
}

// target is one pair of services to measure.
type target struct {
	db                   string
	authURL, tutorialURL string
	svcs                 *services // nil when external
}

// benchTarget seeds one target and runs every scenario at every client count
// on it, appending to rep as it goes.
func benchTarget(ctx context.Context, o *options, log *slog.Logger, t target, rep *report) error {
	c := newClient(t.authURL, t.tutorialURL, o.timeout, slices.Max(o.clients)+o.seedWorkers)
	if err := c.waitHealthy(ctx, 30*time.Second); err != nil {
		return err
	}
	log.Info("seeding", "db", t.db, "authors", o.data.Authors, "learners", o.data.Learners,
		"tutorials", o.data.Tutorials, "sections", o.data.Sections, "recording_seconds", o.data.RecordingSeconds)
	start := time.Now()
	w, err := seed(ctx, c, o.data, o.seedWorkers, o.seed, log)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	sr := seedResult{DB: t.db, Seconds: time.Since(start).Seconds(), Published: len(w.published),
		Recordings: len(w.codeSections), UploadedBytes: w.uploadedBytes}
	rep.Seeds = append(rep.Seeds, sr)
	log.Info("seeded", "db", t.db, "seconds", fmt.Sprintf("%.1f", sr.Seconds), "published", sr.Published,
		"recordings", sr.Recordings, "uploaded_mib", sr.UploadedBytes>>20)

	for _, name := range o.scenarios {
		sc := findScenario(name)
		for _, n := range o.clients {
			if err := ctx.Err(); err != nil {
				return err
			}
			log.Info("scenario", "db", t.db, "name", name, "clients", n, "duration", o.duration)
			res, err := runScenario(ctx, sc, w, c, t, n, o.warmup, o.duration, o.seed)
			if err != nil {
				return fmt.Errorf("scenario %s: %w", name, err)
			}
			rep.Runs = append(rep.Runs, res)
		}
	}
	return nil
}
