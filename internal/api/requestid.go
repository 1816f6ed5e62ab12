package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/gpucloud/iam/internal/iam"
)

// RequestIDHeader carries a request's ID both ways: a client may choose
// it, and every response names the one used.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLength bounds a client-chosen request ID, which ends up on
// log lines and in SpiceDB's transaction metadata.
const maxRequestIDLength = 128

// withRequestID gives every request an ID: the client's, if it is sane,
// or a new random one. The ID is echoed in the response and recorded in
// the context for logs and transaction metadata.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}

		w.Header().Set(RequestIDHeader, id)
		ctx := iam.WithRequestID(r.Context(), id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// saneRequestID accepts IDs that are safe to log and to store: short, and
// made of letters, digits and a few separators.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' ||
			c == ':'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewLogHandler wraps next so that every record logged with a context
// carrying a request ID (iam.WithRequestID) gets it as "request_id".
// Wrapping a handler it returned again adds nothing.
func NewLogHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{next}
}

type requestIDHandler struct {
	next slog.Handler
}

func (h requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := iam.RequestIDFrom(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.next.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.next.WithGroup(name)}
}
