package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api/apitest"
)

// ran is the outcome of one in-process iamctl run.
type ran struct {
	code   int
	stdout string
	stderr string
}

// iamctl runs the CLI against url with token in IAMCTL_TOKEN.
func iamctl(t *testing.T, url, token string, args ...string) ran {
	t.Helper()
	return iamctlIn(t, url, token, "", args...)
}

// iamctlIn is iamctl with stdin.
func iamctlIn(t *testing.T, url, token, stdin string, args ...string) ran {
	t.Helper()
	env := map[string]string{EnvServer: url, EnvToken: token}

	var out, errOut bytes.Buffer
	code := Run(t.Context(), args, Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return ran{code: code, stdout: out.String(), stderr: errOut.String()}
}

// expect checks the exit code and that stdout (or stderr, on failure)
// holds every fragment.
func (r ran) expect(t *testing.T, code int, fragments ...string) {
	t.Helper()
	require.Equal(t, code, r.code,
		"stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)

	where := r.stdout
	if code == ExitError {
		where = r.stderr
		require.Empty(t, r.stdout)
	} else {
		require.Empty(t, r.stderr)
	}
	for _, f := range fragments {
		require.Contains(t, where, f)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

const engAccess = `
organizations:
  - id: ab1cd2
    groups:
      - name: eng
        members: [user:dev@example.com]
    policies:
      - id: eng-access
        description: Engineers run clusters
        rules:
          - principals: [group:eng]
            roles: [CKS Admin]
`

// TestCommandsEndToEnd drives every command against a real server, once
// per protocol.
func TestCommandsEndToEnd(t *testing.T) {
	for _, protocol := range []string{"connect", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			srv := apitest.NewServer(t)
			op := srv.OperatorToken
			run := func(token string, args ...string) ran {
				t.Helper()
				if protocol == "grpc" {
					args = append([]string{"--grpc"}, args...)
				}
				return iamctl(t, srv.URL, token, args...)
			}
			scenario(t, srv, op, run)
		})
	}
}

func scenario(
	t *testing.T, srv *apitest.Server, op string,
	run func(token string, args ...string) ran,
) {
	const org = "ab1cd2"
	const dev = "user:dev@example.com"

	// Organizations and members.
	run(op, "create", "org", org, "--first-user",
		"user:admin@example.com").
		expect(t, ExitOK, "created organization ab1cd2")
	run(op, "create", "org", org, "--first-user",
		"user:other@example.com").
		expect(t, ExitError, "already_exists", "already exists")
	run(op, "list", "orgs").
		expect(t, ExitOK, "ORGANIZATION\nab1cd2\n")
	run(op, "members", "add", org, dev).
		expect(t, ExitOK, "added user:dev@example.com")
	run(op, "list", "members", org).
		expect(t, ExitOK, "user:admin@example.com", dev)

	// Groups.
	run(op, "create", "group", org, "eng").
		expect(t, ExitOK, "created group ab1cd2/eng")
	run(op, "groups", "add-member", org, "eng", dev).
		expect(t, ExitOK, "added user:dev@example.com to group ab1cd2/eng")
	run(op, "get", "group", org, "eng").
		expect(t, ExitOK, "group:  ab1cd2/eng", "MEMBER\n"+dev+"\n")
	run(op, "list", "groups", org).
		expect(t, ExitOK, "GROUP  MEMBERS\neng    1\n")

	// A dry run plans and writes nothing: the check stays denied.
	file := writeFile(t, "org.yaml", engAccess)
	run(op, "apply", "-f", file, "--dry-run").
		expect(t, ExitOK, "+ policy ab1cd2/eng-access (1 rules)",
			"dry run: 1 change planned, nothing written")
	checkArgs := []string{"check", "--org", org, "--principal", dev}
	run(op, append(checkArgs, "--action", "cks.clusters.create")...).
		expect(t, ExitDenied, "denied\n")

	run(op, "apply", "-f", file).
		expect(t, ExitOK, "+ policy ab1cd2/eng-access", "applied 1 change")
	run(op, "apply", "-f", file).expect(t, ExitOK, "no changes")

	// Checks: allowed 0, denied 1, error 2.
	run(op, append(checkArgs, "--action", "cks.clusters.create")...).
		expect(t, ExitOK, "allowed\n")
	run(op, append(checkArgs, "--role", "cks-viewer")...).
		expect(t, ExitOK, "allowed\n")
	run(op, append(checkArgs, "--role", "IAM Admin")...).
		expect(t, ExitDenied, "denied\n")
	run(op, append(checkArgs, "--action", "cks.clusters.creat")...).
		expect(t, ExitError, "invalid_argument",
			`did you mean "cks.clusters.create"`)
	run(op, "check", "--org", "zz", "--principal", dev,
		"--action", "cks.clusters.create").
		expect(t, ExitError, "invalid_argument")

	// Policies.
	run(op, "get", "policy", org, "eng-access").
		expect(t, ExitOK, "description:  Engineers run clusters",
			"1     group:eng  cks-admin")
	run(op, "list", "policies", org).
		expect(t, ExitOK, "eng-access", "legacy-admin", "legacy-read")

	// Legacy groups.
	run(op, "legacy", "assign", org, "read", dev).
		expect(t, ExitOK, "assigned user:dev@example.com to legacy group read")
	run(op, append(checkArgs, "--action", "iam.users.list")...).
		expect(t, ExitOK, "allowed\n")
	run(op, "legacy", "unassign", org, "read", dev).
		expect(t, ExitOK, "unassigned")
	run(op, "legacy", "unassign", org, "read", dev).
		expect(t, ExitError, "not_found")
	run(op, "legacy", "assign", org, "reed", dev).
		expect(t, ExitError, `did you mean "read"`)

	// Callers other than the operator.
	devToken := srv.Token(t, dev)
	run(devToken, "whoami").
		expect(t, ExitOK, "principal:     "+dev,
			"organization:  ab1cd2", "groups:        eng",
			"cks.clusters.delete")
	run(devToken, "create", "org", "c0ffee", "--first-user",
		"user:x@example.com").
		expect(t, ExitError, "permission_denied")
	run("", "list", "members", org).
		expect(t, ExitError, "unauthenticated", "set IAMCTL_TOKEN")

	minted := run(op, "token", "mint", dev, "--ttl", "10m")
	minted.expect(t, ExitOK)
	run(strings.TrimSpace(minted.stdout), "whoami").
		expect(t, ExitOK, "principal:     "+dev)

	// Deletes: a stale etag is refused, the current one accepted.
	run(op, "delete", "policy", org, "eng-access", "--etag", "stale").
		expect(t, ExitError, "aborted")
	got := run(op, "-o", "json", "get", "policy", org, "eng-access")
	got.expect(t, ExitOK)
	var policy struct {
		Policy struct{ Etag string } `json:"policy"`
	}
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &policy))
	require.NotEmpty(t, policy.Policy.Etag)
	run(op, "delete", "policy", org, "eng-access",
		"--etag", policy.Policy.Etag).
		expect(t, ExitOK, "deleted policy ab1cd2/eng-access")
	run(op, "delete", "policy", org, "legacy-read").
		expect(t, ExitError, "legacy-read")
	run(op, "groups", "remove-member", org, "eng", dev).
		expect(t, ExitOK, "removed user:dev@example.com from group ab1cd2/eng")
	run(op, "delete", "group", org, "eng").
		expect(t, ExitOK, "deleted group ab1cd2/eng")

	// The catalog.
	run(op, "roles").expect(t, ExitOK,
		"CKS Admin", "cks-admin", "cks-viewer", "cks.clusters.delete",
		"LEGACY GROUP", "billing_viewer  legacy-billing_viewer  billing-viewer")
}

func TestOutputFormatsEndToEnd(t *testing.T) {
	srv := apitest.NewServer(t)
	op := srv.OperatorToken
	iamctl(t, srv.URL, op, "create", "org", "ab1cd2",
		"--first-user", "user:admin@example.com").expect(t, ExitOK)

	tests := []struct {
		format string
		want   string
	}{
		{"json", "{\n  \"principals\": [\n    \"user:admin@example.com\"\n  ]\n}\n"},
		{"yaml", "principals:\n  - user:admin@example.com\n"},
		{"table", "PRINCIPAL\nuser:admin@example.com\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			r := iamctl(t, srv.URL, op, "-o", tt.format,
				"list", "members", "ab1cd2")
			r.expect(t, ExitOK)
			require.Equal(t, tt.want, r.stdout)
		})
	}

	// A check prints its response too, and still exits by decision.
	r := iamctl(t, srv.URL, op, "-o", "json", "check", "--org", "ab1cd2",
		"--principal", "user:admin@example.com", "--role", "billing-viewer")
	r.expect(t, ExitDenied, `"allowed": false`)
}

func TestApplyReadsStandardInput(t *testing.T) {
	srv := apitest.NewServer(t)
	doc := "organizations:\n  - id: ab1cd2\n" +
		"    first_user: user:admin@example.com\n"

	r := iamctlIn(t, srv.URL, srv.OperatorToken, doc,
		"apply", "-f", "-")
	r.expect(t, ExitOK, "+ organization ab1cd2", "applied")
}

// TestUsageErrors covers mistakes caught before any call: each exits 2
// and says what to fix. The server URL is never dialed.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"},
			`unknown command "frobnicate"`},
		{"unknown flag", []string{"list", "orgs", "--nope"},
			"unknown flag: --nope; see `iamctl list orgs --help`"},
		{"missing argument", []string{"get", "policy", "ab1cd2"},
			"accepts 2 arg(s), received 1"},
		{"unknown output", []string{"-o", "xml", "list", "orgs"},
			`--output "xml": unknown format`},
		{"bad timeout", []string{"--timeout", "0s", "list", "orgs"},
			"--timeout"},
		{"check without action or role", []string{
			"check", "--org", "ab1cd2", "--principal", "user:a"},
			"--action or --role is required"},
		{"check with both", []string{
			"check", "--org", "ab1cd2", "--principal", "user:a",
			"--action", "cks.clusters.get", "--role", "cks-admin"},
			"--action and --role: give only one"},
		{"check without principal", []string{
			"check", "--org", "ab1cd2", "--action", "cks.clusters.get"},
			`required flag(s) "principal" not set`},
		{"server not a URL", []string{
			"--server", "127.0.0.1:8080", "list", "orgs"},
			`--server "127.0.0.1:8080": not an http:// or https:// URL`},
		{"credentials in the URL", []string{
			"--server", "http://u:p@127.0.0.1:1", "list", "orgs"},
			"the URL holds credentials"},
		{"fractional ttl", []string{"token", "mint", "user:a",
			"--ttl", "1500ms"}, "not a whole number of seconds"},
		{"negative ttl", []string{"token", "mint", "user:a",
			"--ttl", "-1h"}, "must be positive"},
		{"missing file", []string{"apply", "-f",
			filepath.Join(t.TempDir(), "none.yaml")}, "no such file"},
		{"create org without first user", []string{
			"create", "org", "ab1cd2"},
			`required flag(s) "first-user" not set`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := iamctl(t, "http://127.0.0.1:1", "", tt.args...)
			r.expect(t, ExitError, tt.want)
			require.True(t, strings.HasPrefix(r.stderr, "iamctl: "))
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	// A loopback port that was just released refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	for _, args := range [][]string{
		{"list", "orgs"},
		{"--grpc", "list", "orgs"},
		{"check", "--org", "ab1cd2", "--principal", "user:a",
			"--action", "cks.clusters.get"},
	} {
		r := iamctl(t, gone, "", args...)
		r.expect(t, ExitError, "unavailable",
			"is iamd running at "+gone+"?")
	}
}

func TestTimeoutIsAnError(t *testing.T) {
	srv := apitest.NewServer(t)
	r := iamctl(t, srv.URL, srv.OperatorToken,
		"--timeout", "1ns", "list", "orgs")
	r.expect(t, ExitError, "deadline_exceeded", "--timeout 1ns")
}

func TestTokenIsNeverPrinted(t *testing.T) {
	srv := apitest.NewServer(t)
	secret := "not-a-real-token-but-a-secret-0123456789"

	runs := []ran{
		iamctl(t, srv.URL, secret, "--help"),
		iamctl(t, srv.URL, secret, "list", "--help"),
		iamctl(t, srv.URL, secret, "list", "orgs"),
		iamctl(t, srv.URL, secret, "-o", "json", "whoami"),
		iamctl(t, srv.URL, secret+" x", "list", "orgs"),
		iamctl(t, srv.URL, "", "--token", secret, "list", "orgs"),
		iamctl(t, srv.URL, "", "--token", secret, "--nope"),
	}
	for i, r := range runs {
		require.NotContains(t, r.stdout, secret, "run %d", i)
		require.NotContains(t, r.stderr, secret, "run %d", i)
	}
	require.Equal(t, ExitError, runs[2].code)
	require.Contains(t, runs[4].stderr,
		"the token holds a space or a non-ASCII character at byte 40")
	require.NotContains(t, srv.Log.String(), secret)
}

// TestProtocolFlag proves which protocol goes on the wire: the Connect
// protocol by default, gRPC over HTTP/2 cleartext with --grpc.
func TestProtocolFlag(t *testing.T) {
	seen := make(chan string, 1)
	_, handler := iamv1connect.NewIAMServiceHandler(orgLister{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			seen <- r.Proto + " " + r.Header.Get("Content-Type")
			handler.ServeHTTP(w, r)
		}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"list", "orgs"}, "HTTP/1.1 application/proto"},
		{[]string{"--grpc", "list", "orgs"}, "HTTP/2.0 application/grpc"},
	}
	for _, tt := range tests {
		iamctl(t, srv.URL, "", tt.args...).expect(t, ExitOK, "ab1cd2")
		require.Equal(t, tt.want, <-seen)
	}
}

// orgLister answers ListOrganizations, and nothing else.
type orgLister struct {
	iamv1connect.UnimplementedIAMServiceHandler
}

func (orgLister) ListOrganizations(
	context.Context, *connect.Request[iamv1.ListOrganizationsRequest],
) (*connect.Response[iamv1.ListOrganizationsResponse], error) {
	return connect.NewResponse(&iamv1.ListOrganizationsResponse{
		OrganizationIds: []string{"ab1cd2"},
	}), nil
}
