package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServerOptions are the server's timeouts. Zero fields take the defaults.
//
// ReadTimeout and WriteTimeout bound a whole request and response, and one
// server serves both a 1 KiB login and a 300 MB recording upload (base64 in
// a form field, so about 400 MB on the wire) over a learner's uplink: at
// 1 MB/s that is nearly 7 minutes. The defaults therefore allow 15 minutes,
// while ReadHeaderTimeout (5 s) stops slow-header clients, body limits stop
// large bodies on every other route, and idle keep-alive connections are
// closed after 2 minutes. A deployment behind a buffering reverse proxy can
// tighten them; a handler can move its own deadlines with
// http.ResponseController.
type ServerOptions struct {
	ReadHeaderTimeout time.Duration // default 5s
	ReadTimeout       time.Duration // default 15m
	WriteTimeout      time.Duration // default 15m
	IdleTimeout       time.Duration // default 120s
	ShutdownTimeout   time.Duration // drain time after ctx is done; default 20s
	MaxHeaderBytes    int           // default 64 KiB
}

// DefaultServerOptions returns the defaults documented on ServerOptions.
func DefaultServerOptions() ServerOptions {
	return ServerOptions{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Minute,
		WriteTimeout:      15 * time.Minute,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   20 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func (o ServerOptions) withDefaults() ServerOptions {
	d := DefaultServerOptions()
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = d.ReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = d.WriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = d.ShutdownTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return o
}

// Serve listens on addr and serves h with the default timeouts until ctx is
// done (cmd/ cancels it on SIGTERM/SIGINT via signal.NotifyContext), then
// stops accepting and lets in-flight requests finish for up to 20 s. It
// returns nil after a clean shutdown.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	return ServeWith(ctx, addr, h, log, ServerOptions{})
}

// ServeWith is Serve with explicit ServerOptions.
func ServeWith(ctx context.Context, addr string, h http.Handler, log *slog.Logger, o ServerOptions) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h, log, o)
}

// ServeListener is ServeWith on a listener the caller opened (tests use
// 127.0.0.1:0). It closes ln.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, o ServerOptions) error {
	if log == nil {
		log = slog.Default()
	}
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain", o.ShutdownTimeout.String())
	// The drain gets its own deadline: ctx is already done.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	log.Info("stopped")
	return nil
}
