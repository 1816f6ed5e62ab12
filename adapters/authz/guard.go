package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// GuardConfig is what NewGuard needs.
type GuardConfig struct {
	// Checker answers the checks. Required.
	Checker Checker

	// Extractor finds the caller. Required.
	Extractor Extractor

	// Methods maps every method to its rule. A method it lacks is
	// denied.
	Methods Methods

	// Organization finds the organization a request addresses;
	// MessageOrganization if nil. When it returns "", the caller's own
	// organization (from the Extractor) is checked.
	Organization OrganizationFunc

	// Logger receives failures of the permission service, whose cause
	// the client is not told; slog.Default() if nil. Denials are not
	// logged: they are answers.
	Logger *slog.Logger
}

// Guard authorizes RPCs by method. The gRPC and Connect adapters are
// built on it; it is safe for concurrent use.
type Guard struct {
	checker   Checker
	extractor Extractor
	methods   Methods
	org       OrganizationFunc
	log       *slog.Logger
}

// NewGuard validates cfg, including every action of cfg.Methods.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.Checker == nil {
		return nil, errors.New("authz: GuardConfig.Checker is required")
	}
	if cfg.Extractor == nil {
		return nil, errors.New("authz: GuardConfig.Extractor is required")
	}
	methods, err := cfg.Methods.Compile()
	if err != nil {
		return nil, err
	}
	org := cfg.Organization
	if org == nil {
		org = MessageOrganization
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Guard{
		checker: cfg.Checker, extractor: cfg.Extractor,
		methods: methods, org: org, log: log,
	}, nil
}

// Authorize decides a call of method, with the request's headers and
// its decoded message (nil for a stream). On an allow it returns the
// context for the handler, carrying the checked Subject; on anything
// else, an error for KindOf. Failures of the permission service, and
// calls of methods without a rule, are logged here, once.
func (g *Guard) Authorize(
	ctx context.Context, method string, h Header, msg any,
) (context.Context, error) {
	rule, err := g.methods.Lookup(method)
	if err != nil {
		// A deployment mistake, not a caller's: make it visible.
		g.log.WarnContext(ctx, "a method without an authorization "+
			"rule was called; call denied", "method", method)
		return nil, err
	}

	out, err := g.authorize(ctx, rule, h, msg)
	if err != nil && KindOf(err) == KindUnavailable {
		g.logFailure(ctx, method, err)
	}
	return out, err
}

func (g *Guard) authorize(
	ctx context.Context, rule Rule, h Header, msg any,
) (context.Context, error) {
	if rule.IsPublic() {
		return ctx, nil
	}

	subject, err := g.extractor.Extract(ctx, h)
	if err != nil {
		return nil, err
	}
	org, err := g.org(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if org != "" {
		subject.Organization = org
	}
	token, err := ConsistencyToken(ctx, h)
	if err != nil {
		return nil, err
	}

	err = Enforce(ctx, g.checker, CheckRequest{
		Organization:     subject.Organization,
		Principal:        subject.Principal,
		Action:           rule.ActionName(),
		ConsistencyToken: token,
	})
	if err != nil {
		return nil, err
	}
	return WithSubject(ctx, subject), nil
}

// logFailure logs a failed check. A refusal of the service's own
// credentials is a deployment mistake that retrying will not fix, so it
// is an error; anything else a warning.
func (g *Guard) logFailure(ctx context.Context, method string, err error) {
	attrs := []any{"method", method, "error", err.Error()}
	if id := RequestIDFrom(ctx); id != "" {
		attrs = append(attrs, "request_id", id)
	}

	if errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthenticated) {
		g.log.ErrorContext(ctx, "the permission service refused this "+
			"service's credentials; every call is refused until they "+
			"are fixed", attrs...)
		return
	}
	g.log.WarnContext(ctx, "authorization could not be decided; call refused",
		attrs...)
}
