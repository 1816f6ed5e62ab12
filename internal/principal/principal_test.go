package principal_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/principal"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want principal.Principal
		err  string
	}{
		{in: "user:user-a@example.com", want: principal.Principal{Kind: principal.User, ID: "user-a@example.com"}},
		{in: "group:engineering", want: principal.Principal{Kind: principal.Group, ID: "engineering"}},
		{in: "serviceaccount:ci.bot", want: principal.Principal{Kind: principal.ServiceAccount, ID: "ci.bot"}},
		{in: "service_account:ci", want: principal.Principal{Kind: principal.ServiceAccount, ID: "ci"}},
		{in: "User:x", want: principal.Principal{Kind: principal.User, ID: "x"}},
		{in: "alice", err: "kind:id"},
		{in: "robot:x", err: "unknown principal kind"},
		{in: "user:", err: "empty"},
		{in: "user:a b", err: "white space"},
		{in: "user:a\x00", err: "control"},
		{in: "user:\xff", err: "UTF-8"},
		{in: "user:" + strings.Repeat("a", principal.MaxIDLength+1), err: "bytes long"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			p, err := principal.Parse("principal", tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.ErrorContains(t, err, "principal")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	cases := map[string]string{
		"user-a@example.com": "user-a=40example=2Ecom",
		"plain_ID-9":         "plain_ID-9",
		"a/b|c+d=e":          "a=2Fb=7Cc=2Bd=3De",
		"ünï":                "=C3=BCn=C3=AF",
	}
	for in, want := range cases {
		got := principal.EncodeID(in)
		require.Equal(t, want, got)
		back, err := principal.DecodeID(got)
		require.NoError(t, err)
		require.Equal(t, in, back)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, bad := range []string{"=", "=4", "=zz", "a@b", "=41"} {
		_, err := principal.DecodeID(bad)
		require.Error(t, err, bad)
	}
}

func FuzzEncodeRoundTrip(f *testing.F) {
	for _, s := range []string{"user-a@example.com", "", "=", "a/b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		enc := principal.EncodeID(id)
		require.NotContains(t, enc, "/")
		back, err := principal.DecodeID(enc)
		require.NoError(t, err)
		require.Equal(t, id, back)
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"user:a@b.c", "group:x", "sa:y", "nope", ":", "user:\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := principal.Parse("principal", s)
		if err != nil {
			return
		}
		again, err := principal.Parse("principal", p.String())
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}
