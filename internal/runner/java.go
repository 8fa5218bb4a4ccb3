package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
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
	mainFile      = "MAIN" // holds the class to launch; no class file lacks the .class suffix
)

// collectClasses copies the class files javac wrote into out to dst. It
// reads through an os.Root so nothing in out can lead it elsewhere, takes
// only regular files and folders, and chooses the class to launch.
func collectClasses(out, dst string, src javaSource) (string, error) {
	root, err := os.OpenRoot(out)
	if err != nil {
		return "", err
	}
	defer root.Close()
	var (
		classes []classInfo
		total   int64
		count   int
	)
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > 32 {
			return errors.New("class folders nested too deep")
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
				if err := os.Mkdir(filepath.Join(dst, filepath.FromSlash(rel)), 0o755); err != nil {
					return err
				}
				if err := walk(rel, depth+1); err != nil {
					return err
				}
			case e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".class"):
				if count++; count > maxClassFiles {
					return errors.New("too many class files")
				}
				fi, err := root.Lstat(rel)
				if err != nil {
					return err
				}
				if total += fi.Size(); total > maxClassBytes {
					return errors.New("class files too large")
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
				if err := writeNew(filepath.Join(dst, filepath.FromSlash(rel)), b); err != nil {
					return err
				}
				if ci, err := parseClass(b); err == nil {
					classes = append(classes, ci)
				}
			default:
				// javac writes nothing else; ignore whatever it is.
			}
		}
		return nil
	}
	if err := walk(".", 0); err != nil {
		return "", err
	}
	return chooseMain(classes, src), nil
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

// classCache keeps compiled programs by the SHA-256 of their source (and
// the compiler's version and flags), so running the same program again skips
// javac. Entries are folders created atomically by rename; the least
// recently used are evicted beyond max entries.
type classCache struct {
	dir string
	max int
	mu  sync.Mutex // serialises eviction
}

type cacheEntry struct {
	dir  string
	main string
}

func newClassCache(dir string, max int) (*classCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runner: java cache: %w", err)
	}
	// Temporary folders of a crashed run are incomplete: drop them.
	stale, _ := filepath.Glob(filepath.Join(dir, "tmp-*"))
	for _, d := range stale {
		if fi, err := os.Lstat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.RemoveAll(d)
		}
	}
	return &classCache{dir: dir, max: max}, nil
}

func (c *classCache) get(key string) (*cacheEntry, bool) {
	dir := filepath.Join(c.dir, key)
	b, err := os.ReadFile(filepath.Join(dir, mainFile))
	if err != nil {
		return nil, false
	}
	now := time.Now()
	os.Chtimes(dir, now, now) // recency for eviction
	return &cacheEntry{dir: dir, main: string(b)}, true
}

// put moves a folder of classes (under the cache dir, from tempDir) into
// place. Two runs of the same new program may race: the loser's copy is
// dropped and the winner's used.
func (c *classCache) put(key, tmp, main string) (*cacheEntry, error) {
	if err := os.WriteFile(filepath.Join(tmp, mainFile), []byte(main), 0o644); err != nil {
		return nil, err
	}
	dir := filepath.Join(c.dir, key)
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if e, ok := c.get(key); ok {
			return e, nil
		}
		return nil, err
	}
	c.evict()
	return &cacheEntry{dir: dir, main: main}, nil
}

func (c *classCache) tempDir() (string, error) {
	return os.MkdirTemp(c.dir, "tmp-")
}

// evict removes the least recently used entries beyond max. Entries used in
// the last minute are kept even then: a running program may be reading them.
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
		if !e.IsDir() || strings.HasPrefix(e.Name(), "tmp-") {
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
		os.RemoveAll(filepath.Join(c.dir, a.name))
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
