package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/internal/iam"
)

// RequestIDHeader carries a request's ID both ways: a client may choose
// it, and every response names the one used.
const RequestIDHeader = "X-Request-Id"

// withRequestID gives every request an ID: the client's, if it is sane
// and no secret, or a new random one. The ID is echoed in the response
// and recorded in the context for logs and transaction metadata.
func (h *handler) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) || h.isSecret(id, r.Header) {
			id = newRequestID()
		}

		w.Header().Set(RequestIDHeader, id)
		ctx := iam.WithRequestID(r.Context(), id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// saneRequestID is the one rule for request IDs, shared with the
// adapters that forward them.
func saneRequestID(id string) bool {
	return authz.SaneRequestID(id)
}

// isSecret reports whether id is the operator token or the request's own
// bearer token: either passes saneRequestID when short enough, and must
// not reach the logs through the request ID.
func (h *handler) isSecret(id string, header http.Header) bool {
	presented := digest(id)
	if subtle.ConstantTimeCompare(presented[:], h.operator[:]) == 1 {
		return true
	}
	bearer, err := bearerToken(header)
	return err == nil && subtle.ConstantTimeCompare([]byte(id), []byte(bearer)) == 1
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
