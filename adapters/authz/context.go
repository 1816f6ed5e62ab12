package authz

import (
	"context"
	"strings"
)

// ConsistencyTokenHeader is the request header that carries a ZedToken
// from a write, for HTTP, gRPC (as lower-case metadata) and Connect.
const ConsistencyTokenHeader = "X-Consistency-Token"

// MaxConsistencyTokenLength bounds a consistency token taken from a
// request. SpiceDB's tokens are far shorter; a longer one is refused
// rather than forwarded or cached.
const MaxConsistencyTokenLength = 1024

// RequestIDHeader carries a request ID. The adapters pass a sane one on
// to iamd, so that both services log the same ID.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLength is the longest request ID iamd and the adapters
// accept.
const maxRequestIDLength = 64

// mintedTokenPrefix starts every token iamd mints; an ID shaped like one
// is refused, so that no token reaches a log as a request ID.
const mintedTokenPrefix = "iamd1."

type (
	subjectKey   struct{}
	tokenKey     struct{}
	requestIDKey struct{}
)

// WithSubject records the subject of a request. An authentication layer
// in front of the adapters sets it for FromContext to find; the adapters
// set it after an allow, with the organization that was checked, for the
// handler to read.
func WithSubject(ctx context.Context, s Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, s)
}

// SubjectFrom returns the subject recorded by WithSubject.
func SubjectFrom(ctx context.Context) (Subject, bool) {
	s, ok := ctx.Value(subjectKey{}).(Subject)
	return s, ok
}

// WithConsistencyToken records a ZedToken that the checks made for this
// context must be at least as fresh as. A token in the request header
// takes precedence.
func WithConsistencyToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// ConsistencyTokenFrom returns the token recorded by
// WithConsistencyToken, or "".
func ConsistencyTokenFrom(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey{}).(string)
	return t
}

// WithRequestID records a request ID, which the iamd client sends along.
// An ID that is not SaneRequestID is ignored.
func WithRequestID(ctx context.Context, id string) context.Context {
	if !SaneRequestID(id) {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request ID recorded by WithRequestID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// SaneRequestID accepts IDs that are safe to log, store and forward: at
// most 64 bytes of letters, digits, '-', '_' and '.', and not shaped like
// a token iamd mints. iamd applies the same rule.
func SaneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	if len(id) >= len(mintedTokenPrefix) &&
		strings.EqualFold(id[:len(mintedTokenPrefix)], mintedTokenPrefix) {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
