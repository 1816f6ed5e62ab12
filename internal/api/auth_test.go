package api_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/iam"
)

// forge rewrites the subject of a signed token, keeping its signature.
func forge(t *testing.T, token, from, to string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	forged := strings.Replace(string(payload), from, to, 1)
	require.NotEqual(t, string(payload), forged)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

// TestAuthentication refuses every call without a valid bearer token,
// before it does anything.
func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	// A member removed from its organization keeps a token that has not
	// expired, but may use it no more.
	leaver := freshMember(t, f, orgA)
	leaverToken := f.Token(t, leaver)
	_, err := f.Service.WriteRelationships(ctx, orgA, []iam.RawUpdate{{
		Delete: true, Relationship: "organization:" + orgA + "#member@" + leaver,
	}})
	require.NoError(t, err)

	plain := f.tokens[plainA]
	cases := []struct {
		name   string
		header string // the Authorization header; empty sends none
		says   string // part of the message
	}{
		{"no token", "", "no bearer token"},
		{"basic auth", "Basic dXNlcjpwYXNz", "not a bearer token"},
		{"empty bearer", "Bearer ", "not a bearer token"},
		{"garbage", "Bearer hello", "malformed"},
		{"operator token prefix", "Bearer " + f.OperatorToken[:20], "malformed"},
		{"signature cut", "Bearer " + plain[:len(plain)-2], "signature"},
		{"subject forged", "Bearer " + forge(t, plain, plainA, adminA), "signature"},
		{"removed member", "Bearer " + leaverToken, "belongs to no organization"},
	}

	for _, proto := range protocols {
		for _, tc := range cases {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				c := f.ClientAs("", append(proto.opts, connect.WithInterceptors(
					setHeader("Authorization", tc.header)))...)
				group := name("unauthenticated")

				_, err := c.CreateGroup(ctx, connect.NewRequest(&iamv1.CreateGroupRequest{
					OrganizationId: orgA, Name: group,
				}))
				ce := requireCode(t, connect.CodeUnauthenticated, err)
				require.Contains(t, ce.Message(), tc.says)

				_, err = f.Service.GetGroup(ctx, orgA, group)
				require.Error(t, err, "an unauthenticated call wrote")
			})
		}
	}
}

// TestTokensDoNotCrossServers: a token verifies only under the key that
// signed it.
func TestTokensDoNotCrossServers(t *testing.T) {
	f := newFixture(t)
	other := apitest.NewServer(t)
	_, err := other.Service.CreateOrganization(t.Context(), orgA, adminA)
	require.NoError(t, err)

	foreign := other.Token(t, adminA)
	_, err = f.ClientAs(foreign).WhoAmI(t.Context(),
		connect.NewRequest(&iamv1.WhoAmIRequest{}))
	ce := requireCode(t, connect.CodeUnauthenticated, err)
	require.Contains(t, ce.Message(), "another signing key")

	_, err = f.ClientAs(other.OperatorToken).ListOrganizations(t.Context(),
		connect.NewRequest(&iamv1.ListOrganizationsRequest{}))
	requireCode(t, connect.CodeUnauthenticated, err)
}

// setHeader is a client interceptor that sets a header, or, with an empty
// value, sends none.
func setHeader(key, value string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if value != "" {
				req.Header().Set(key, value)
			}
			return next(ctx, req)
		}
	}
}
