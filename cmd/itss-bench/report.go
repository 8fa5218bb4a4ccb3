package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything written to the JSON file.
type report struct {
	Started   time.Time    `json:"started"`
	Target    string       `json:"target"` // "started" or "external"
	Host      hostInfo     `json:"host"`
	Dataset   dataset      `json:"dataset"`
	Duration  string       `json:"duration_per_scenario"`
	Warmup    string       `json:"warmup_per_scenario"`
	Scenarios []string     `json:"scenarios"`
	Seeds     []seedResult `json:"seeds"`
	Runs      []runResult  `json:"runs"`
}

type hostInfo struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go"`
	OS        string `json:"os"`
}

// seedResult is how long seeding one target took.
type seedResult struct {
	DB            string  `json:"db"`
	Seconds       float64 `json:"seconds"`
	Published     int     `json:"published_tutorials"`
	Recordings    int     `json:"recordings"`
	UploadedBytes int64   `json:"uploaded_bytes"`
}

// runResult is one scenario at one client count on one target.
type runResult struct {
	DB       string  `json:"db"`
	Scenario string  `json:"scenario"`
	Clients  int     `json:"clients"`
	Seconds  float64 `json:"seconds"`
	opStats
	Statuses     map[string]int     `json:"statuses"`
	ErrorSamples []string           `json:"error_samples,omitempty"`
	Ops          map[string]opStats `json:"ops,omitempty"` // per request kind (mixed)
	// Peak resident set (VmHWM) of each service during the measured time;
	// null when the services were not started here.
	AuthPeakRSSKiB     *int64 `json:"auth_peak_rss_kib"`
	TutorialPeakRSSKiB *int64 `json:"tutorial_peak_rss_kib"`
	// The kernel could not reset the peak: the figures are peaks since start.
	RSSPeakSinceStart bool `json:"rss_peak_since_start,omitempty"`
}

func newReport(o *options) *report {
	return &report{
		Started:   time.Now().UTC(),
		Host:      hostInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH},
		Dataset:   o.data,
		Duration:  o.duration.String(),
		Warmup:    o.warmup.String(),
		Scenarios: o.scenarios,
		Seeds:     []seedResult{},
		Runs:      []runResult{},
	}
}

// writeTable prints the one table: a row per target, scenario and client count.
func writeTable(w io.Writer, rep *report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tscenario\tclients\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\terrors\tauth RSS MiB\ttutorial RSS MiB\t")
	for _, r := range rep.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t\n", r.DB, r.Scenario, r.Clients, r.Requests, r.RPS,
			r.P50ms, r.P95ms, r.P99ms, errorsCell(r), rssCell(r.AuthPeakRSSKiB, r.RSSPeakSinceStart),
			rssCell(r.TutorialPeakRSSKiB, r.RSSPeakSinceStart))
	}
	_ = tw.Flush()
	for _, r := range rep.Runs {
		if len(r.ErrorSamples) > 0 {
			fmt.Fprintf(w, "\n%s/%s/%d clients, first errors:\n  %s\n", r.DB, r.Scenario, r.Clients, strings.Join(r.ErrorSamples, "\n  "))
		}
	}
}

// errorsCell shows the count, and how many of them were 429 (rate limits).
func errorsCell(r runResult) string {
	if n := r.Statuses["429"]; n > 0 && r.Errors > 0 {
		return fmt.Sprintf("%d (429: %d)", r.Errors, n)
	}
	return fmt.Sprint(r.Errors)
}

func rssCell(kib *int64, sinceStart bool) string {
	if kib == nil {
		return "n/a"
	}
	s := fmt.Sprintf("%.1f", float64(*kib)/1024)
	if sinceStart {
		s += "*"
	}
	return s
}

func writeResults(o *options, rep *report, stdout io.Writer, log *slog.Logger) {
	fmt.Fprintln(stdout)
	for _, s := range rep.Seeds {
		fmt.Fprintf(stdout, "%s: seeded in %.1f s (%d published tutorials, %d recordings, %.0f MiB uploaded)\n",
			s.DB, s.Seconds, s.Published, s.Recordings, float64(s.UploadedBytes)/(1<<20))
	}
	fmt.Fprintf(stdout, "each scenario: %s measured after %s warm-up; RSS = peak resident set (VmHWM) during the measured time\n\n",
		rep.Duration, rep.Warmup)
	writeTable(stdout, rep)
	if o.jsonPath == "" {
		return
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		err = os.WriteFile(o.jsonPath, append(b, '\n'), 0o644)
	}
	if err != nil {
		log.Error("could not write the JSON results", "file", o.jsonPath, "err", err)
		return
	}
	fmt.Fprintf(stdout, "\nresults written to %s\n", o.jsonPath)
}
