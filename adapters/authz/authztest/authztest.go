// Package authztest provides in-memory stand-ins for the adapters'
// Checker and Identifier, for unit tests of services that use the
// adapters. They answer from tables the test fills, record what they
// were asked, and fail on demand, so that a test can prove its service
// denies on a failure.
package authztest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gpucloud/iam/adapters/authz"
)

// Checker answers checks from grants the test made. It is safe for
// concurrent use.
type Checker struct {
	mu       sync.Mutex
	actions  map[grant]bool
	roles    map[grant]bool
	err      error
	requests []authz.CheckRequest
	calls    int
}

type grant struct {
	org, principal, name string
}

var _ authz.Checker = (*Checker)(nil)

// NewChecker returns a checker that denies everything.
func NewChecker() *Checker {
	return &Checker{actions: map[grant]bool{}, roles: map[grant]bool{}}
}

// Grant allows principal to perform actions in org.
func (c *Checker) Grant(org, principal string, actions ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range actions {
		c.actions[grant{org, principal, strings.ToLower(a)}] = true
	}
}

// Revoke undoes Grant.
func (c *Checker) Revoke(org, principal string, actions ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range actions {
		delete(c.actions, grant{org, principal, strings.ToLower(a)})
	}
}

// GrantRole makes principal hold roles in org, for CheckRole.
func (c *Checker) GrantRole(org, principal string, roles ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range roles {
		c.roles[grant{org, principal, strings.ToLower(r)}] = true
	}
}

// Fail makes every call fail with err until Fail(nil). The error is
// returned as is, so a test can fail with an error of any kind.
func (c *Checker) Fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// Calls returns how many calls the checker answered or failed.
func (c *Checker) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Requests returns every action check asked so far, bulk ones included,
// in order.
func (c *Checker) Requests() []authz.CheckRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]authz.CheckRequest(nil), c.requests...)
}

// Check answers from the grants.
func (c *Checker) Check(
	_ context.Context, req authz.CheckRequest,
) (authz.Decision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.requests = append(c.requests, req)
	if c.err != nil {
		return authz.Decision{}, c.err
	}

	g := grant{req.Organization, req.Principal, strings.ToLower(req.Action)}
	return authz.Decision{Allowed: c.actions[g]}, nil
}

// CheckRole answers from the role grants.
func (c *Checker) CheckRole(
	_ context.Context, req authz.RoleRequest,
) (authz.Decision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.err != nil {
		return authz.Decision{}, c.err
	}

	g := grant{req.Organization, req.Principal, strings.ToLower(req.Role)}
	return authz.Decision{Allowed: c.roles[g]}, nil
}

// CheckBulk answers every check from the grants, in order.
func (c *Checker) CheckBulk(
	_ context.Context, reqs []authz.CheckRequest,
) (authz.BulkDecision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.requests = append(c.requests, reqs...)
	if c.err != nil {
		return authz.BulkDecision{}, c.err
	}

	out := authz.BulkDecision{Allowed: make([]bool, len(reqs))}
	for i, req := range reqs {
		g := grant{req.Organization, req.Principal, strings.ToLower(req.Action)}
		out.Allowed[i] = c.actions[g]
	}
	return out, nil
}

// Identifier maps bearer tokens to identities. An unknown token is
// rejected as the permission service would reject it.
type Identifier map[string]authz.Identity

var _ authz.Identifier = Identifier(nil)

// Identify looks token up.
func (m Identifier) Identify(
	_ context.Context, token string,
) (authz.Identity, error) {
	id, ok := m[token]
	if !ok {
		return authz.Identity{}, fmt.Errorf("%w: unknown token",
			authz.ErrUnauthenticated)
	}
	return id, nil
}
