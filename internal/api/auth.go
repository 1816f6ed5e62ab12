package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// OperatorPrincipal is how the operator appears in WhoAmI answers, logs
// and the actor of its writes.
const OperatorPrincipal = "operator"

// caller is the authenticated client of an RPC.
type caller struct {
	// Principal is "kind:id", or OperatorPrincipal.
	Principal string
	Operator  bool

	// Org is the organization the principal belongs to; empty for the
	// operator.
	Org string
}

type callerKey struct{}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerFrom returns the caller authenticate recorded. An RPC without one
// never reaches a method, so its absence is a bug: it yields a caller
// that is denied everything.
func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// authenticate is the request gate: it runs before the request message
// is decoded, and rejects any RPC without a valid bearer token.
func (h *handler) authenticate(
	ctx context.Context, spec connect.Spec, _ connect.Peer, header http.Header,
) (context.Context, error) {
	start := time.Now()
	c, err := h.identify(ctx, header)
	if err != nil {
		// Rejected here, the RPC never reaches the interceptors: count
		// and translate it as they would.
		err = h.connectError(ctx, spec.Procedure, err)
		h.metrics.observe(spec.Procedure, start, err)
		return nil, err
	}

	ctx = withCaller(ctx, c)
	return iam.WithActor(ctx, c.Principal), nil
}

// identify reads the bearer token. A principal's token is good only while
// the principal belongs to the organization it was minted in: removing it
// from that organization ends its access, whatever its token's expiry,
// and another organization taking it in does not revive the token.
func (h *handler) identify(ctx context.Context, header http.Header) (caller, error) {
	token, err := bearerToken(header)
	if err != nil {
		return caller{}, err
	}

	presented := digest(token)
	if subtle.ConstantTimeCompare(presented[:], h.operator[:]) == 1 {
		return caller{Principal: OperatorPrincipal, Operator: true}, nil
	}

	claims, err := h.tokens.verify(token)
	if err != nil {
		return caller{}, err
	}
	p, err := principal.Parse("token subject", claims.Subject)
	if err != nil || p.Kind == principal.Group {
		return caller{}, iamerr.New(iamerr.Unauthenticated,
			"the bearer token names no user or service account",
			"mint a new token")
	}

	org, err := h.svc.OrganizationOf(ctx, p.String())
	switch {
	case iamerr.Is(err, iamerr.NotFound):
		return caller{}, iamerr.New(iamerr.Unauthenticated,
			"the token's principal "+p.String()+" belongs to no organization",
			"ask an administrator to add it to an organization")
	case err != nil:
		return caller{}, iamerr.Wrap(iamerr.Unavailable, err,
			"the caller's organization could not be read", "retry later")
	case org != claims.Org:
		// Neither organization is named: the bearer may not be the
		// principal, and the new one is none of its business.
		return caller{}, iamerr.New(iamerr.Unauthenticated,
			"the token's principal "+p.String()+" no longer belongs to "+
				"the organization the token was minted in",
			"mint a new token")
	}
	return caller{Principal: p.String(), Org: org}, nil
}

// bearerToken extracts the token of "Authorization: Bearer <token>".
func bearerToken(header http.Header) (string, error) {
	value := header.Get("Authorization")
	if value == "" {
		return "", iamerr.New(iamerr.Unauthenticated,
			"the request carries no bearer token",
			"send the header \"Authorization: Bearer <token>\"")
	}

	scheme, token, ok := strings.Cut(value, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", iamerr.New(iamerr.Unauthenticated,
			"the Authorization header is not a bearer token",
			"send the header \"Authorization: Bearer <token>\"")
	}
	return token, nil
}
