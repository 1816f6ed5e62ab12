package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// Header is the part of a request's headers the extractors read.
// http.Header satisfies it; the gRPC adapter wraps incoming metadata.
type Header interface {
	Get(key string) string
}

// Extractor finds the subject of a request: its principal and, when the
// request's credentials say so, its organization. An adapter may replace
// the organization by the one the request addresses.
//
// A request that does not say who makes it is an error wrapping
// ErrUnauthenticated; a failure to find out (the permission service is
// down) wraps ErrUnavailable.
type Extractor interface {
	Extract(ctx context.Context, h Header) (Subject, error)
}

// ExtractorFunc adapts a function to Extractor.
type ExtractorFunc func(ctx context.Context, h Header) (Subject, error)

// Extract calls f.
func (f ExtractorFunc) Extract(ctx context.Context, h Header) (Subject, error) {
	return f(ctx, h)
}

// FromContext finds the subject that an authentication layer in front of
// the adapter recorded with WithSubject.
func FromContext() Extractor {
	return ExtractorFunc(func(ctx context.Context, _ Header) (Subject, error) {
		s, ok := SubjectFrom(ctx)
		if !ok || s.Principal == "" {
			return Subject{}, fmt.Errorf("%w: no authenticated principal "+
				"in the request context", ErrUnauthenticated)
		}
		return s, nil
	})
}

// Gateway says how to read a subject from headers set by an
// authenticating gateway.
type Gateway struct {
	// PrincipalHeader and OrganizationHeader name the headers;
	// DefaultPrincipalHeader and DefaultOrganizationHeader if empty.
	PrincipalHeader    string
	OrganizationHeader string

	// Verify proves that the gateway, not the client, set the headers.
	// It is required: a client can send any header, so unverified
	// headers would let anyone claim to be anyone. SharedSecret builds
	// one.
	Verify func(ctx context.Context, h Header) error
}

// The default headers of Gateway.
const (
	DefaultPrincipalHeader    = "X-Authenticated-Principal"
	DefaultOrganizationHeader = "X-Authenticated-Organization"
)

// FromGateway reads the subject from headers a gateway set, once
// g.Verify accepts the request.
func FromGateway(g Gateway) (Extractor, error) {
	if g.Verify == nil {
		return nil, errors.New("authz: Gateway.Verify is required: " +
			"unverified headers would let any client claim any " +
			"principal; use SharedSecret or your own check")
	}
	if g.PrincipalHeader == "" {
		g.PrincipalHeader = DefaultPrincipalHeader
	}
	if g.OrganizationHeader == "" {
		g.OrganizationHeader = DefaultOrganizationHeader
	}

	return ExtractorFunc(func(ctx context.Context, h Header) (Subject, error) {
		if err := g.Verify(ctx, h); err != nil {
			return Subject{}, fmt.Errorf("%w: the gateway headers "+
				"are not verified: %w", ErrUnauthenticated, err)
		}
		s := Subject{
			Principal:    strings.TrimSpace(h.Get(g.PrincipalHeader)),
			Organization: strings.TrimSpace(h.Get(g.OrganizationHeader)),
		}
		if s.Principal == "" {
			return Subject{}, fmt.Errorf("%w: the request carries no "+
				"%s header", ErrUnauthenticated, g.PrincipalHeader)
		}
		return s, nil
	}), nil
}

// MinSecretLength is the shortest secret SharedSecret accepts.
const MinSecretLength = 16

// SharedSecret returns a Gateway.Verify that accepts a request whose
// header carries secret, the value only the gateway and the service
// know. The gateway must strip the header from client requests. The
// comparison takes the same time whatever the value.
func SharedSecret(header, secret string) (func(context.Context, Header) error, error) {
	if header == "" {
		return nil, errors.New("authz: SharedSecret needs a header name")
	}
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("authz: the gateway secret is %d bytes "+
			"long; use at least %d random bytes", len(secret), MinSecretLength)
	}
	want := sha256.Sum256([]byte(secret))

	return func(_ context.Context, h Header) error {
		got := sha256.Sum256([]byte(h.Get(header)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			// The message never repeats what was sent.
			return fmt.Errorf("header %s does not hold the gateway secret",
				header)
		}
		return nil
	}, nil
}

// FromBearerToken identifies the holder of the request's
// "Authorization: Bearer" token with id, usually the iamd client. The
// operator's token is refused: it belongs to no organization.
//
// Each request costs one call to id; put a gateway in front (FromGateway)
// where that is too slow.
func FromBearerToken(id Identifier) Extractor {
	return ExtractorFunc(func(ctx context.Context, h Header) (Subject, error) {
		token, err := BearerToken(h)
		if err != nil {
			return Subject{}, err
		}

		who, err := id.Identify(ctx, token)
		switch {
		case errors.Is(err, ErrUnauthenticated):
			return Subject{}, err
		case err != nil:
			return Subject{}, unavailable(err)
		case who.Operator || who.Organization == "":
			return Subject{}, fmt.Errorf("%w: the bearer token is not "+
				"a principal of an organization; use a user's or a "+
				"service account's token", ErrUnauthenticated)
		}
		return Subject{Principal: who.Principal, Organization: who.Organization}, nil
	})
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. A missing or malformed header is an error wrapping
// ErrUnauthenticated, which never repeats the header's value.
func BearerToken(h Header) (string, error) {
	value := h.Get("Authorization")
	if value == "" {
		return "", fmt.Errorf("%w: the request carries no bearer "+
			"token; send \"Authorization: Bearer <token>\"",
			ErrUnauthenticated)
	}

	scheme, token, ok := strings.Cut(value, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", fmt.Errorf("%w: the Authorization header is not a "+
			"bearer token; send \"Authorization: Bearer <token>\"",
			ErrUnauthenticated)
	}
	return token, nil
}

// ConsistencyToken returns the ZedToken a request's checks must be at
// least as fresh as: the ConsistencyTokenHeader header's, else the
// context's. A token that is too long or holds characters no ZedToken
// has is an error wrapping ErrInvalid.
func ConsistencyToken(ctx context.Context, h Header) (string, error) {
	token := strings.TrimSpace(h.Get(ConsistencyTokenHeader))
	if token == "" {
		token = ConsistencyTokenFrom(ctx)
	}
	if len(token) > MaxConsistencyTokenLength {
		return "", fmt.Errorf("%w: %s: the token is %d bytes long, at "+
			"most %d are accepted; send the token a write returned",
			ErrInvalid, ConsistencyTokenHeader, len(token),
			MaxConsistencyTokenLength)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("%w: %s: byte %d is not a printable "+
				"ASCII character; send the token a write returned",
				ErrInvalid, ConsistencyTokenHeader, i)
		}
	}
	return token, nil
}
