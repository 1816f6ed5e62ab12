package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

func TestTokenSigner(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer := &tokenSigner{key: bytes.Repeat([]byte("k"), 32), now: clock}
	other := &tokenSigner{key: bytes.Repeat([]byte("x"), 32), now: clock}

	token, expires := signer.mint("user:a@example.com", "ab1cd2", time.Hour)
	foreign, _ := other.mint("user:a@example.com", "ab1cd2", time.Hour)
	require.Equal(t, now.Add(time.Hour), expires)
	encode := base64.RawURLEncoding.EncodeToString
	resign := func(payload string) string {
		signed := tokenPrefix + encode([]byte(payload))
		return signed + "." + signer.sign(signed)
	}

	cases := []struct {
		name    string
		token   string
		at      time.Time
		subject string
		says    string
	}{
		{"valid", token, now, "user:a@example.com", ""},
		{"last second", token, expires.Add(-time.Second), "user:a@example.com", ""},
		{"expired", token, expires, "", "expired at 2026-05-01T13:00:00Z"},
		{"other key", foreign, now, "", "another signing key"},
		{"no prefix", strings.TrimPrefix(token, tokenPrefix), now, "", "malformed"},
		{"no signature", token[:strings.LastIndexByte(token, '.')], now, "", "malformed"},
		{"too long", token + strings.Repeat("a", maxTokenLength), now, "", "malformed"},
		{"payload not JSON", resign("not json"), now, "", "malformed"},
		{"no subject", resign(`{"org": "ab1cd2", "exp": 9999999999}`), now, "", "malformed"},
		{"no expiry", resign(`{"sub": "user:a@example.com", "org": "ab1cd2"}`),
			now, "", "malformed"},
		{"no organization", resign(`{"sub": "user:a@example.com", "exp": 9999999999}`),
			now, "", "names no organization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			claims, err := signer.verify(tc.token)
			if tc.says == "" {
				require.NoError(t, err)
				require.Equal(t, tc.subject, claims.Subject)
				require.Equal(t, "ab1cd2", claims.Org)
				return
			}
			require.True(t, iamerr.Is(err, iamerr.Unauthenticated), "%v", err)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

// TestConnectError maps every kind to its code in one place, and hides
// and logs what a client must not see.
func TestConnectError(t *testing.T) {
	var log bytes.Buffer
	h := &handler{log: slog.New(NewLogHandler(slog.NewTextHandler(&log, nil)))}
	ctx := iam.WithRequestID(context.Background(), "req-7")
	secret := errors.New("dial tcp 10.0.0.9:5432: password authentication failed")

	cases := []struct {
		err     error
		code    connect.Code
		message string
		logged  bool
	}{
		{iamerr.Invalid("policy_id", "A B", "bad ID", "use a-b"),
			connect.CodeInvalidArgument, `policy_id "A B": bad ID; use a-b`, false},
		{fmt.Errorf("wrapped: %w", iamerr.New(iamerr.NotFound, "no such policy", "list them")),
			connect.CodeNotFound, "no such policy; list them", false},
		{iamerr.New(iamerr.AlreadyExists, "exists", ""),
			connect.CodeAlreadyExists, "exists", false},
		{iamerr.New(iamerr.Conflict, "stale etag", "read again"),
			connect.CodeAborted, "stale etag; read again", false},
		{iamerr.New(iamerr.FailedPrecondition, "default", ""),
			connect.CodeFailedPrecondition, "default", false},
		{iamerr.New(iamerr.PermissionDenied, "no", ""),
			connect.CodePermissionDenied, "no", false},
		{iamerr.New(iamerr.Unauthenticated, "who", ""),
			connect.CodeUnauthenticated, "who", false},
		{iamerr.Wrap(iamerr.Unavailable, secret, "engine down", "retry"),
			connect.CodeUnavailable, "engine down; retry", true},
		{iamerr.Wrap(iamerr.Internal, secret, "write failed", ""),
			connect.CodeInternal, "internal error; report request ID req-7 to the operator", true},
		{secret, connect.CodeInternal,
			"internal error; report request ID req-7 to the operator", true},
		{fmt.Errorf("reading: %w", context.Canceled), connect.CodeCanceled,
			"the request was canceled", false},
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			log.Reset()
			err := h.connectError(ctx, "/iam.v1.IAMService/GetPolicy", tc.err)

			var ce *connect.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.code, ce.Code())
			require.Equal(t, tc.message, ce.Message())
			require.NotContains(t, ce.Message(), "10.0.0.9")
			require.Nil(t, errors.Unwrap(ce.Unwrap()), "no cause travels")

			if !tc.logged {
				require.Empty(t, log.String())
				return
			}
			require.Equal(t, 1, strings.Count(log.String(), "\n"), log.String())
			require.Contains(t, log.String(), "10.0.0.9")
			require.Contains(t, log.String(), "request_id=req-7")
		})
	}
}

func TestSaneRequestID(t *testing.T) {
	for id, sane := range map[string]bool{
		"abc":                      true,
		"01HZX-9.a_b":              true,
		"":                         false,
		"a b":                      false,
		"a:b":                      false,
		"a\nb":                     false,
		"ünicode":                  false,
		strings.Repeat("a", 64):    true,
		strings.Repeat("a", 65):    false,
		"user=x\" injected=\"true": false,
		tokenPrefix + "eyJzdWIi":   false,
		"IAMD1.eyJzdWIi":           false,
	} {
		require.Equal(t, sane, saneRequestID(id), "%q", id)
	}
}

// TestConnectErrorSanitizes makes every part of an error a client sees
// valid UTF-8 and bounded, so that its ErrorInfo always encodes, and
// spells fields as requests do.
func TestConnectErrorSanitizes(t *testing.T) {
	h := &handler{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()

	cases := []struct {
		name  string
		err   *iamerr.Error
		field string
		value string
	}{
		{"invalid bytes", iamerr.Invalid("name", "ab\xff\xfe", "bad", "fix"),
			"name", "ab\uFFFD"},
		{"cut inside a character",
			&iamerr.Error{Kind: iamerr.InvalidArgument, Field: "name",
				Value: "a" + strings.Repeat("é", 300)[:401], Problem: "long"},
			"name", "a" + strings.Repeat("é", 98) + "..."},
		{"long prose", &iamerr.Error{Kind: iamerr.NotFound,
			Problem: strings.Repeat("p", 5000), Fix: strings.Repeat("\xff", 5000)},
			"", ""},
		{"facade field", iamerr.Invalid("organization", "XYZ", "bad", "fix"),
			"organization_id", "XYZ"},
		{"facade field in a list", iamerr.Invalid("checks[3].organization", "XYZ",
			"bad", "fix"), "checks[3].organization_id", "XYZ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := h.connectError(ctx, "/iam.v1.IAMService/CreateGroup", tc.err)

			var ce *connect.Error
			require.ErrorAs(t, err, &ce)
			require.True(t, utf8.ValidString(ce.Message()))
			require.Len(t, ce.Details(), 1, "the ErrorInfo was dropped")
			v, derr := ce.Details()[0].Value()
			require.NoError(t, derr)
			md := v.(*errdetails.ErrorInfo).GetMetadata()
			require.Equal(t, tc.field, md["field"])
			require.Equal(t, tc.value, md["value"])
			for k, v := range md {
				require.True(t, utf8.ValidString(v), k)
				require.LessOrEqual(t, len(v), maxDetailProse, k)
			}
			if tc.field != "" {
				require.True(t, strings.HasPrefix(ce.Message(), tc.field+" "),
					ce.Message())
			}
		})
	}
}
