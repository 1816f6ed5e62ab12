// Package iam is the facade of the permission service: it translates
// organizations, policies, rules, groups, legacy groups, role names and
// console actions into SpiceDB relationships and permission checks.
//
// Every method validates all of its input before it writes anything, writes
// at most once (one atomic WriteRelationships), and returns the ZedToken of
// that write so that a later check can ask to be at least as fresh.
package iam

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gpucloud/iam/internal/iamerr"
)

// Engine is the part of SpiceDB's v1 API the facade uses. Both the
// embedded and the remote engine provide it.
type Engine interface {
	v1.PermissionsServiceClient
}

// Service is the facade. It is safe for concurrent use.
type Service struct {
	engine Engine

	// fullyConsistentChecks applies to checks that bring no ZedToken.
	fullyConsistentChecks bool
}

// Option configures a Service.
type Option func(*Service)

// WithFullyConsistentChecks makes checks without a ZedToken read the
// newest data instead of SpiceDB's slightly cached snapshot. It costs
// latency; passing the ZedToken of a write is the cheaper way to see it.
func WithFullyConsistentChecks(on bool) Option {
	return func(s *Service) { s.fullyConsistentChecks = on }
}

// New returns a facade over engine, whose schema must already be written.
func New(engine Engine, opts ...Option) *Service {
	s := &Service{engine: engine}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// checkConsistency answers a check at least as fresh as token, if given,
// or fully consistent when asked.
func (s *Service) checkConsistency(token string, full bool) *v1.Consistency {
	if full {
		return fullyConsistent()
	}
	if token != "" {
		return atLeastAsFresh(token)
	}
	if s.fullyConsistentChecks {
		return fullyConsistent()
	}
	return &v1.Consistency{
		Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true},
	}
}

// readConsistency is used by administrative reads, which must show the
// newest state: an administrator edits what she reads.
func readConsistency(token string) *v1.Consistency {
	if token != "" {
		return atLeastAsFresh(token)
	}
	return fullyConsistent()
}

func atLeastAsFresh(token string) *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{
		AtLeastAsFresh: &v1.ZedToken{Token: token},
	}}
}

func fullyConsistent() *v1.Consistency {
	return &v1.Consistency{
		Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true},
	}
}

// engineError classifies an error from SpiceDB; token is the ZedToken the
// call carried, if any. Anything that is not clearly the caller's fault is
// Unavailable or Internal: never an allow.
func engineError(op, token string, err error) error {
	if err == nil {
		return nil
	}
	var classified *iamerr.Error
	if errors.As(err, &classified) {
		return err
	}

	switch code := status.Code(err); code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Aborted:
		return iamerr.Wrap(iamerr.Unavailable, err,
			"the permission engine is unavailable", "retry later")
	case codes.Canceled:
		return iamerr.Wrap(iamerr.Unavailable, err,
			"the request was canceled", "retry")
	case codes.OutOfRange:
		// A well-formed token of a revision this datastore has not
		// reached: from another datastore, or made up.
		if token != "" {
			return iamerr.Invalid("consistency_token", token,
				"the ZedToken names a revision this service has not reached",
				"pass a token returned by this service, or none")
		}
	case codes.InvalidArgument:
		if st, ok := status.FromError(err); ok && isZedTokenError(st.Message()) {
			return iamerr.Invalid("consistency_token", token,
				"the ZedToken is malformed or too old",
				"pass a token returned by a recent call, or none")
		}
	}

	// Not logged here: the edge that handles the error logs it once.
	return iamerr.Wrap(iamerr.Internal, err,
		fmt.Sprintf("%s failed in the permission engine", op),
		"retry; if it persists, report it to the operator")
}

// isZedTokenError reports whether SpiceDB rejected a request for its
// ZedToken rather than for anything the facade built.
func isZedTokenError(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "zedtoken") || strings.Contains(m, "revision")
}
