// Package authz is the shared vocabulary of the service adapters: the
// Checker interface that both the iamd client (package iamclient) and the
// direct SpiceDB mode (package spicedbcheck) implement, the requests and
// answers they exchange, the errors they return, and the steps every
// transport adapter shares (finding the subject of a request, enforcing
// an action, describing a denial).
//
// The adapters for net/http (httpauthz), gRPC (grpcauthz) and Connect
// (connectauthz) are thin: each reads its transport's headers, calls
// Enforce and turns the outcome into its transport's status.
//
// # Failing closed
//
// Enforce returns nil only when a Checker answered "allowed" without an
// error. Every other outcome is an error: a denial (ErrPermissionDenied),
// a request the permission service rejected (ErrInvalid), or a failure
// of the permission service or of the service's own credentials
// (ErrUnavailable). No adapter turns an error into an allow.
//
// # Consistency tokens
//
// Every write to iamd returns a ZedToken. A check that carries it is
// answered at least as fresh as that write, so a revocation is never
// missed by a request that presents the revocation's token. The adapters
// read the token from the ConsistencyTokenHeader request header or from
// the context (WithConsistencyToken) and pass it on to the Checker.
package authz

import (
	"context"
)

// Subject is who makes a request and in which organization it acts.
type Subject struct {
	// Principal is "user:<id>" or "serviceaccount:<id>".
	Principal string

	// Organization is the six-hex-digit ID of the organization the
	// request acts in.
	Organization string
}

// CheckRequest asks whether a principal may perform a console action in
// an organization.
type CheckRequest struct {
	Organization string
	Principal    string

	// Action is a console action such as "cks.clusters.create".
	Action string

	// ConsistencyToken, when set, is a ZedToken from a write: the answer
	// reflects every change up to that write.
	ConsistencyToken string
}

// RoleRequest asks whether a principal holds a role (or a role that
// includes it) in an organization.
type RoleRequest struct {
	Organization string
	Principal    string

	// Role is a role name or ID in any common spelling, such as
	// "CKS Admin" or "cks-admin".
	Role string

	// ConsistencyToken is as in CheckRequest.
	ConsistencyToken string
}

// Decision is the answer to one check.
type Decision struct {
	Allowed bool

	// ConsistencyToken is the ZedToken the check was evaluated at.
	ConsistencyToken string
}

// BulkDecision answers many checks at one snapshot.
type BulkDecision struct {
	// Allowed holds one answer per check, in request order.
	Allowed []bool

	// ConsistencyToken is the ZedToken the checks were evaluated at.
	ConsistencyToken string
}

// Identity is what the permission service knows of a principal.
type Identity struct {
	Principal string

	// Organization is empty for the operator.
	Organization string

	// Operator is true for iamd's operator token, which belongs to no
	// organization.
	Operator bool

	// Groups, Roles and Actions are those the principal holds, directly
	// or through groups.
	Groups  []string
	Roles   []string
	Actions []string
}

// Checker answers permission checks. Implementations are safe for
// concurrent use, and return an error, never an allow, when they cannot
// answer: errors wrap ErrInvalid for a request the permission service
// rejects and ErrUnavailable for everything else that went wrong.
type Checker interface {
	// Check answers one action check.
	Check(ctx context.Context, req CheckRequest) (Decision, error)

	// CheckRole answers one role check.
	CheckRole(ctx context.Context, req RoleRequest) (Decision, error)

	// CheckBulk answers many action checks at one snapshot. The checks
	// carry the same ConsistencyToken, or none. If any check fails, the
	// whole call fails.
	CheckBulk(ctx context.Context, reqs []CheckRequest) (BulkDecision, error)
}

// Identifier tells who holds a bearer token. The iamd client implements
// it with iamd's WhoAmI.
type Identifier interface {
	// Identify returns the identity of the token's holder. A token the
	// permission service rejects is an error wrapping
	// ErrUnauthenticated.
	Identify(ctx context.Context, bearerToken string) (Identity, error)
}
