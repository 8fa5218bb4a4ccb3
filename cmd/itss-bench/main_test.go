package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"mime"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"p50 of 1..100 is 50", d, 50, 50 * time.Millisecond},
		{"p95 of 1..100 is 95", d, 95, 95 * time.Millisecond},
		{"p99 of 1..100 is 99", d, 99, 99 * time.Millisecond},
		{"p99 of one sample is that sample", d[:1], 99, time.Millisecond},
		{"p50 of two samples is the first", d[:2], 50, time.Millisecond},
		{"no samples give zero", nil, 95, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(c.in, c.p); got != c.want {
				t.Errorf("percentile(%d samples, %v) = %v, want %v", len(c.in), c.p, got, c.want)
			}
		})
	}
}

func TestMakeWAVHasAConsistentPCMHeader(t *testing.T) {
	t.Parallel()
	w := makeWAV(2)
	le := binary.LittleEndian
	if string(w[0:4]) != "RIFF" || string(w[8:16]) != "WAVEfmt " || string(w[36:40]) != "data" {
		t.Fatalf("header tags wrong: %q", w[:44])
	}
	dataLen := int(le.Uint32(w[40:44]))
	if want := 2 * wavRate * wavChannels * wavBits / 8; dataLen != want || len(w) != 44+dataLen {
		t.Errorf("data length %d (file %d), want %d (file %d)", dataLen, len(w), want, 44+want)
	}
	if riff := int(le.Uint32(w[4:8])); riff != len(w)-8 {
		t.Errorf("RIFF size %d, want %d", riff, len(w)-8)
	}
	if le.Uint16(w[20:22]) != 1 || le.Uint16(w[22:24]) != wavChannels || le.Uint32(w[24:28]) != wavRate {
		t.Errorf("format fields wrong: % x", w[20:36])
	}
}

func TestRecordingBodyIsAValidMultipartForm(t *testing.T) {
	t.Parallel()
	payload := encodeWAV(makeWAV(1))
	f := newRecordingFields("python", 1, payload)
	body, size, ctype := f.body("0123456789abcdef0123456789abcdef", "Section 1")
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != size {
		t.Fatalf("declared size %d, body has %d bytes", size, len(raw))
	}
	req := httptest.NewRequest("POST", "/upload_recording", bytes.NewReader(raw))
	req.Header.Set("Content-Type", ctype)
	if err := req.ParseMultipartForm(64 << 20); err != nil {
		t.Fatalf("parse: %v", err)
	}
	got := req.MultipartForm.Value
	if got["file"][0] != string(payload) {
		t.Error("file field does not hold the base64 payload unchanged")
	}
	for _, name := range []string{"tutorial_section_id", "keystroke", "consoleAction", "consoleScrollAction",
		"inputKeystrokes", "inputScrollAction", "layoutAction", "selectAction", "scrollAction",
		"editorScrollAction", "name", "tutorial_type", "language", "description", "code_content", "code_input",
		"duration", "transcript"} {
		if len(got[name]) != 1 {
			t.Errorf("field %s: %d values, want 1", name, len(got[name]))
		}
	}
	if len(req.MultipartForm.File) != 0 {
		t.Error("the frontend sends no file parts, only text fields")
	}
	_, params, _ := mime.ParseMediaType(ctype)
	if _, err := multipart.NewReader(bytes.NewReader(raw), params["boundary"]).NextPart(); err != nil {
		t.Errorf("first part: %v", err)
	}
}

func TestMySQLTargetBuildsServiceURIWithNewDatabase(t *testing.T) {
	t.Parallel()
	admin, uri, name, err := mysqlTarget("root:p%40ss@tcp(127.0.0.1:3306)/itss_test?parseTime=true", "itss_bench_x")
	if err != nil {
		t.Fatal(err)
	}
	if name != "itss_bench_x" || uri != "mysql://root:p%2540ss@127.0.0.1:3306/itss_bench_x" {
		t.Errorf("uri %q name %q", uri, name)
	}
	if strings.Contains(admin, "itss_test") {
		t.Errorf("admin DSN %q still names the test database", admin)
	}
	if _, _, _, err := mysqlTarget("root@unix(/run/mysqld.sock)/x", "y"); err == nil {
		t.Error("a unix-socket DSN was accepted, though the services take host:port only")
	}
}

func TestParseVmHWMReadsKiB(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\tauth\nVmPeak:\t 1000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n")
	got, err := parseVmHWM(status)
	if err != nil || got != 51234 {
		t.Errorf("parseVmHWM = %d, %v; want 51234", got, err)
	}
	if _, err := parseVmHWM([]byte("Name:\tx\n")); err == nil {
		t.Error("a status without VmHWM gave no error")
	}
}

func TestAddrAtStaysInsideTheBenchmarkRange(t *testing.T) {
	t.Parallel()
	for _, i := range []uint32{0, 1, 65535, 131071, 131072, 1 << 31} {
		a := addrAt(i)
		if !strings.HasPrefix(a, "198.18.") && !strings.HasPrefix(a, "198.19.") {
			t.Errorf("addrAt(%d) = %s, outside 198.18.0.0/15", i, a)
		}
	}
	if addrAt(0) == addrAt(1) {
		t.Error("consecutive indexes share an address")
	}
}

func TestParseFlagsQuickKeepsExplicitValues(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"--quick", "--authors", "7", "--clients", "1,4", "--scenarios", "login,mixed",
		"--auth-url", "http://127.0.0.1:1/", "--tutorial-url", "http://127.0.0.1:2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.data.Authors != 7 || o.data.Sections != 60 || o.duration != 5*time.Second {
		t.Errorf("quick defaults/explicit mix wrong: %+v duration %v", o.data, o.duration)
	}
	if len(o.clients) != 2 || o.clients[1] != 4 || len(o.scenarios) != 2 || o.authURL != "http://127.0.0.1:1" {
		t.Errorf("lists parsed wrong: clients %v scenarios %v auth %q", o.clients, o.scenarios, o.authURL)
	}
	for _, bad := range [][]string{
		{"--scenarios", "nope"},
		{"--auth-url", "http://x"},
		{"--clients", "0"},
		{"--tutorials", "1", "--authors", "2"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) accepted bad flags", bad)
		}
	}
}
