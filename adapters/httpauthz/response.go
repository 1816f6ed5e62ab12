package httpauthz

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gpucloud/iam/adapters/authz"
)

// ErrorBody is the JSON body of every refusal.
type ErrorBody struct {
	// Code is "unauthenticated", "invalid_argument",
	// "permission_denied" or "unavailable".
	Code string `json:"code"`

	// Message says what went wrong and what to do about it.
	Message string `json:"message"`

	// Action is the console action the route requires.
	Action string `json:"action"`

	// Organization and Roles are set on a denial: where the action was
	// denied, and the roles that grant it.
	Organization string   `json:"organization,omitempty"`
	Roles        []string `json:"roles,omitempty"`
}

// statuses maps each kind of refusal to its HTTP status.
var statuses = map[authz.Kind]int{
	authz.KindUnauthenticated:  http.StatusUnauthorized,
	authz.KindInvalid:          http.StatusBadRequest,
	authz.KindPermissionDenied: http.StatusForbidden,
	authz.KindUnavailable:      http.StatusServiceUnavailable,
}

// fail answers a refused request.
func (a *Authorizer) fail(w http.ResponseWriter, r *http.Request, action string, err error) {
	kind := authz.KindOf(err)
	body := ErrorBody{Code: kind.String(), Message: err.Error(), Action: action}

	var denial *authz.Denial
	switch {
	case kind == authz.KindPermissionDenied && errors.As(err, &denial):
		body.Organization = denial.Organization
		body.Roles = denial.Roles()
	case kind == authz.KindUnauthenticated:
		w.Header().Set("WWW-Authenticate", "Bearer")
	case kind == authz.KindUnavailable:
		body.Message = authz.UnavailableMessage
		w.Header().Set("Retry-After", "1")
		a.logFailure(r, action, err)
	}

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(statuses[kind])
	_ = json.NewEncoder(w).Encode(body)
}

// logFailure logs a failed check once, here, where it is answered. A
// refusal of the service's own credentials is a deployment mistake that
// retrying will not fix, so it is logged as an error.
func (a *Authorizer) logFailure(r *http.Request, action string, err error) {
	ctx := r.Context()
	attrs := []any{
		"action", action, "method", r.Method, "path", r.URL.Path,
		"error", err.Error(),
	}
	if id := r.Header.Get(authz.RequestIDHeader); authz.SaneRequestID(id) {
		attrs = append(attrs, "request_id", id)
	}

	if errors.Is(err, authz.ErrForbidden) || errors.Is(err, authz.ErrUnauthenticated) {
		a.log.ErrorContext(ctx, "the permission service refused this "+
			"service's credentials; every request is refused until "+
			"they are fixed", attrs...)
		return
	}
	a.log.WarnContext(ctx, "authorization could not be decided; request refused",
		attrs...)
}
