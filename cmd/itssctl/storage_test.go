package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/itss-go/itss/internal/itss"
	"github.com/itss-go/itss/internal/migrate"
	"github.com/itss-go/itss/internal/storage"
	"github.com/itss-go/itss/internal/storage/storagetest"
	"github.com/itss-go/itss/internal/store"
)

const (
	tutOne   = "858c03b2fb62409681e60fb11f373d50"
	tutTwo   = "11111111111111111111111111111111"
	secOne1  = "67bc56ba8e8245c9aa2d8b294ed68bf9"
	secOne2  = "3642e21a42cf4f77a051bcc050a1285b"
	secTwo1  = "7c5ffd1b-9067-45e6-9495-db857bc62d03"
	secLoose = "c339a37a9fc1445a98de584b696a3d84" // on storage only
)

// env points the settings at fresh temporary folders, a fresh SQLite
// database and a fake S3, the way an operator's environment would.
type env struct {
	dir, dbPath, s3URL string
}

func setupEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, dbPath: filepath.Join(dir, "db", "itss.db"), s3URL: storagetest.FakeS3(t)}
	for k, v := range map[string]string{
		"APP_SECRET_KEY":                strings.Repeat("s", 40),
		"SQLALCHEMY_DATABASE_URI":       "sqlite:///" + e.dbPath,
		"STORAGE_TYPE":                  "local",
		"LOCAL_STORAGE_RECORDINGS_PATH": filepath.Join(dir, "storage", "recordings"),
		"LOCAL_STORAGE_LAYOUTS_PATH":    filepath.Join(dir, "storage", "layouts"),
		"S3_ENDPOINT":                   e.s3URL,
		"S3_BUCKET_NAME":                storagetest.Bucket,
		"S3_LEARNER_BUCKET_NAME":        storagetest.LearnerBucket,
		"S3_FORCE_PATH_STYLE":           "true",
		"ACCESS_KEY_ID":                 "test",
		"SECRET_ACCESS_KEY":             "test",
		"AWS_REGION":                    "us-east-1",
		"DATA_DIR":                      filepath.Join(dir, "data"),
	} {
		t.Setenv(k, v)
	}
	return e
}

// setLocalRoot points the local storage settings at dir/<name>.
func (e *env) setLocalRoot(t *testing.T, name string) storage.Options {
	t.Helper()
	o := storage.Options{
		RecordingsPath: filepath.Join(e.dir, name, "recordings"),
		LayoutsPath:    filepath.Join(e.dir, name, "layouts"),
	}
	t.Setenv("LOCAL_STORAGE_RECORDINGS_PATH", o.RecordingsPath)
	t.Setenv("LOCAL_STORAGE_LAYOUTS_PATH", o.LayoutsPath)
	return o
}

func (e *env) localOptions() storage.Options {
	return storage.Options{RecordingsPath: os.Getenv("LOCAL_STORAGE_RECORDINGS_PATH"), LayoutsPath: os.Getenv("LOCAL_STORAGE_LAYOUTS_PATH")}
}

func (e *env) s3(t *testing.T) *storage.S3 {
	t.Helper()
	s, err := storage.NewS3(context.Background(), storagetest.S3Options(t, e.s3URL))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedDB creates two tutorials with sections (plus sectionIDs extra ones in
// tutorial one, e.g. an id storage refuses).
func (e *env) seedDB(t *testing.T, extra ...string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must(t, db.Migrate(ctx))
	u, _, err := db.CreateFormUser(ctx, "Ada", "author", "ada@its.com", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", nil)
	must(t, err)
	lang := "python"
	for tut, secs := range map[string][]string{tutOne: append([]string{secOne1, secOne2}, extra...), tutTwo: {secTwo1}} {
		must(t, db.CreateTutorial(ctx, itss.Tutorial{ID: tut, Name: "T", Language: "python", UserID: u.ID}))
		for _, s := range secs {
			must(t, db.CreateSection(ctx, itss.Section{ID: s, Name: "S", TutorialType: itss.SectionCode, Language: &lang, TutorialID: tut}))
		}
	}
}

// content is what seedStorage writes: section -> file -> body, and layouts.
var content = map[string]map[string]string{
	secOne1:  {"description.md": "# One", "recording.wav": strings.Repeat("RIFF", 5000), "transcript.json": `"[]"`},
	secOne2:  {"question.json": `{"quizTitle":"q"}`},
	secTwo1:  {"code_content.txt": "print(2)"},
	secLoose: {"description.md": "not in the database"},
}

var layouts = map[storage.LayoutKey]string{
	{UserID: 6, TutorialID: tutOne, Role: "learner"}: `{"one":1}`,
	{UserID: 6, TutorialID: tutTwo, Role: "author"}:  `{"two":2}`,
}

func seedStorage(t *testing.T, b migrate.Target) {
	t.Helper()
	ctx := context.Background()
	for sec, files := range content {
		for name, body := range files {
			must(t, b.PutFile(ctx, sec, name, strings.NewReader(body)))
		}
	}
	for k, body := range layouts {
		must(t, b.PutLayoutStream(ctx, k, strings.NewReader(body)))
	}
}

// wantHolds checks that b holds the content of the given sections and the
// layouts of the given tutorials, and nothing of the others.
func wantHolds(t *testing.T, b interface {
	migrate.Source
	ReadFile(ctx context.Context, sectionID, name string) ([]byte, error)
}, secs []string, tutorials []string) {
	t.Helper()
	ctx := context.Background()
	have, err := b.ListSections(ctx)
	must(t, err)
	if strings.Join(have, ",") != strings.Join(sorted(secs), ",") {
		t.Errorf("sections at the destination = %v, want %v", have, sorted(secs))
	}
	for _, sec := range secs {
		for name, body := range content[sec] {
			got, err := b.ReadFile(ctx, sec, name)
			if err != nil || string(got) != body {
				t.Errorf("%s/%s at the destination = %.20q, %v", sec, name, got, err)
			}
		}
	}
	lays, err := b.ListLayouts(ctx)
	must(t, err)
	var want int
	for k := range layouts {
		for _, tut := range tutorials {
			if k.TutorialID == tut {
				want++
			}
		}
	}
	if len(lays) != want {
		t.Errorf("layouts at the destination = %v, want %d", lays, want)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func readReport(t *testing.T, stdout string) migrate.Report {
	t.Helper()
	i := strings.LastIndex(stdout, "report: ")
	if i < 0 {
		t.Fatalf("no report path in output:\n%s", stdout)
	}
	path := strings.TrimSpace(stdout[i+len("report: "):])
	if !strings.HasPrefix(filepath.Base(path), "migration_report_") {
		t.Fatalf("report path %q", path)
	}
	b, err := os.ReadFile(path)
	must(t, err)
	var rep migrate.Report
	must(t, json.Unmarshal(b, &rep))
	return rep
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStorageMigrateCopiesLocalToS3AndBackEndToEnd(t *testing.T) {
	e := setupEnv(t)
	e.seedDB(t)
	src, err := storage.NewLocal(e.localOptions())
	must(t, err)
	seedStorage(t, src)
	src.Close()
	reports := t.TempDir()
	allSecs := []string{secOne1, secOne2, secTwo1}

	code, out, errOut := run(t, "storage", "migrate", "--from", "local", "--to", "s3", "--report", reports, "--workers", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	wantHolds(t, e.s3(t), allSecs, []string{tutOne, tutTwo})
	rep := readReport(t, out)
	if rep.From != "local" || rep.To != "s3" || rep.Sections != 3 || rep.Files.Copied != 5 || rep.Layouts.Copied != 2 ||
		len(rep.Failed) != 0 || rep.Total.Skipped != 0 {
		t.Errorf("report = %+v", rep)
	}
	if len(rep.UnreferencedSections) != 1 || rep.UnreferencedSections[0] != secLoose {
		t.Errorf("unreferenced = %v", rep.UnreferencedSections)
	}
	if !strings.Contains(out, "done in") || !strings.Contains(out, "1 section folder(s) on the source belong to no section") {
		t.Errorf("summary:\n%s", out)
	}

	// Again: nothing to copy, a second report beside the first.
	code, out, _ = run(t, "storage", "migrate", "--from", "local", "--to", "s3", "--report", reports)
	if code != 0 {
		t.Fatalf("rerun exit %d\n%s", code, out)
	}
	if rep := readReport(t, out); rep.Total.Skipped != 7 || rep.Total.Copied != 0 {
		t.Errorf("rerun total = %+v", rep.Total)
	}
	if entries, _ := os.ReadDir(reports); len(entries) != 2 {
		t.Errorf("report folder holds %d files, want 2", len(entries))
	}

	// Back from S3 into fresh local folders, only tutorial two, named by an
	// export-style list of tutorial objects.
	dst := e.setLocalRoot(t, "restored")
	list := filepath.Join(e.dir, "tutorials.json")
	must(t, os.WriteFile(list, []byte(`[{"id": "`+tutTwo+`", "name": "T", "sections": []}]`), 0o644))
	code, out, errOut = run(t, "storage", "migrate", "--from", "s3", "--to", "local", "--tutorials", list, "--report", reports)
	if code != 0 {
		t.Fatalf("s3->local exit %d\n%s\n%s", code, out, errOut)
	}
	l, err := storage.NewLocal(dst)
	must(t, err)
	defer l.Close()
	wantHolds(t, l, []string{secTwo1}, []string{tutTwo})
	if rep := readReport(t, out); rep.Sections != 1 || rep.Files.Copied != 1 || rep.Layouts.Copied != 1 || rep.UnreferencedSections != nil {
		t.Errorf("s3->local report = %+v", rep)
	}
}

func TestStorageMigrateDryRunWritesOnlyTheReport(t *testing.T) {
	e := setupEnv(t)
	e.seedDB(t)
	seedStorage(t, e.s3(t))
	dst := e.setLocalRoot(t, "never-created")
	reports := t.TempDir()

	code, out, errOut := run(t, "storage", "migrate", "--from", "s3", "--to", "local", "--dry-run", "--report", reports)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, p := range []string{dst.RecordingsPath, dst.LayoutsPath, filepath.Dir(dst.RecordingsPath)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("dry run created %s", p)
		}
	}
	rep := readReport(t, out)
	if !rep.DryRun || rep.Total.Copied != 7 || rep.Total.Skipped != 0 {
		t.Errorf("dry-run report = %+v", rep)
	}
	if !strings.Contains(out, "to copy") {
		t.Errorf("dry-run summary does not say what it would copy:\n%s", out)
	}
}

func TestStorageMigrateExitsNonZeroAndReportsAFailure(t *testing.T) {
	e := setupEnv(t)
	// A legacy row whose id storage refuses as a key.
	e.seedDB(t, "legacy-section")
	src, err := storage.NewLocal(e.localOptions())
	must(t, err)
	seedStorage(t, src)
	src.Close()
	reports := t.TempDir()

	code, out, errOut := run(t, "storage", "migrate", "--from", "local", "--to", "s3", "--report", reports)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "migration incomplete") {
		t.Errorf("stderr = %q", errOut)
	}
	rep := readReport(t, out)
	if len(rep.Failed) != 1 || rep.Failed[0].Key != "recordings/legacy-section/" || !strings.Contains(rep.Failed[0].Reason, "Invalid tutorial section ID") {
		t.Errorf("failed = %+v", rep.Failed)
	}
	if rep.Files.Copied != 5 {
		t.Errorf("the other files were not copied: %+v", rep.Files)
	}
}

func TestStorageMigrateRefusesBadArguments(t *testing.T) {
	setupEnv(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	must(t, os.WriteFile(bad, []byte(`[{"name": "no id"}]`), 0o644))
	for name, tc := range map[string]struct {
		args []string
		code int
		msg  string
	}{
		"no backends":     {[]string{}, 2, "--from and --to must each be local or s3"},
		"unknown backend": {[]string{"--from", "auto", "--to", "s3"}, 2, "must each be local or s3"},
		"same backend":    {[]string{"--from", "s3", "--to", "s3"}, 2, "must differ"},
		"zero workers":    {[]string{"--from", "s3", "--to", "local", "--workers", "0"}, 2, "--workers"},
		"extra argument":  {[]string{"--from", "s3", "--to", "local", "now"}, 2, "unexpected argument"},
		"unknown flag":    {[]string{"--from", "s3", "--to", "local", "--force"}, 2, "flag provided but not defined"},
		"bad list":        {[]string{"--from", "s3", "--to", "local", "--tutorials", bad}, 1, "item 0 is neither"},
		"missing list":    {[]string{"--from", "s3", "--to", "local", "--tutorials", bad + ".none"}, 1, "tutorials file"},
		"no report dir":   {[]string{"--from", "s3", "--to", "local", "--report", bad}, 1, "not an existing folder"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"storage", "migrate"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q (stdout %q)", code, errOut, tc.code, tc.msg, out)
			}
		})
	}
}

func TestStorageMigrateFromMissingLocalFoldersFails(t *testing.T) {
	e := setupEnv(t)
	e.seedDB(t)
	e.setLocalRoot(t, "nothing-here")
	code, _, errOut := run(t, "storage", "migrate", "--from", "local", "--to", "s3", "--report", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestReadTutorialIDsAcceptsIdsAndExportedObjects(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		body string
		want []string
		err  string
	}{
		"ids":        {`["` + tutOne + `", "` + tutTwo + `"]`, []string{tutOne, tutTwo}, ""},
		"objects":    {`[{"id": "` + tutOne + `", "name": "x", "sections": [{"id": "s"}]}]`, []string{tutOne}, ""},
		"mixed dups": {`["` + tutTwo + `", {"id": "` + tutTwo + `"}, {"id": "` + tutOne + `"}]`, []string{tutTwo, tutOne}, ""},
		"dashed":     {`["7c5ffd1b-9067-45e6-9495-db857bc62d03"]`, []string{"7c5ffd1b-9067-45e6-9495-db857bc62d03"}, ""},
		"empty":      {`[]`, nil, "lists no tutorial"},
		"not array":  {`{"id": "` + tutOne + `"}`, nil, "want a JSON array"},
		"bad id":     {`["../etc"]`, nil, "is not a tutorial id"},
		"number id":  {`[{"id": 5}]`, nil, "neither a tutorial id"},
		"number":     {`[5]`, nil, "neither a tutorial id"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			must(t, os.WriteFile(p, []byte(tc.body), 0o644))
			got, err := readTutorialIDs(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			must(t, err)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStorageCheckOnLocalPassesAndLeavesNoProbe(t *testing.T) {
	e := setupEnv(t)
	code, out, errOut := run(t, "storage", "check")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"backend: local", "write   ok", "read    ok", "list    ok", "delete  ok",
		"free space (recordings folder):", "free space (layouts folder):", "storage check passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	entries, err := os.ReadDir(e.localOptions().RecordingsPath)
	must(t, err)
	if len(entries) != 0 {
		t.Errorf("recordings folder holds %v after the check", entries)
	}
}

func TestStorageCheckOnS3PassesAndLeavesNoProbe(t *testing.T) {
	e := setupEnv(t)
	t.Setenv("STORAGE_TYPE", "s3")
	code, out, errOut := run(t, "storage", "check")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "backend: s3") || !strings.Contains(out, "not reported by S3") {
		t.Errorf("output:\n%s", out)
	}
	secs, err := e.s3(t).ListSections(context.Background())
	must(t, err)
	if len(secs) != 0 {
		t.Errorf("bucket holds %v after the check", secs)
	}
}

func TestStorageCheckReportsAFailedStep(t *testing.T) {
	l, err := storage.NewLocal(storagetest.LocalOptions(t))
	must(t, err)
	defer l.Close()
	var out bytes.Buffer
	err = checkBackend(context.Background(), readOnly{l}, &out)
	if err == nil || !strings.Contains(err.Error(), "write, read, list") {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "write   FAILED") || !strings.Contains(out.String(), "delete  ok") {
		t.Errorf("output:\n%s", out.String())
	}
}

// readOnly refuses writes, as a read-only or full store would.
type readOnly struct{ *storage.Local }

func (readOnly) PutFile(context.Context, string, string, io.Reader) error {
	return os.ErrPermission
}

func TestStorageSyncPushesLocalCopiesToS3(t *testing.T) {
	e := setupEnv(t)
	t.Setenv("STORAGE_TYPE", "auto")
	// What auto leaves on local disk while S3 is down.
	local := e.localOptions()
	must(t, os.MkdirAll(filepath.Join(local.RecordingsPath, secOne1), 0o755))
	must(t, os.WriteFile(filepath.Join(local.RecordingsPath, secOne1, "description.md"), []byte("kept locally"), 0o644))

	code, out, errOut := run(t, "storage", "sync")
	if code != 0 || !strings.Contains(out, "1 local copy(ies) pushed to S3") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	got, err := e.s3(t).ReadFile(context.Background(), secOne1, "description.md")
	if err != nil || string(got) != "kept locally" {
		t.Fatalf("S3 holds %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(local.RecordingsPath, secOne1)); !os.IsNotExist(err) {
		t.Errorf("local copy still there: %v", err)
	}

	t.Setenv("STORAGE_TYPE", "local")
	if code, _, errOut := run(t, "storage", "sync"); code != 2 || !strings.Contains(errOut, "auto only") {
		t.Errorf("sync on local storage: exit %d, %q", code, errOut)
	}
}

func TestStorageMigrateStopsEarlyWhenS3IsUnreachable(t *testing.T) {
	e := setupEnv(t)
	e.seedDB(t)
	l, err := storage.NewLocal(e.localOptions())
	must(t, err)
	l.Close()
	t.Setenv("S3_ENDPOINT", "http://127.0.0.1:1")
	reports := t.TempDir()
	code, _, errOut := run(t, "storage", "migrate", "--from", "local", "--to", "s3", "--report", reports)
	if code != 1 || !strings.Contains(errOut, "S3 is not usable") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestProgressPrinterDrawsABarOnATerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b)
	p.tty = true
	p.Planned(3, 1000)
	p.Done(migrate.Event{Key: "recordings/x/a", Size: 500, Outcome: migrate.Copied})
	p.Done(migrate.Event{Key: "recordings/x/b", Size: 500, Outcome: migrate.Failed, Err: errors.New("disk full")})
	p.Done(migrate.Event{Key: "layouts/y", Size: 5, Outcome: migrate.Skipped})
	p.close()
	out := b.String()
	for _, want := range []string{"FAILED recordings/x/b: disk full\n", "(3/3)", "500 B copied, 5 B skipped, 1 failed", "100%"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q: %q", want, out)
		}
	}
}

func TestProgressPrinterWritesPlainLinesOffATerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b)
	p.interval = 0
	p.Planned(3, 2048)
	p.Done(migrate.Event{Key: "recordings/x/a", Size: 2048, Outcome: migrate.Copied})
	p.Done(migrate.Event{Key: "recordings/x/b", Size: 0, Outcome: migrate.Failed, Err: errors.New("disk full")})
	p.Done(migrate.Event{Key: "layouts/y", Size: 5, Outcome: migrate.Skipped})
	p.close()
	want := "found 3 object(s): 2.0 KiB of section files, plus layouts\n" +
		"progress: 1/3 objects (33%), 2.0 KiB copied, 0 B skipped, 0 failed\n" +
		"FAILED recordings/x/b: disk full\n" +
		"progress: 2/3 objects (66%), 2.0 KiB copied, 0 B skipped, 1 failed\n"
	if b.String() != want {
		t.Errorf("output = %q\nwant     %q", b.String(), want)
	}
	if strings.ContainsAny(b.String(), "\r\x1b") {
		t.Errorf("terminal control characters off a terminal: %q", b.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
