package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFlagsFromEnvironment: every flag has an IAMD_ variable, and a flag
// given on the command line wins over it.
func TestFlagsFromEnvironment(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want func(t *testing.T, f serveFlags)
	}{
		{"defaults", nil, nil, func(t *testing.T, f serveFlags) {
			require.Equal(t, "127.0.0.1:8080", f.addr)
			require.Equal(t, "memory", f.datastoreEngine)
			require.False(t, f.fullyConsistent)
			require.Equal(t, time.Minute, f.readTimeout)
			require.Equal(t, 2*time.Minute, f.requestTimeout)
		}},
		{"environment", map[string]string{
			"IAMD_ADDR":                    "127.0.0.1:9090",
			"IAMD_OPERATOR_TOKEN":          "from-the-environment",
			"IAMD_FULLY_CONSISTENT_CHECKS": "true",
			"IAMD_TOKEN_SIGNING_KEY_FILE":  "/run/secrets/key",
			"IAMD_REQUEST_TIMEOUT":         "30s",
		}, nil, func(t *testing.T, f serveFlags) {
			require.Equal(t, "127.0.0.1:9090", f.addr)
			require.Equal(t, "from-the-environment", f.operatorToken)
			require.True(t, f.fullyConsistent)
			require.Equal(t, "/run/secrets/key", f.signingKeyFile)
			require.Equal(t, 30*time.Second, f.config().RequestTimeout)
		}},
		{"flag wins", map[string]string{
			"IAMD_ADDR":      "127.0.0.1:9090",
			"IAMD_LOG_LEVEL": "debug",
		}, []string{"--addr", "127.0.0.1:7070"}, func(t *testing.T, f serveFlags) {
			require.Equal(t, "127.0.0.1:7070", f.addr)
			require.Equal(t, "debug", f.logLevel)
		}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var f serveFlags
			cmd := newServeCommand(&bytes.Buffer{}, &f)
			require.NoError(t, cmd.ParseFlags(tc.args))
			require.NoError(t, bindEnv(cmd.Flags()))
			tc.want(t, f)
		})
	}
}

// TestBadEnvironmentValue names the variable but not its value, which
// may be a secret.
func TestBadEnvironmentValue(t *testing.T) {
	t.Setenv("IAMD_SPICEDB_INSECURE", "sometimes")
	cmd := newServeCommand(&bytes.Buffer{}, &serveFlags{})
	require.NoError(t, cmd.ParseFlags(nil))

	err := bindEnv(cmd.Flags())
	require.ErrorContains(t, err, "IAMD_SPICEDB_INSECURE")
	require.NotContains(t, err.Error(), "sometimes")
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	root := newRootCommand(&out, &bytes.Buffer{})
	root.SetArgs([]string{"version"})
	require.NoError(t, root.Execute())
	require.Regexp(t, `^iamd \S+ \w+/\w+ go\S+\n$`, out.String())
}

// TestServeRefusesBadConfigBeforeStarting fails fast, before opening any
// engine, on a contradictory configuration.
func TestServeRefusesBadConfigBeforeStarting(t *testing.T) {
	root := newRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
	root.SetArgs([]string{"serve", "--log-format", "xml"})
	require.ErrorContains(t, root.Execute(), "--log-format")

	root = newRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
	root.SetArgs([]string{"serve", "--spicedb-token", "k"})
	require.ErrorContains(t, root.Execute(), "--spicedb-endpoint")

	root = newRootCommand(&bytes.Buffer{}, &bytes.Buffer{})
	root.SetArgs([]string{"serve", "--read-timeout", "-1s"})
	require.ErrorContains(t, root.Execute(), "--read-timeout")
}
