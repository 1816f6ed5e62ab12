package authz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gpucloud/iam/internal/catalog"
)

// The errors of the adapters. Every error an adapter returns wraps one of
// them; test with errors.Is.
var (
	// ErrPermissionDenied: the subject may not perform the action. The
	// error is a *Denial, which names the action.
	ErrPermissionDenied = errors.New("permission denied")

	// ErrInvalid: the request is malformed (an unknown action, a bad
	// organization ID or principal, a bad consistency token). The message
	// names the field, the value and the fix.
	ErrInvalid = errors.New("invalid request")

	// ErrUnauthenticated: the request does not say who makes it, or its
	// credentials were rejected.
	ErrUnauthenticated = errors.New("unauthenticated")

	// ErrForbidden: the checking service's own credentials may not ask
	// this question (for example, a service account of one organization
	// checking a principal of another). It is a deployment mistake, and
	// Enforce reports it as ErrUnavailable too.
	ErrForbidden = errors.New("the service may not ask this question")

	// ErrUnavailable: the permission service could not answer. Retrying
	// later may help.
	ErrUnavailable = errors.New("the permission service is unavailable")
)

// ErrorDomain is the domain of the ErrorInfo details the gRPC and Connect
// adapters attach to their errors. iamd uses the same domain.
const ErrorDomain = "iam.gpucloud"

// Denial is the error of a denied check. It matches ErrPermissionDenied
// with errors.Is.
type Denial struct {
	Principal    string
	Organization string
	Action       string
}

// Error names the action and the roles that grant it.
func (d *Denial) Error() string {
	msg := fmt.Sprintf("%s may not perform %s in organization %s",
		d.Principal, d.Action, d.Organization)
	roles := d.Roles()
	if len(roles) == 0 {
		return msg
	}
	return msg + "; ask an administrator of " + d.Organization +
		" for a role that grants it (" + strings.Join(roles, ", ") + ")"
}

// Is makes errors.Is(d, ErrPermissionDenied) true.
func (d *Denial) Is(target error) bool {
	return target == ErrPermissionDenied
}

// Roles returns the names of the roles that grant the denied action, in
// catalog order.
func (d *Denial) Roles() []string {
	return catalog.RoleNamesGranting(d.Action)
}

// unavailable wraps a failure of the permission service.
func unavailable(cause error) error {
	if errors.Is(cause, ErrUnavailable) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}

// Kind is what an adapter's error means for the response it sends.
type Kind int

// The kinds of adapter error, in the order KindOf tests them.
// KindUnavailable is the zero value, so that an error nobody classified
// is answered as a failure, never as anything weaker.
const (
	KindUnavailable Kind = iota
	KindPermissionDenied
	KindUnauthenticated
	KindInvalid
)

// String returns the kind's name, as used in JSON error bodies.
func (k Kind) String() string {
	switch k {
	case KindPermissionDenied:
		return "permission_denied"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindInvalid:
		return "invalid_argument"
	default:
		return "unavailable"
	}
}

// KindOf classifies an error. ErrUnavailable wins over everything else
// in the chain: a failure stays a failure whatever it wraps.
func KindOf(err error) Kind {
	switch {
	case errors.Is(err, ErrUnavailable):
		return KindUnavailable
	case errors.Is(err, ErrPermissionDenied):
		return KindPermissionDenied
	case errors.Is(err, ErrUnauthenticated):
		return KindUnauthenticated
	case errors.Is(err, ErrInvalid):
		return KindInvalid
	default:
		return KindUnavailable
	}
}

// UnavailableMessage is all a client learns when the permission service
// fails: the cause may name internal hosts, so it goes to the service's
// log only. Every adapter answers with it.
const UnavailableMessage = "the permission service could not answer; " +
	"the call was refused; retry later"
