package httpapi

import (
	"context"
	"io"
	"log/slog"

	"github.com/itss-go/itss/internal/itss"
)

// NewLogger returns the services' logger: JSON lines at level and above.
// Every line logged with a request's context (InfoContext, WarnContext, …)
// carries that request's id, so one request's lines can be found together.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// requestIDHandler adds request_id from the context to records that do not
// carry one already.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if rid := itss.RequestIDFrom(ctx); rid != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", rid))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// LoggerFrom returns the router's logger carrying the request id of ctx
// (slog.Default outside a request).
func LoggerFrom(ctx context.Context) *slog.Logger {
	log, ok := ctx.Value(loggerKey).(*slog.Logger)
	if !ok {
		log = slog.Default()
	}
	if _, adds := log.Handler().(requestIDHandler); adds {
		return log
	}
	if rid := itss.RequestIDFrom(ctx); rid != "" {
		log = log.With("request_id", rid)
	}
	return log
}

// Event logs one learner or author action (API.md A12) as a structured line:
// event=<action> (the original's names: "Open Tutorial", "Form Login", …),
// request_id, and user_id and role of the identity in ctx, then attrs
// (key-value pairs or slog.Attr). An attr with the same key as a default
// replaces it, so a handler serving an anonymous request in optional mode
// can pass the user id taken from the request.
func Event(ctx context.Context, log *slog.Logger, action string, attrs ...any) {
	if log == nil {
		log = slog.Default()
	}
	extra := toAttrs(attrs)
	given := make(map[string]bool, len(extra))
	for _, a := range extra {
		given[a.Key] = true
	}
	out := make([]slog.Attr, 0, len(extra)+4)
	out = append(out, slog.String("event", action))
	add := func(a slog.Attr) {
		if !given[a.Key] {
			out = append(out, a)
		}
	}
	add(slog.String("request_id", itss.RequestIDFrom(ctx)))
	if id := itss.IdentityFrom(ctx); !id.Anonymous() {
		add(slog.Int64("user_id", id.UserID))
		add(slog.String("role", string(id.Role)))
		if id.Service {
			add(slog.Bool("service", true))
		}
	}
	out = append(out, extra...)
	log.LogAttrs(ctx, slog.LevelInfo, "event", out...)
}

// toAttrs converts slog-style arguments the way slog.Logger.Info does.
func toAttrs(args []any) []slog.Attr {
	var out []slog.Attr
	for len(args) > 0 {
		switch k := args[0].(type) {
		case slog.Attr:
			out = append(out, k)
			args = args[1:]
		case string:
			if len(args) == 1 {
				out = append(out, slog.String("!BADKEY", k))
				args = nil
				continue
			}
			out = append(out, slog.Any(k, args[1]))
			args = args[2:]
		default:
			out = append(out, slog.Any("!BADKEY", k))
			args = args[1:]
		}
	}
	return out
}
