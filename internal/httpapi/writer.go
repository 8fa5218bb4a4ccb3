package httpapi

import (
	"io"
	"net/http"
)

// respWriter records the status and size of a response and can run a hook
// just before the header is sent (CORS decides then, so that a handler which
// set its own Access-Control-Allow-Origin keeps it). It forwards Flush and
// ReadFrom (sendfile for audio) and unwraps for http.ResponseController, so
// handlers can still extend deadlines for long uploads.
type respWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
	before func(http.Header)
}

func (w *respWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the real header follows
		return
	}
	w.wrote = true
	w.status = code
	if w.before != nil {
		w.before(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *respWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	// io.Copy uses the underlying writer's ReadFrom (sendfile) when it has one.
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

func (w *respWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status is the status sent, 200 when the handler wrote nothing at all.
func (w *respWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
