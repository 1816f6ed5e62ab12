package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/iam"
)

// post sends body to method as JSON over the Connect protocol, with the
// operator token, and returns the status and the body of the answer.
func post(t *testing.T, f *fixture, method, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		f.URL+"/iam.v1.IAMService/"+method, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+f.OperatorToken)

	resp, err := f.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(answer)
}

// TestJSONCheckShowsDenials answers a denied check over JSON with
// "allowed": false: protobuf's JSON would leave the field out.
func TestJSONCheckShowsDenials(t *testing.T) {
	f := newFixture(t)
	check := func(action string) string {
		return `{"organization_id":"` + orgA + `","principal":"` + plainA +
			`","action":"` + action + `"}`
	}

	cases := []struct {
		method, body string
		want         any
	}{
		{"Check", check("iam.policies.update"), false},
		{"Check", `{"organization_id":"` + orgA + `","principal":"` + adminA +
			`","action":"iam.policies.update"}`, true},
		{"CheckBulk", `{"checks":[` + check("iam.policies.update") + `]}`,
			[]any{false}},
	}
	for _, tc := range cases {
		t.Run(tc.method+"/"+strconv.Quote(tc.body), func(t *testing.T) {
			status, body := post(t, f, tc.method, "application/json", tc.body)
			require.Equal(t, http.StatusOK, status, body)

			var answer map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &answer))
			require.Contains(t, answer, "allowed", body)
			require.Equal(t, tc.want, answer["allowed"])
		})
	}
}

// TestUndecodableRequests refuses bodies that do not decode, and bodies
// with fields or enum values the API does not know, with InvalidArgument
// naming the problem and no Go type, and writes nothing.
func TestUndecodableRequests(t *testing.T) {
	f := newFixture(t)
	rel := "organization:" + orgA + "#member@user:" + name("x") + "@example.com"

	cases := []struct {
		name, method, contentType, body string
		says                            string
	}{
		{"unknown field", "AddMember", "application/json",
			`{"organization_id":"` + orgA + `","principle":"user:x@example.com"}`,
			`unknown field "principle"`},
		{"unknown enum value", "WriteRelationships", "application/json",
			`{"organization_id":"` + orgA + `","updates":[{"operation":` +
				`"OPERATION_TOCH","relationship":"` + rel + `"}]}`,
			`OPERATION_TOCH`},
		{"wrong type", "CreateGroup", "application/json",
			`{"organization_id":"` + orgA + `","name":7}`, `name`},
		{"truncated", "Check", "application/json",
			`{"organization_id":`, "iam.v1.CheckRequest"},
		{"empty", "WhoAmI", "application/json", ``, "empty"},
		{"charset", "AddMember", "application/json; charset=utf-8",
			`{"organization_id":"` + orgA + `","principle":"user:x@example.com"}`,
			`unknown field "principle"`},
		{"binary garbage", "Check", "application/proto", "\xff\xff\xff",
			"not a valid protobuf iam.v1.CheckRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := f.Service.ReadRelationships(t.Context(), orgA, "")
			require.NoError(t, err)

			status, body := post(t, f, tc.method, tc.contentType, tc.body)
			require.Equal(t, http.StatusBadRequest, status, body)
			var answer struct{ Code, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &answer))
			require.Equal(t, "invalid_argument", answer.Code)
			require.Contains(t, answer.Message, tc.says)
			require.NotContains(t, answer.Message, "iamv1.")
			require.NotContains(t, answer.Message, "unmarshal into")
			require.NotContains(t, answer.Message, "not set")

			after, err := f.Service.ReadRelationships(t.Context(), orgA, "")
			require.NoError(t, err)
			require.Equal(t, before, after, "a refused request wrote")
		})
	}
}

// TestRequestSizeLimits refuses a request over its method's limit with
// InvalidArgument naming the limit, whether it arrives large or expands
// from a small compressed body, and takes large requests where the
// method needs them.
func TestRequestSizeLimits(t *testing.T) {
	f := newFixture(t)
	huge := "user:" + strings.Repeat("a", api.MaxRequestBytes) + "@example.com"
	hugeDoc := "organizations:\n  - id: " + orgA + "\n#" +
		strings.Repeat("x", api.MaxApplyRequestBytes) + "\n"

	for _, proto := range protocols {
		for _, gzip := range []bool{false, true} {
			opts := proto.opts
			label := proto.name
			if gzip {
				opts = append(opts, connect.WithSendGzip())
				label += "+gzip"
			}
			c := f.as(api.OperatorPrincipal, opts)

			t.Run(label+"/Check over the limit", func(t *testing.T) {
				err := rpc(t.Context(), c.Check, &iamv1.CheckRequest{
					OrganizationId: orgA, Principal: huge, Action: "iam.users.list",
				})
				ce := requireCode(t, connect.CodeInvalidArgument, err)
				require.Contains(t, ce.Message(),
					strconv.Itoa(api.MaxRequestBytes)+"-byte limit")
				require.NotEmpty(t, errorInfo(t, err).GetMetadata()["fix"])
			})

			t.Run(label+"/Apply over the limit", func(t *testing.T) {
				err := rpc(t.Context(), c.Apply, &iamv1.ApplyRequest{
					Document: hugeDoc, DryRun: true,
				})
				ce := requireCode(t, connect.CodeInvalidArgument, err)
				require.Contains(t, ce.Message(),
					strconv.Itoa(api.MaxApplyRequestBytes)+"-byte limit")
			})
		}

		c := f.as(api.OperatorPrincipal, proto.opts)
		t.Run(proto.name+"/CheckBulk above the default limit", func(t *testing.T) {
			checks := make([]*iamv1.CheckRequest, iam.MaxBulkChecks)
			for i := range checks {
				checks[i] = &iamv1.CheckRequest{
					OrganizationId: orgA, Action: "iam.users.list",
					Principal: "user:" + strings.Repeat("b", 200) + "@example.com",
				}
			}
			resp, err := c.CheckBulk(t.Context(),
				connect.NewRequest(&iamv1.CheckBulkRequest{Checks: checks}))
			require.NoError(t, err)
			require.Len(t, resp.Msg.GetAllowed(), iam.MaxBulkChecks)
		})

		t.Run(proto.name+"/Apply above the list limit", func(t *testing.T) {
			doc := "organizations:\n  - id: " + orgA + "\n#" +
				strings.Repeat("x", 2*api.MaxListRequestBytes) + "\n"
			resp, err := c.Apply(t.Context(), connect.NewRequest(
				&iamv1.ApplyRequest{Document: doc, DryRun: true}))
			require.NoError(t, err)
			require.False(t, resp.Msg.GetApplied())
		})
	}
}

// TestRequestIDRefusesSecrets never takes a secret for a request ID,
// even one that looks sane: it would be echoed, logged and stored.
func TestRequestIDRefusesSecrets(t *testing.T) {
	f := newFixture(t)

	_, _, echoed := get(t, f.Server, "/healthz", f.OperatorToken)
	require.NotEqual(t, f.OperatorToken, echoed)

	token := f.tokens[adminA]
	opts := append(protocols[0].opts, connect.WithInterceptors(
		setHeader(api.RequestIDHeader, token)))
	resp, err := f.as(adminA, opts).WhoAmI(t.Context(),
		connect.NewRequest(&iamv1.WhoAmIRequest{}))
	require.NoError(t, err)
	require.NotEqual(t, token, resp.Header().Get(api.RequestIDHeader))
}

// TestErrorsSpellFieldsAsRequests names the organization as requests do,
// "organization_id", whichever layer found the problem.
func TestErrorsSpellFieldsAsRequests(t *testing.T) {
	f := newFixture(t)
	c := f.as(api.OperatorPrincipal, protocols[0].opts)

	err := rpc(t.Context(), c.CreateGroup, &iamv1.CreateGroupRequest{
		OrganizationId: "XYZ", Name: "ops",
	})
	requireCode(t, connect.CodeInvalidArgument, err)
	require.Equal(t, "organization_id", errorInfo(t, err).GetMetadata()["field"])

	err = rpc(t.Context(), c.CheckBulk, &iamv1.CheckBulkRequest{
		Checks: []*iamv1.CheckRequest{
			{OrganizationId: orgA, Principal: adminA, Action: "iam.users.list"},
			{OrganizationId: "XYZ", Principal: adminA, Action: "iam.users.list"},
		},
	})
	ce := requireCode(t, connect.CodeInvalidArgument, err)
	require.Equal(t, "checks[1].organization_id",
		errorInfo(t, err).GetMetadata()["field"])
	require.Contains(t, ce.Message(), "checks[1].organization_id")
}

// TestErrorInfoIsBoundedUTF8 sends names far too long, of two- and
// three-byte characters at every alignment, so that a cut may fall inside
// one: the ErrorInfo survives, each value valid UTF-8 and bounded.
// TestConnectErrorSanitizes covers bytes that are no UTF-8 at all.
func TestErrorInfoIsBoundedUTF8(t *testing.T) {
	f := newFixture(t)
	var values []string
	for _, char := range []string{"é", "€"} {
		for pad := range 3 {
			values = append(values,
				strings.Repeat("a", pad)+strings.Repeat(char, 4096))
		}
	}

	for _, proto := range protocols {
		c := f.as(api.OperatorPrincipal, proto.opts)
		for i, value := range values {
			t.Run(proto.name+"/"+strconv.Itoa(i), func(t *testing.T) {
				err := rpc(t.Context(), c.CreateGroup, &iamv1.CreateGroupRequest{
					OrganizationId: orgA, Name: value,
				})
				ce := requireCode(t, connect.CodeInvalidArgument, err)
				require.True(t, utf8.ValidString(ce.Message()))
				md := errorInfo(t, err).GetMetadata()
				require.Equal(t, "group", md["field"])
				for k, v := range md {
					require.True(t, utf8.ValidString(v), k)
					require.LessOrEqual(t, len(v), 1024, k)
				}
			})
		}
	}
}

// TestMovedPrincipalsTokenNamesNoOrganization refuses the token of a
// principal now in another organization without naming either.
func TestMovedPrincipalsTokenNamesNoOrganization(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mover := "user:" + name("mover") + "@example.com"
	_, err := f.Service.AddMember(ctx, orgA, mover)
	require.NoError(t, err)
	token := f.Token(t, mover)

	_, err = f.Service.WriteRelationships(ctx, orgA, []iam.RawUpdate{{
		Delete: true, Relationship: "organization:" + orgA + "#member@" + mover,
	}})
	require.NoError(t, err)
	_, err = f.Service.AddMember(ctx, orgB, mover)
	require.NoError(t, err)

	_, err = f.ClientAs(token).WhoAmI(ctx, connect.NewRequest(&iamv1.WhoAmIRequest{}))
	ce := requireCode(t, connect.CodeUnauthenticated, err)
	require.Contains(t, ce.Message(), "mint a new token")
	require.NotContains(t, ce.Message(), orgA)
	require.NotContains(t, ce.Message(), orgB)
}
