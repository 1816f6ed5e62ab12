package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/bootstrap"
)

// TestApplyRefusesTooLargeFilesBeforeCalling: iamctl repeats the
// server's limit on organization files, so that a file the server would
// refuse fails before any call. The two limits must stay equal.
func TestApplyRefusesTooLargeFilesBeforeCalling(t *testing.T) {
	require.Equal(t, bootstrap.MaxDocumentSize, maxDocumentBytes)

	var stdout, stderr bytes.Buffer
	huge := strings.Repeat("#", maxDocumentBytes+1)
	code := Run(t.Context(), []string{"apply", "-f", "-"}, Env{
		Stdin:  strings.NewReader(huge),
		Stdout: &stdout,
		Stderr: &stderr,
		// Nothing listens there: a call would fail as unavailable.
		Getenv: func(name string) string {
			if name == EnvServer {
				return "http://127.0.0.1:1"
			}
			return ""
		},
	})

	require.Equal(t, ExitError, code)
	require.Empty(t, stdout.String())
	require.Equal(t, "iamctl: --file \"-\": larger than 4 MiB; "+
		"split it into several files\n", stderr.String())
}
