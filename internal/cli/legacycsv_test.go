package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseLegacyCSVAcceptsExports(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []legacyRow
	}{
		{
			name: "plain",
			data: "email,legacy_group\n" +
				"a@example.com,read\n" +
				"b@example.com,billing_viewer\n",
			want: []legacyRow{
				{Line: 2, Email: "a@example.com", Group: "read"},
				{Line: 3, Email: "b@example.com", Group: "billing_viewer"},
			},
		},
		{
			name: "columns swapped, header case, spaces, CRLF, BOM",
			data: "\ufeffLegacy_Group , Email\r\n" +
				" write , a@example.com \r\n",
			want: []legacyRow{
				{Line: 2, Email: "a@example.com", Group: "write"},
			},
		},
		{
			name: "one user in two groups, group spelled with a dash",
			data: "email,legacy_group\n" +
				"a@example.com,read\n" +
				"\n" +
				"a@example.com,billing-viewer\n",
			want: []legacyRow{
				{Line: 2, Email: "a@example.com", Group: "read"},
				{Line: 4, Email: "a@example.com", Group: "billing_viewer"},
			},
		},
		{
			name: "quoted cells",
			data: "email,legacy_group\n" +
				"\"a@example.com\",\"metrics\"\n",
			want: []legacyRow{
				{Line: 2, Email: "a@example.com", Group: "metrics"},
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := parseLegacyCSV("in.csv", []byte(tt.data))
			require.NoError(t, err)
			require.Equal(t, tt.want, rows)
		})
	}
}

func TestParseLegacyCSVNamesEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		data string

		// want lists the problems, in order, as printed.
		want []string
	}{
		{
			name: "empty file",
			data: "",
			want: []string{"line 1: the file is empty"},
		},
		{
			name: "header only",
			data: "email,legacy_group\n",
			want: []string{"line 2: the file has no rows after the header"},
		},
		{
			name: "no header",
			data: "a@example.com,read\n",
			want: []string{`line 1, column 1 (header) "a@example.com": ` +
				"the first line is a row, not the header"},
		},
		{
			name: "unknown column",
			data: "email,group\n",
			want: []string{`line 1, column 2 (header) "group": ` +
				"unknown column"},
		},
		{
			name: "missing column",
			data: "email\n",
			want: []string{"line 1: the header lacks the legacy_group column"},
		},
		{
			name: "column twice",
			data: "email,email,legacy_group\n",
			want: []string{`line 1, column 2 (header) "email": ` +
				"the column appears twice"},
		},
		{
			name: "every bad row of the file",
			data: "email,legacy_group\n" +
				"ok@example.com,read\n" +
				"not-an-email,read\n" +
				"c@example.com,wirte\n" +
				",admin\n" +
				"d@localhost,read\n" +
				"Eve <e@example.com>,read\n" +
				"user:f@example.com,read\n" +
				"ok@example.com,read\n" +
				"OK@example.com,write\n" +
				"g@example.com\n" +
				"h@example.com,read,extra\n",
			want: []string{
				`line 3, column 1 (email) "not-an-email": ` +
					"not an email address",
				`line 4, column 2 (legacy_group) "wirte": ` +
					`unknown legacy group; use one of admin, ` +
					`billing_viewer, metrics, read, write ` +
					`(did you mean "write"?)`,
				`line 5, column 1 (email) "": the email is empty`,
				`line 6, column 1 (email) "d@localhost": ` +
					"the domain localhost is not a full domain name",
				`line 7, column 1 (email) "Eve <e@example.com>": ` +
					"not an email address",
				`line 8, column 1 (email) "user:f@example.com": ` +
					"not an email address",
				`line 9, column 1 (email) "ok@example.com": ` +
					"duplicate of line 2 (legacy group read)",
				`line 10, column 1 (email) "OK@example.com": ` +
					`the same address as "ok@example.com" on line 2 ` +
					"in other letter case",
				"line 11: the row has 1 fields, the header 2",
				"line 12: the row has 3 fields, the header 2",
			},
		},
		{
			name: "broken quoting stops the reading",
			data: "email,legacy_group\n" +
				"a@example.com,read\n" +
				"\"b@example.com,read\n" +
				"c@example.com,read\n",
			want: []string{"line 3: extraneous or missing \" " +
				"in quoted-field (found at line 4, column 20)"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := parseLegacyCSV("in.csv", []byte(tt.data))
			require.Error(t, err)
			require.Nil(t, rows)

			var ie *importError
			require.ErrorAs(t, err, &ie)
			require.Len(t, ie.Problems, len(tt.want))
			for i, p := range ie.Problems {
				require.True(t,
					strings.HasPrefix(p.String(), tt.want[i]),
					"problem %d: %s", i, p.String())
			}

			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "in.csv: "), msg)
			require.Contains(t, msg, "nothing was written")
		})
	}
}

func TestParseLegacyCSVBoundsTheList(t *testing.T) {
	var b strings.Builder
	b.WriteString("email,legacy_group\n")
	for range maxProblems + 7 {
		b.WriteString("bad,read\n")
	}

	_, err := parseLegacyCSV("in.csv", []byte(b.String()))

	var ie *importError
	require.ErrorAs(t, err, &ie)
	require.Len(t, ie.Problems, maxProblems)
	require.Equal(t, 7, ie.More)
	require.Contains(t, err.Error(), "32 problems")
	require.Contains(t, err.Error(), "... and 7 more")
}

func TestCheckEmail(t *testing.T) {
	tests := []struct {
		email string
		ok    bool
	}{
		{"first.last@c0ffee-gpu.example", true},
		{"a+tag@sub.example.com", true},
		{"a@example.com.", false},
		{"a@@example.com", false},
		{"@example.com", false},
		{"a@", false},
		{"a b@example.com", false},
		{"<a@example.com>", false},
		{"a@example.com, b@example.com", false},
		{strings.Repeat("a", 260) + "@example.com", false},
	}

	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			problem, fix := checkEmail(tt.email)
			if tt.ok {
				require.Empty(t, problem)
				return
			}
			require.NotEmpty(t, problem)
			require.NotEmpty(t, fix)
		})
	}
}
