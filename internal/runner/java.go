package runner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// javaSource is what the runner needs to know about a Java file before
// compiling it: javac requires a public class to live in a file of its name.
type javaSource struct {
	pkg    string   // package declaration, "" for none
	public string   // name of the public top-level type, "" for none
	types  []string // top-level type names in source order
}

// fileName is the name the source is compiled under: the public class's,
// else the first type's (javac accepts any name for non-public classes).
func (j javaSource) fileName() string {
	switch {
	case j.public != "":
		return j.public + ".java"
	case len(j.types) > 0:
		return j.types[0] + ".java"
	}
	return "Main.java"
}

// scanJava finds the package and the top-level type declarations of a Java
// source with a small tokenizer that skips comments, strings, text blocks
// and character literals, and tracks brace depth. It never fails: javac
// reports whatever is wrong with the source.
func scanJava(src string) javaSource {
	var js javaSource
	depth := 0
	prev := ""      // previous token at any depth
	public := false // "public" seen among the modifiers of the current declaration
	expectType := false
	expectPkg := false
	var pkg strings.Builder
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '/' && strings.HasPrefix(src[i:], "//"):
			if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(src)
			}
			continue
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			if j := strings.Index(src[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(src)
			}
			continue
		case strings.HasPrefix(src[i:], `"""`):
			if j := strings.Index(src[i+3:], `"""`); j >= 0 {
				i += j + 6
			} else {
				i = len(src)
			}
			prev = "literal"
			continue
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			prev = "literal"
			continue
		case c == '{':
			depth++
			prev = "{"
			i++
			continue
		case c == '}':
			if depth > 0 {
				depth--
			}
			if depth == 0 {
				public = false
			}
			prev = "}"
			i++
			continue
		case c == ';':
			if depth == 0 {
				public = false
				if expectPkg {
					js.pkg, expectPkg = pkg.String(), false
				}
			}
			prev = ";"
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == '_' || r == '$' || unicode.IsLetter(r) {
			j := i + size
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && r2 != '$' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += s2
			}
			word := src[i:j]
			i = j
			if depth != 0 {
				prev = word
				continue
			}
			switch {
			case expectPkg:
				pkg.WriteString(word)
			case expectType:
				js.types = append(js.types, word)
				if public && js.public == "" {
					js.public = word
				}
				expectType, public = false, false
			case word == "package" && prev != ".":
				expectPkg = true
			case word == "public":
				public = true
			case (word == "class" || word == "interface" || word == "enum" || word == "record") && prev != ".":
				expectType = true
			}
			prev = word
			continue
		}
		if c == '.' && expectPkg {
			pkg.WriteByte('.')
		}
		if !unicode.IsSpace(r) {
			prev = string(r)
		}
		i += size
	}
	return js
}

// classInfo is what the runner reads from a compiled class file.
type classInfo struct {
	name    string // binary name with dots: "pkg.Main", "Outer$Inner"
	hasMain bool   // declares public static void main(String[])
}

var errClassFormat = errors.New("malformed class file")

// parseClass reads a class file's own name and whether it declares the
// standard main method, to choose which class to launch the way Java's
// source launcher does (the first top-level class that has main).
func parseClass(b []byte) (classInfo, error) {
	p := &classReader{b: b}
	if p.u4() != 0xCAFEBABE {
		return classInfo{}, errClassFormat
	}
	p.skip(4) // minor, major
	n := int(p.u2())
	utf := make(map[int]string)
	classRef := make(map[int]int)
	for idx := 1; idx < n && p.err == nil; idx++ {
		switch tag := p.u1(); tag {
		case 1: // Utf8
			l := int(p.u2())
			utf[idx] = string(p.bytes(l))
		case 7: // Class
			classRef[idx] = int(p.u2())
		case 8, 16, 19, 20: // String, MethodType, Module, Package
			p.skip(2)
		case 15: // MethodHandle
			p.skip(3)
		case 3, 4, 9, 10, 11, 12, 17, 18:
			p.skip(4)
		case 5, 6: // Long, Double take two slots
			p.skip(8)
			idx++
		default:
			return classInfo{}, fmt.Errorf("%w: constant tag %d", errClassFormat, tag)
		}
	}
	p.skip(2) // access flags
	this := int(p.u2())
	p.skip(2) // super
	p.skip(2 * int(p.u2()))
	skipMembers := func(check bool) bool {
		found := false
		for range int(p.u2()) {
			access, name, desc := p.u2(), int(p.u2()), int(p.u2())
			if check && access&0x0009 == 0x0009 && utf[name] == "main" && utf[desc] == "([Ljava/lang/String;)V" {
				found = true
			}
			for range int(p.u2()) {
				p.skip(2)
				p.skip(int(p.u4()))
			}
		}
		return found
	}
	skipMembers(false)
	hasMain := skipMembers(true)
	if p.err != nil {
		return classInfo{}, p.err
	}
	name, ok := utf[classRef[this]]
	if !ok {
		return classInfo{}, fmt.Errorf("%w: no class name", errClassFormat)
	}
	return classInfo{name: strings.ReplaceAll(name, "/", "."), hasMain: hasMain}, nil
}

type classReader struct {
	b   []byte
	err error
}

func (p *classReader) bytes(n int) []byte {
	if p.err != nil || n < 0 || n > len(p.b) {
		p.err = errClassFormat
		return nil
	}
	v := p.b[:n]
	p.b = p.b[n:]
	return v
}
func (p *classReader) skip(n int) { p.bytes(n) }
func (p *classReader) u1() byte {
	if b := p.bytes(1); b != nil {
		return b[0]
	}
	return 0
}
func (p *classReader) u2() uint16 {
	if b := p.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}
func (p *classReader) u4() uint32 {
	if b := p.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// Bounds on what javac may hand back, checked before anything is cached.
const (
	maxClassFiles = 2000
	maxClassBytes = 16 << 20
	// maxClassArchive bounds the tar stream that carries the classes out
	// of the sandbox: the classes plus a header or two per file.
	maxClassArchive = maxClassBytes + maxClassFiles*2048 + 1<<20
)

// classFile is one compiled class: its path in the class tree
// ("pkg/Main.class") and its bytes.
type classFile struct {
	name string
	data []byte
}

// classLimitError is a program that compiles to more than the runner keeps:
// the learner's to fix, not the server's.
type classLimitError struct{ msg string }

func (e *classLimitError) Error() string { return e.msg }

// classBudget applies maxClassFiles and maxClassBytes as classes arrive.
type classBudget struct {
	count int
	total int64
}

func (b *classBudget) take(size int64) error {
	if b.count++; b.count > maxClassFiles {
		return &classLimitError{fmt.Sprintf("error: the program compiles to more than %d class files", maxClassFiles)}
	}
	if b.total += size; size < 0 || b.total > maxClassBytes {
		return &classLimitError{fmt.Sprintf("error: the program compiles to more than %d MiB of class files", maxClassBytes>>20)}
	}
	return nil
}

// classPath cleans a class file's path from javac's output: relative, no
// "..", ending in .class. Anything else is not a class javac wrote.
func classPath(name string) (string, bool) {
	name = path.Clean(strings.TrimPrefix(name, "./"))
	if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || !strings.HasSuffix(name, ".class") {
		return "", false
	}
	return name, true
}

// readClassArchive reads the tar stream in which the sandbox hands javac's
// classes back. The host never opens a path the sandbox wrote: it reads a
// byte stream, keeps regular .class entries with clean relative names, and
// stops at the limits.
func readClassArchive(b []byte, truncated bool) ([]classFile, error) {
	if truncated {
		var budget classBudget
		return nil, budget.take(maxClassBytes + 1)
	}
	var (
		out    []classFile
		budget classBudget
	)
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("class archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue // folders, and nothing else javac writes
		}
		name, ok := classPath(h.Name)
		if !ok {
			continue
		}
		if err := budget.take(h.Size); err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("class archive: %w", err)
		}
		out = append(out, classFile{name: name, data: data})
	}
}

// collectClasses reads the class files javac wrote into out (a host folder:
// runs without bubblewrap only). It reads through an os.Root so nothing in
// out can lead it elsewhere, and takes only regular files and folders.
func collectClasses(out string) ([]classFile, error) {
	root, err := os.OpenRoot(out)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var (
		classes []classFile
		budget  classBudget
	)
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > 32 {
			return &classLimitError{"error: the program's packages are nested too deep"}
		}
		f, err := root.Open(dir)
		if err != nil {
			return err
		}
		entries, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			rel := path.Join(dir, e.Name())
			switch {
			case e.Type().IsDir():
				if err := walk(rel, depth+1); err != nil {
					return err
				}
			case e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".class"):
				fi, err := root.Lstat(rel)
				if err != nil {
					return err
				}
				if err := budget.take(fi.Size()); err != nil {
					return err
				}
				in, err := root.Open(rel)
				if err != nil {
					return err
				}
				b, err := io.ReadAll(io.LimitReader(in, maxClassBytes))
				in.Close()
				if err != nil {
					return err
				}
				classes = append(classes, classFile{name: rel, data: b})
			default:
				// javac writes nothing else; ignore whatever it is.
			}
		}
		return nil
	}
	if err := walk(".", 0); err != nil {
		return nil, err
	}
	return classes, nil
}

// chooseMain picks the first top-level type in source order that declares
// main, as the source launcher does; failing that, the public type or the
// first one, so that java itself explains that main is missing.
func chooseMain(classes []classInfo, src javaSource) string {
	qualify := func(name string) string {
		if src.pkg != "" {
			return src.pkg + "." + name
		}
		return name
	}
	byName := map[string]classInfo{}
	for _, c := range classes {
		byName[c.name] = c
	}
	for _, t := range src.types {
		if c, ok := byName[qualify(t)]; ok && c.hasMain {
			return c.name
		}
	}
	// Types the scanner missed: any top-level class with main, by name.
	names := make([]string, 0, len(classes))
	for _, c := range classes {
		if c.hasMain && !strings.Contains(c.name, "$") {
			names = append(names, c.name)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		return names[0]
	}
	if src.public != "" {
		return qualify(src.public)
	}
	if len(src.types) > 0 {
		return qualify(src.types[0])
	}
	return "Main"
}

// mainClass chooses the class to launch from the compiled classes.
func mainClass(classes []classFile, src javaSource) string {
	var infos []classInfo
	for _, c := range classes {
		if ci, err := parseClass(c.data); err == nil {
			infos = append(infos, ci)
		}
	}
	main := chooseMain(infos, src)
	if !validClassName(main) {
		return "Main"
	}
	return main
}

// buildJar packs the classes into a jar whose manifest names the class to
// launch: one file per compiled program, so a cache entry is written and
// replaced atomically and reaches the sandbox through one descriptor.
// Entries are stored, not compressed: class files are small, and the JVM
// reads stored entries without inflating them.
func buildJar(classes []classFile, main string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) error {
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(data),
			CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
		})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := add("META-INF/MANIFEST.MF", manifest(main)); err != nil {
		return nil, err
	}
	slices.SortFunc(classes, func(a, b classFile) int { return strings.Compare(a.name, b.name) })
	for _, c := range classes {
		if err := add(c.name, c.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// manifest writes a jar manifest naming the main class, with lines folded
// at 72 bytes as the format requires (a package-qualified name can be
// longer), never inside a character.
func manifest(main string) []byte {
	var b strings.Builder
	b.WriteString("Manifest-Version: 1.0\r\nCreated-By: ITSS\r\n")
	line := "Main-Class: " + main
	limit := 72
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		b.WriteString(line[:cut])
		b.WriteString("\r\n ")
		line, limit = line[cut:], 71
	}
	b.WriteString(line)
	b.WriteString("\r\n\r\n")
	return []byte(b.String())
}

// classCache keeps compiled programs, one jar per program, named by the
// SHA-256 of the source with the compiler's version and flags, so running
// the same program again skips javac. Jars are written to a temporary file
// and renamed into place, so a reader sees a whole jar or none; the least
// recently used are evicted beyond max entries.
type classCache struct {
	dir string
	max int
	mu  sync.Mutex // serialises eviction
}

// cacheEntry is an open cached jar. The descriptor is what reaches the
// sandbox; path serves runs without bubblewrap.
type cacheEntry struct {
	path string
	f    *os.File
}

func (e *cacheEntry) close() { e.f.Close() }

func newClassCache(dir string, max int) (*classCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runner: java cache: %w", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), "tmp-"):
			// Temporary files of a crashed run are incomplete.
			if fi, err := os.Lstat(p); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(p)
			}
		case e.IsDir():
			// Entries of the earlier folder format are never read again.
			os.RemoveAll(p)
		}
	}
	return &classCache{dir: dir, max: max}, nil
}

func (c *classCache) file(key string) string { return filepath.Join(c.dir, key+".jar") }

// get opens the cached jar of key.
func (c *classCache) get(key string) (*cacheEntry, bool) {
	p := c.file(key)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // recency for eviction
	return &cacheEntry{path: p, f: f}, true
}

// put stores a jar under key and opens it. Two runs of the same new program
// may race: each renames a complete jar of identical content into place.
func (c *classCache) put(key string, jar []byte) (*cacheEntry, error) {
	f, err := os.CreateTemp(c.dir, "tmp-")
	if err != nil {
		return nil, err
	}
	_, err = f.Write(jar)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.file(key))
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	c.evict()
	e, ok := c.get(key)
	if !ok {
		return nil, fmt.Errorf("cached jar %s vanished", key)
	}
	return e, nil
}

// evict removes the least recently used entries beyond max. Entries used in
// the last minute are kept even then: a run without bubblewrap may be about
// to open one by name.
func (c *classCache) evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type aged struct {
		name string
		t    time.Time
	}
	var list []aged
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".jar") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		list = append(list, aged{e.Name(), info.ModTime()})
	}
	if len(list) <= c.max {
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].t.Before(list[j].t) })
	for _, a := range list[:len(list)-c.max] {
		if time.Since(a.t) < time.Minute {
			break
		}
		os.Remove(filepath.Join(c.dir, a.name))
	}
}

// validClassName reports whether s can be a binary class name; the MAIN file
// is ours, but a value that cannot be a class must never reach java's argv.
func validClassName(s string) bool {
	if s == "" || strings.HasPrefix(s, "-") {
		return false
	}
	for _, r := range s {
		if r != '.' && r != '$' && r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}
