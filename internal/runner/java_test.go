package runner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// classArchive builds a tar stream as the sandbox would hand back, with
// whatever entries a compromised javac could put in it.
func classArchive(t *testing.T, entries []*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := []byte{}
		if h.Typeflag == tar.TypeReg {
			body = []byte("class bytes of " + h.Name)
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

func TestClassArchiveKeepsOnlyCleanRegularClassFiles(t *testing.T) {
	t.Parallel()
	b := classArchive(t, []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./pkg/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./pkg/Main.class", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "Top.class", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "../escape.class", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "/etc/abs.class", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "./pkg/../../up.class", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "./link.class", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow", Mode: 0o777},
		{Name: "./hard.class", Typeflag: tar.TypeLink, Linkname: "pkg/Main.class", Mode: 0o644},
		{Name: "./fifo.class", Typeflag: tar.TypeFifo, Mode: 0o644},
		{Name: "./notes.txt", Typeflag: tar.TypeReg, Mode: 0o644},
	})
	classes, err := readClassArchive(b, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range classes {
		names = append(names, c.name)
		if string(c.data) != "class bytes of ./"+c.name && string(c.data) != "class bytes of "+c.name {
			t.Errorf("%s has the bytes %q", c.name, c.data)
		}
	}
	if got := strings.Join(names, ","); got != "pkg/Main.class,Top.class" {
		t.Fatalf("kept %s, want pkg/Main.class,Top.class", got)
	}
}

func TestClassArchiveOverTheLimitsIsTheLearnersError(t *testing.T) {
	t.Parallel()
	var entries []*tar.Header
	for i := range maxClassFiles + 1 {
		entries = append(entries, &tar.Header{Name: fmt.Sprintf("C%d.class", i), Typeflag: tar.TypeReg, Mode: 0o644})
	}
	var le *classLimitError
	if _, err := readClassArchive(classArchive(t, entries), false); !errors.As(err, &le) || !strings.Contains(le.msg, "class files") {
		t.Fatalf("too many classes: err = %v", err)
	}
	if _, err := readClassArchive(nil, true); !errors.As(err, &le) {
		t.Fatalf("archive cut at the output limit: err = %v", err)
	}
	if _, err := readClassArchive([]byte("not a tar stream, not at all, and long enough to be read as a header"), false); err == nil || errors.As(err, &le) {
		t.Fatalf("garbage archive: err = %v, want an internal error", err)
	}
}

func TestJarManifestNamesTheMainClassInFoldedLines(t *testing.T) {
	t.Parallel()
	main := "pkg.averyveryverylongpackagename.éàü." + strings.Repeat("Ü", 60) + "Main"
	jar, err := buildJar([]classFile{{name: "b/B.class", data: []byte("b")}, {name: "A.class", data: []byte("a")}}, main)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(jar), int64(len(jar)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var mf string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "META-INF/MANIFEST.MF" {
			mf = string(b)
		}
	}
	if got := strings.Join(names, ","); got != "META-INF/MANIFEST.MF,A.class,b/B.class" {
		t.Fatalf("entries %s", got)
	}
	for _, line := range strings.Split(mf, "\r\n") {
		if len(line) > 72 {
			t.Fatalf("manifest line of %d bytes: %q", len(line), line)
		}
	}
	unfolded := strings.ReplaceAll(mf, "\r\n ", "")
	if !strings.Contains(unfolded, "\r\nMain-Class: "+main+"\r\n") || !strings.HasSuffix(mf, "\r\n\r\n") {
		t.Fatalf("manifest does not name %s:\n%q", main, mf)
	}
}
