package principal_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// TestAttackInvisibleCharactersAreRefused names principals that render
// exactly like others: a zero-width space inside an email, a right-to-left
// override that shows "user-a@example.com" backwards, a BOM. Parse lets
// control characters out already; format characters (Unicode Cf) fool a
// reader the same way and must be refused too.
func TestAttackInvisibleCharactersAreRefused(t *testing.T) {
	cases := map[string]string{
		"zero-width space":       "user:user-a\u200b@example.com",
		"zero-width joiner":      "user:user-a\u200d@example.com",
		"right-to-left mark":     "user:user-a\u200f@example.com",
		"right-to-left override": "user:\u202emoc.elpmaxe@a-resu",
		"byte order mark":        "group:\ufeffengineering",
		"soft hyphen":            "serviceaccount:ci\u00adbot",
	}

	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := principal.Parse("principal", in)
			require.Error(t, err, "%q looks like another principal", in)
			require.True(t, iamerr.Is(err, iamerr.InvalidArgument))
		})
	}
}

// TestAttackTooLongValueStaysUTF8 sends an over-long ID of two-byte
// characters, so that cutting it at a byte count splits one. The error
// echoes the cut value; invalid UTF-8 there makes the API drop the
// error's ErrorInfo detail, which protobuf cannot marshal.
func TestAttackTooLongValueStaysUTF8(t *testing.T) {
	id := "a" + strings.Repeat("é", principal.MaxIDLength)

	_, err := principal.Parse("principal", "user:"+id)
	require.Error(t, err)

	var e *iamerr.Error
	require.True(t, errors.As(err, &e))
	require.True(t, utf8.ValidString(e.Value),
		"the echoed value %q is cut inside a character", e.Value)
}
