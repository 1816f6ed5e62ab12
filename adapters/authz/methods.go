package authz

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Rule says what calling an RPC method requires: a console action, or
// nothing at all for a method marked Public. The zero Rule is invalid,
// so that a forgotten action cannot pass for a public method.
type Rule struct {
	action string
	public bool
}

// Action returns the rule "the caller may perform action in the
// organization the request addresses".
func Action(action string) Rule {
	return Rule{action: action}
}

// Public is the rule of a method anyone may call, unchecked. Mark
// health checks and the like with it, explicitly.
var Public = Rule{public: true}

// ActionName returns the rule's action; "" for Public.
func (r Rule) ActionName() string { return r.action }

// IsPublic reports whether the rule is Public.
func (r Rule) IsPublic() bool { return r.public }

// Methods maps full RPC method names ("/package.Service/Method", as gRPC
// and Connect spell them) to their rules. A method missing from the map
// is denied: the interceptors fail closed.
type Methods map[string]Rule

// Compile validates every entry and returns a copy whose actions are in
// canonical form. The error lists every bad entry.
func (m Methods) Compile() (Methods, error) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)

	out := make(Methods, len(m))
	var errs []error
	for _, name := range names {
		rule, err := compileRule(name, m[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = rule
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func compileRule(name string, r Rule) (Rule, error) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
	if !strings.HasPrefix(name, "/") || !ok || svc == "" ||
		method == "" || strings.Contains(method, "/") {
		return Rule{}, fmt.Errorf("authz: method %q: not a full method "+
			"name; write it \"/package.Service/Method\"", name)
	}

	switch {
	case r.public && r.action != "":
		return Rule{}, fmt.Errorf("authz: method %s: public and "+
			"action %q at once; choose one", name, r.action)
	case r.public:
		return r, nil
	case r.action == "":
		return Rule{}, fmt.Errorf("authz: method %s: the rule names no "+
			"action; use authz.Action(...) or authz.Public", name)
	}

	action, err := ValidateAction(r.action)
	if err != nil {
		return Rule{}, fmt.Errorf("authz: method %s: %w", name, err)
	}
	return Action(action), nil
}

// Lookup returns the rule of method, or a denial that names the method
// when it has none.
func (m Methods) Lookup(method string) (Rule, error) {
	r, ok := m[method]
	if !ok {
		return Rule{}, fmt.Errorf("%w: method %s has no authorization "+
			"rule, so it is denied to everyone; the service must map it "+
			"to an action or mark it public", ErrPermissionDenied, method)
	}
	return r, nil
}

// OrganizationFunc returns the organization a request addresses, from
// its decoded message (nil for streams, checked before any message is
// read). It returns "" when the message names none.
type OrganizationFunc func(ctx context.Context, msg any) (string, error)

// MessageOrganization is the default OrganizationFunc of the RPC
// adapters: the message's organization_id field, through the
// GetOrganizationId method protobuf generates for it.
//
// A message whose organization travels in another field is checked in
// the caller's own organization instead; give such services their own
// OrganizationFunc, and have handlers act only in the organization of
// SubjectFrom.
func MessageOrganization(_ context.Context, msg any) (string, error) {
	if m, ok := msg.(interface{ GetOrganizationId() string }); ok {
		return m.GetOrganizationId(), nil
	}
	return "", nil
}
