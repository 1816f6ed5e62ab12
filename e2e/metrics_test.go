package e2e

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseMetrics(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		want    []Sample
		wantErr string
	}{
		{
			name: "comments and a bare sample",
			text: "# HELP up Whether up.\n# TYPE up gauge\nup 1\n",
			want: []Sample{{
				Name:   "up",
				Labels: map[string]string{},
				Value:  1,
			}},
		},
		{
			name: "labels, timestamp and escapes",
			text: `calls_total{method="Check",note="a \"b\", c\\d\n"} 3.5 1700000000` + "\n",
			want: []Sample{{
				Name: "calls_total",
				Labels: map[string]string{
					"method": "Check",
					"note":   "a \"b\", c\\d\n",
				},
				Value: 3.5,
			}},
		},
		{
			name: "infinity",
			text: "le_inf +Inf\n",
			want: []Sample{{
				Name:   "le_inf",
				Labels: map[string]string{},
				Value:  math.Inf(1),
			}},
		},
		{
			name:    "no value",
			text:    "lonely\n",
			wantErr: "no value",
		},
		{
			name:    "unterminated label value",
			text:    `x{a="b} 1` + "\n",
			wantErr: "unterminated",
		},
		{
			name:    "value is not a number",
			text:    "x one\n",
			wantErr: "value",
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMetrics(strings.NewReader(tc.text))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}

			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSumSamples(t *testing.T) {
	samples := []Sample{
		{Name: "handled", Value: 2, Labels: map[string]string{
			"service": "dispatch", "method": "Check"}},
		{Name: "handled", Value: 3, Labels: map[string]string{
			"service": "dispatch", "method": "Lookup"}},
		{Name: "handled", Value: 7, Labels: map[string]string{
			"service": "api", "method": "Check"}},
		{Name: "other", Value: 100, Labels: map[string]string{
			"service": "dispatch"}},
	}

	cases := []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{name: "every sample of the name", want: 12},
		{name: "one label", want: 5,
			match: map[string]string{"service": "dispatch"}},
		{name: "two labels", want: 7, match: map[string]string{
			"service": "api", "method": "Check"}},
		{name: "no match", want: 0,
			match: map[string]string{"service": "none"}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := SumSamples(samples, "handled", tc.match)
			require.Equal(t, tc.want, got)
		})
	}
}
