package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/gpucloud/iam/internal/catalog"
)

// ValidateAction returns the canonical form of a console action. An
// unknown action is an error wrapping ErrInvalid that suggests the
// closest known one. The adapters validate their actions when they are
// built, so that a typo stops the service at start instead of denying
// every request.
func ValidateAction(action string) (string, error) {
	canonical, err := catalog.LookupAction("action", action)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return canonical, nil
}

// Enforce asks c whether req may proceed. It returns nil only when c
// answered "allowed" without an error. Otherwise it returns a *Denial
// (ErrPermissionDenied), the checker's ErrInvalid error for a malformed
// request, or an error wrapping ErrUnavailable for any other failure,
// including a checker whose own credentials were refused.
func Enforce(ctx context.Context, c Checker, req CheckRequest) error {
	switch {
	case req.Principal == "":
		return fmt.Errorf("%w: the request names no principal",
			ErrUnauthenticated)
	case req.Organization == "":
		return fmt.Errorf("%w: organization \"\": the request names no "+
			"organization; address a resource of one", ErrInvalid)
	}

	d, err := c.Check(ctx, req)
	switch {
	case err == nil && d.Allowed:
		return nil
	case err == nil:
		return &Denial{
			Principal:    req.Principal,
			Organization: req.Organization,
			Action:       req.Action,
		}
	case errors.Is(err, ErrInvalid):
		return err
	default:
		return unavailable(err)
	}
}
