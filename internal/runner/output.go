package runner

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// capture drains one output pipe of a program. It keeps the first limit
// bytes and discards the rest while still reading, so a flood neither blocks
// the program (a full pipe would stall it until the wall clock) nor grows
// the server's memory.
type capture struct {
	f         *os.File
	limit     int
	buf       []byte
	truncated bool
	done      chan struct{}
}

func startCapture(f *os.File, limit int) *capture {
	c := &capture{f: f, limit: limit, done: make(chan struct{})}
	go c.run()
	return c
}

func (c *capture) run() {
	defer close(c.done)
	defer c.f.Close()
	chunk := make([]byte, 32<<10)
	for {
		n, err := c.f.Read(chunk)
		if n > 0 {
			if room := c.limit - len(c.buf); room > 0 {
				c.buf = append(c.buf, chunk[:min(n, room)]...)
				if n > room {
					c.truncated = true
				}
			} else {
				c.truncated = true
			}
		}
		if err != nil {
			return
		}
	}
}

// wait waits for the pipe to reach end of file. A process that escaped the
// run (possible only without a PID namespace or cgroup) may hold the pipe
// open: after grace the read is cut off.
func (c *capture) wait(grace time.Duration) {
	select {
	case <-c.done:
		return
	case <-time.After(grace):
	}
	c.f.SetReadDeadline(time.Now())
	<-c.done
}

// feed writes data into a pipe the program reads and closes it. A program
// that never reads makes the write fail (EPIPE) when it exits, or stop at the
// deadline set by the caller; either way the goroutine ends.
func feed(w *os.File, data []byte) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		if len(data) > 0 {
			w.Write(data)
		}
	}()
	return done
}

// text turns captured bytes into a string for JSON: a multi-byte character
// cut by truncation is dropped, invalid UTF-8 is replaced (the original
// system answered 500 on it), and temporary names are replaced.
func text(b []byte, truncated bool, repl *strings.Replacer) string {
	if truncated {
		// Drop at most one incomplete trailing rune.
		for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
			if utf8.RuneStart(b[len(b)-i]) {
				if !utf8.FullRune(b[len(b)-i:]) {
					b = b[:len(b)-i]
				}
				break
			}
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if repl != nil {
		s = repl.Replace(s)
	}
	return s
}

// clip cuts s to at most limit bytes, never inside a character.
func clip(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// randomName returns 32 hex characters: the temporary name of a learner's
// file. A name that cannot occur in a program's own output makes replacing it
// with the display name safe, and it never shadows a standard module the way
// a file called random.py or os.py would.
func randomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
