// Package httpauthz protects net/http routes with permission checks: one
// line per route names the console action the route needs.
//
//	authz := httpauthz.New(checker, extractor,
//		httpauthz.OrganizationFromPath("org"))
//	mux.Handle("POST /orgs/{org}/clusters",
//		authz.Require("cks.clusters.create")(createCluster))
//
// For each request the middleware finds the caller (the authz.Extractor:
// gateway headers, the context, or the bearer token through iamd's
// WhoAmI), the organization the request acts in (a path value, or the
// caller's own), and the consistency token (the X-Consistency-Token
// header, or the context), then asks the checker. Only an allow reaches
// the handler, with the checked authz.Subject in its context.
//
// Every other outcome is answered with a JSON error body
// {"code", "message", ...}:
//
//   - 401 when the request does not say who makes it;
//   - 400 when the request is malformed (a bad organization ID or
//     consistency token);
//   - 403 when the caller lacks the action; the body names the action
//     and the roles that grant it;
//   - 503 with Retry-After when the permission service cannot answer,
//     or refuses the service's own credentials. A failure never becomes
//     an allow.
//
// A consistency token makes the check at least as fresh as the write
// that returned it, so a client that presents the token of a revocation
// is refused even by replicas and caches that have not seen it yet.
package httpauthz

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gpucloud/iam/adapters/authz"
)

// Authorizer builds the middleware of each route. It is safe for
// concurrent use.
type Authorizer struct {
	checker   authz.Checker
	extractor authz.Extractor
	org       func(*http.Request) string
	log       *slog.Logger
}

// Option configures an Authorizer.
type Option func(*Authorizer)

// OrganizationFromPath checks the organization named by the route's path
// wildcard name, as in "/orgs/{org}/clusters". A route without it is
// refused with 400, never checked in another organization.
func OrganizationFromPath(name string) Option {
	return WithOrganization(func(r *http.Request) string {
		return r.PathValue(name)
	})
}

// WithOrganization checks the organization fn returns. When fn returns
// "", the request is refused with 400. Without this option, the caller's
// own organization (from the Extractor) is checked: handlers must then
// act only in authz.SubjectFrom(ctx).Organization.
func WithOrganization(fn func(*http.Request) string) Option {
	return func(a *Authorizer) { a.org = fn }
}

// WithLogger sets where failures of the permission service are logged;
// slog.Default() otherwise. Denials are not logged: they are answers.
func WithLogger(l *slog.Logger) Option {
	return func(a *Authorizer) { a.log = l }
}

// New returns an Authorizer. It panics if checker or extractor is nil: a
// route left unprotected by a wiring mistake must not start serving.
func New(checker authz.Checker, extractor authz.Extractor, opts ...Option) *Authorizer {
	if checker == nil || extractor == nil {
		panic("httpauthz: New needs a checker and an extractor")
	}
	a := &Authorizer{checker: checker, extractor: extractor, log: slog.Default()}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

// Require returns middleware that lets a request through only if its
// caller may perform action. It panics if action is not a known console
// action, so that a typo stops the service at start, with the closest
// action in the message, instead of denying every request.
func (a *Authorizer) Require(action string) func(http.Handler) http.Handler {
	canonical, err := authz.ValidateAction(action)
	if err != nil {
		panic("httpauthz: Require: " + err.Error())
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, err := a.authorize(r, canonical)
			if err != nil {
				a.fail(w, r, canonical, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Require is New(checker, extractor, opts...).Require(action), for a
// service with a single protected route.
func Require(
	checker authz.Checker, action string, extractor authz.Extractor, opts ...Option,
) func(http.Handler) http.Handler {
	return New(checker, extractor, opts...).Require(action)
}

// authorize runs the steps: caller, organization, token, check.
func (a *Authorizer) authorize(r *http.Request, action string) (context.Context, error) {
	ctx := authz.WithRequestID(r.Context(), r.Header.Get(authz.RequestIDHeader))

	subject, err := a.extractor.Extract(ctx, r.Header)
	if err != nil {
		return nil, err
	}
	if a.org != nil {
		org := strings.TrimSpace(a.org(r))
		if org == "" {
			return nil, fmt.Errorf("%w: organization \"\": the request "+
				"names no organization; address a resource of one",
				authz.ErrInvalid)
		}
		subject.Organization = org
	}
	token, err := authz.ConsistencyToken(ctx, r.Header)
	if err != nil {
		return nil, err
	}

	err = authz.Enforce(ctx, a.checker, authz.CheckRequest{
		Organization:     subject.Organization,
		Principal:        subject.Principal,
		Action:           action,
		ConsistencyToken: token,
	})
	if err != nil {
		return nil, err
	}
	return authz.WithSubject(ctx, subject), nil
}
